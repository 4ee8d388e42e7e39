from django.apps import AppConfig


class TracingConfig(AppConfig):
    """Leak tracing of the watch capability (docs/watch.md, "Leak tracing"): its own app label so
    that its leak cases migrate independently of the access history's tables."""

    name = "custos.watch.tracing"
    label = "watch_tracing"
    default_auto_field = "django.db.models.BigAutoField"
