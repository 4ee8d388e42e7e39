from django.urls import path

from custos.extraction import views

urlpatterns = [
    path("", views.mine, name="extractions"),
    path("new/", views.new, name="extraction-new"),
    path("approvals/", views.approvals, name="extraction-approvals"),
    path("all/", views.all_extractions, name="extraction-all"),
    path("trace/", views.trace, name="extraction-trace"),
    path("trace/<int:pk>/", views.trace_detail, name="extraction-trace-detail"),
    path("trace/<int:pk>/status/", views.trace_status, name="extraction-trace-status"),
    path("<int:pk>/", views.detail, name="extraction"),
    path("<int:pk>/download/", views.download, name="extraction-download"),
    path("<int:pk>/<str:action>/", views.act, name="extraction-act"),
]
