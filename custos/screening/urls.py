from django.urls import path

from custos.screening import views

urlpatterns = [
    path("", views.dashboard, name="screening-dashboard"),
    path("<int:pk>/", views.detail, name="screening"),
]
