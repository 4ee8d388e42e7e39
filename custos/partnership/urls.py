from django.urls import path

from custos.partnership import views

urlpatterns = [
    path("", views.campaigns, name="partnership-campaigns"),
    path("campaigns/<int:pk>/", views.campaign, name="partnership-campaign"),
    path("letters/draft/", views.letters_draft, name="partnership-letters-draft"),
    path("letters/<int:pk>/", views.letter, name="partnership-letter"),
    path("letters/<int:pk>/pdf/", views.letter_pdf, name="partnership-letter-pdf"),
    path("letters/step/", views.letter_step, name="partnership-letter-step"),
    path("recommendations/", views.recommendations, name="partnership-recommendations"),
    path("recommendations/<int:pk>/", views.recommendation, name="partnership-recommendation"),
    path("recommendations/review/", views.review, name="partnership-review"),
    path("recommendations/opinion/", views.opinion, name="partnership-opinion"),
    path("recommendations/decide/", views.decide, name="partnership-decide"),
    path("mine/", views.mine, name="partnership-mine"),
]
