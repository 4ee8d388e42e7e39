from django.urls import path

from custos.report import views

urlpatterns = [
    path("", views.summary, name="report-summary"),
    path("summary.<str:fmt>", views.download, name="report-download"),
]
