from django.apps import AppConfig


class BlacklistConfig(AppConfig):
    name = "custos.blacklist"
    label = "blacklist"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from custos.blacklist.middleware import mark_session
        from custos.blacklist.services import member

        member.connect()
        user_logged_in.connect(mark_session, dispatch_uid="custos.blacklist.mark_session")
