"""Extractions in the admin: read-only (every change goes through the service, which records and audits
it). The manifest and sealed canary values are not shown."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from custos.extraction.models import Extraction, ExtractionEvent
from custos.web.adminkit import columns, titled


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
    list_display = columns(
        "id",
        ("state", _("状态")),
        ("created_at", _("申请时间")),
        ("requester", _("申请人")),
        ("approver", _("审批人")),
        ("recipient_label", _("接收人"), "nosort"),
        ("row_count", _("行数")),
        ("canary_count", _("追踪标记行")),
    )
    list_filter = (titled("state", _("状态")), titled("file_format", _("文件格式")))
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
