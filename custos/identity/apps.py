from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "custos.identity"
    label = "identity"
    verbose_name = "identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from custos.checks import sources
        from custos.identity.services import conflicts

        sources.register(conflicts.source)
