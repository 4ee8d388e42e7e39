from django.apps import AppConfig


class RemediationConfig(AppConfig):
    name = "custos.remediation"
    label = "remediation"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "remediation"

    def ready(self) -> None:
        from custos.crypto import registry
        from custos.remediation import sealing, signals  # noqa: F401  (signals: the sync after each check run)

        registry.sealed_columns(sealing.sealed_columns)
        registry.sealed_files("evidence", sealing.reseal_evidence)
