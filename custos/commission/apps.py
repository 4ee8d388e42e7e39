from django.apps import AppConfig


class CommissionConfig(AppConfig):
    name = "custos.commission"
    label = "commission"
    default_auto_field = "django.db.models.BigAutoField"
