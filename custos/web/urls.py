from django.contrib.auth import views as auth_views
from django.urls import path

from custos.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("loads/new/", views.upload, name="upload"),
    path("loads/<int:pk>/", views.load_detail, name="load"),
    path("loads/<int:pk>/status/", views.load_status, name="load-status"),
    path("parties/", views.party_lookup, name="party-lookup"),
]
