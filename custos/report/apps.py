from django.apps import AppConfig


class ReportConfig(AppConfig):
    name = "custos.report"
    label = "report"
    default_auto_field = "django.db.models.BigAutoField"
