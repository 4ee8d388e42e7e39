from django.apps import AppConfig


class ExtractionConfig(AppConfig):
    name = "custos.extraction"
    label = "extraction"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "extractions"
