from django.apps import AppConfig


class BookConfig(AppConfig):
    name = "custos.book"
    label = "book"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from custos.book import sealing
        from custos.crypto import registry

        registry.sealed_columns(sealing.sealed_columns)
