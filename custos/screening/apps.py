from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "custos.screening"
    label = "screening"
    verbose_name = "Online screening"

    def ready(self):
        from custos.screening import signals  # noqa: F401
