from django.urls import path

from custos.remediation import views

app_name = "remediation"

urlpatterns = [
    path("", views.my_tasks, name="mine"),
    path("team/", views.team_tasks, name="team"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
    path("tasks/<int:pk>/attempts/", views.add_attempt, name="attempt"),
    path("tasks/<int:pk>/corrections/", views.propose, name="propose"),
    path("tasks/<int:pk>/corrections/<int:cid>/review/", views.review, name="review"),
    path("tasks/<int:pk>/corrections/<int:cid>/evidence/", views.evidence, name="evidence"),
    path("tasks/<int:pk>/verify/", views.verify, name="verify"),
    path("tasks/<int:pk>/close/", views.close, name="close"),
    path("assign/", views.assign, name="assign"),
    path("letters/", views.letters, name="letters"),
    path("letters/<int:pk>/", views.letter_batch, name="letter-batch"),
    path("samples/", views.samples, name="samples"),
    path("samples/<int:pk>/", views.sample_result, name="sample-result"),
    path("progress/", views.progress, name="progress"),
    path("progress.xlsx", views.progress_export, name="progress-export"),
]
