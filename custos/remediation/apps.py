from django.apps import AppConfig


class RemediationConfig(AppConfig):
    name = "custos.remediation"
    label = "remediation"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "remediation"

    def ready(self) -> None:
        from custos.remediation import signals  # noqa: F401  (connects the sync after each check run)
