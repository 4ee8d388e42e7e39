from django.apps import AppConfig


class IntegrityConfig(AppConfig):
    name = "custos.integrity"
    label = "integrity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from custos.crypto import indexkey
        from custos.integrity import rows

        # the tags cover the blind indexes: a replaced index key re-tags every row, but those
        # that already failed (a re-tagging never blesses a row changed behind custos's back)
        indexkey.on_rebuild(rows.failing_by_model, rows.retag_all_but)
