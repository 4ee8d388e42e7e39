from django.apps import AppConfig


class BlacklistConfig(AppConfig):
    name = "custos.blacklist"
    label = "blacklist"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from custos.blacklist.services import member

        member.connect()
