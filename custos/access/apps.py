from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "custos.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from custos.access import signals  # noqa: F401  (connects the sign-in audit receivers)
