from django.urls import path

from custos.checks import views

urlpatterns = [
    path("", views.dashboard, name="findings-dashboard"),
    path("export.xlsx", views.dashboard_export, name="findings-export"),
    path("list/", views.finding_list, name="findings-list"),
    path("<int:pk>/", views.finding_detail, name="finding"),
]
