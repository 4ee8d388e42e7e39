"""Extractions in the admin: read-only (every change goes through the service, which records and audits
it). The manifest and sealed canary values are not shown."""

from django.contrib import admin

from custos.extraction.models import Extraction, ExtractionEvent


class EventInline(admin.TabularInline):
    model = ExtractionEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "actor_name", "from_state", "to_state", "note")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Extraction)
class ExtractionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "state",
        "created_at",
        "requester",
        "approver",
        "recipient_label",
        "row_count",
        "canary_count",
    )
    list_filter = ("state", "file_format")
    search_fields = ("purpose", "requester__username", "recipient_name", "recipient_org")
    exclude = ("manifest", "nonce")
    inlines = [EventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in ("manifest", "nonce")]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
