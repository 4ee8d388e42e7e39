from django.urls import path

from custos.watch import views

urlpatterns = [
    path("", views.queue, name="watch-queue"),
    path("staff/<str:staff_no>/<str:day>/", views.staff_day, name="watch-staff"),
]
