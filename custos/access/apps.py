from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "custos.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from custos.access import signals  # noqa: F401  (connects the sign-in audit receivers)

        watch_who_may_see_what()


def watch_who_may_see_what() -> None:
    """Every change of who may see what reaches the tamper-evident log (custos.audit.record.watch):
    users, their profiles (role and scope), API tokens and screening keys — whoever saves them
    (admin, commands, services, the shell)."""
    from django.contrib.auth import get_user_model

    from custos.access.models import Profile
    from custos.api.models import ApiToken
    from custos.audit.record import watch
    from custos.screening.models import Client

    watch(
        get_user_model(),
        "user",
        exclude=("last_login",),
        redact=("password",),
        verbs=[("is_active", True, False, "deactivated"), ("is_active", False, True, "reactivated")],
    )
    watch(Profile, "profile")
    watch(
        ApiToken,
        "token",
        exclude=("last_used_at",),
        redact=("digest",),
        verbs=[("revoked", False, True, "revoked")],
    )
    watch(Client, "screening_key", redact=("digest",), verbs=[("active", True, False, "revoked")])
