from django.urls import path

from custos.discipline import views

urlpatterns = [
    path("", views.register, name="discipline-register"),
    path("propose/", views.propose_facts, name="discipline-propose-facts"),
    path("new/", views.new, name="discipline-new"),
    path("mine/", views.mine, name="discipline-mine"),
    path("cases/<int:pk>/", views.case, name="discipline-case"),
    path("cases/<int:pk>/appeal-file/", views.appeal_file, name="discipline-appeal-file"),
    path("fines/", views.fines_page, name="discipline-fines"),
    path("fines/paid/", views.fines_paid, name="discipline-fines-paid"),
    path("fines/<str:month>.<str:fmt>", views.fines_export, name="discipline-fines-export"),
    path("nominations/", views.nominations, name="discipline-nominations"),
    path("nominations/<int:pk>/approve/", views.nomination_approve, name="discipline-nomination-approve"),
]
