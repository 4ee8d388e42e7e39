from django.apps import AppConfig


class ExtractionConfig(AppConfig):
    name = "custos.extraction"
    label = "extraction"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "extractions"

    def ready(self) -> None:
        from custos.crypto import registry
        from custos.extraction import sealing

        registry.sealed_columns(sealing.sealed_columns)
        registry.key_users("extraction files", sealing.file_keys)
