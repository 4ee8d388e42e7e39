from django.urls import path

from custos.integrity import views

urlpatterns = [
    path("", views.runs, name="integrity-runs"),
]
