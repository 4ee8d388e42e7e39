from django.apps import AppConfig


class DisciplineConfig(AppConfig):
    name = "custos.discipline"
    label = "discipline"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "discipline"

    def ready(self) -> None:
        from custos.crypto import registry
        from custos.discipline.services import appeals

        registry.sealed_files("appeal files", appeals.reseal_files)
