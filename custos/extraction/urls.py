from django.urls import path

from custos.extraction import views

urlpatterns = [
    path("", views.mine, name="extractions"),
    path("new/", views.new, name="extraction-new"),
    path("approvals/", views.approvals, name="extraction-approvals"),
    path("all/", views.all_extractions, name="extraction-all"),
    path("trace/", views.trace, name="extraction-trace"),
    path("<int:pk>/", views.detail, name="extraction"),
    path("<int:pk>/download/", views.download, name="extraction-download"),
    path("<int:pk>/<str:action>/", views.act, name="extraction-act"),
]
