from django.apps import AppConfig


class PartnershipConfig(AppConfig):
    name = "custos.partnership"
    label = "partnership"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from custos.access.capabilities import register_scope
        from custos.partnership.models import Letter, Recommendation
        from custos.partnership.scope import partner_scope

        register_scope(Letter, partner_scope)
        register_scope(Recommendation, partner_scope)
