from django.urls import path

from custos.api.api import api

urlpatterns = [path("", api.urls)]
