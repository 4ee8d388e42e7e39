from django.urls import path

from custos.blacklist import views

urlpatterns = [
    path("", views.hits, name="blacklist-hits"),
]
