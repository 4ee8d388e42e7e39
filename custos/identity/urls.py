from django.urls import path

from custos.identity import views

app_name = "identity"

urlpatterns = [
    path("", views.person_list, name="persons"),
    path("review/", views.review_queue, name="review"),
    path("review/<int:pk>/", views.decide, name="decide"),
    path("<str:pk>/", views.person_detail, name="person"),
]
