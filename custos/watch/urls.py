from django.urls import path

from custos.watch import trace_views, views

urlpatterns = [
    path("", views.queue, name="watch-queue"),
    path("staff/<str:staff_no>/<str:day>/", views.staff_day, name="watch-staff"),
    path("trace/", trace_views.cases, name="watch-trace"),
    path("trace/<int:pk>/", trace_views.case_detail, name="watch-trace-case"),
    path("trace/<int:pk>/pdf/", trace_views.case_pdf, name="watch-trace-pdf"),
]
