from django.urls import path

from custos.commission import views

urlpatterns = [
    path("", views.runs, name="commission-runs"),
    path("settle/", views.settle, name="commission-settle"),
    path("runs/<int:pk>/", views.run_detail, name="commission-run"),
    path("runs/<int:pk>/approve/", views.approve, name="commission-approve"),
    path("export/<str:month>.<str:fmt>", views.export, name="commission-export"),
    path("statements/<int:pk>/", views.statement, name="commission-statement"),
    path("mine/", views.mine, name="commission-mine"),
]
