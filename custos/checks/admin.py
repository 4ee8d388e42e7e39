"""Django admin: check runs and findings, read-only (findings change only by check runs). A finding's
value is shown masked, never raw: the admin is not a way around the access service."""

from django.contrib import admin

from custos.checks.models import CheckRun, Finding
from custos.checks.services import display_value


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CheckRun)
class CheckRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "load",
        "engine",
        "status",
        "started_at",
        "duration_seconds",
        "policies_checked",
        "findings_opened",
        "findings_kept",
        "findings_closed",
        "findings_open",
    )
    list_filter = ("status", "engine")
    exclude = ("settings",)
    readonly_fields = ("settings_fingerprint",)


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "check_code",
        "policy_no",
        "role",
        "seq",
        "field",
        "category",
        "severity",
        "status",
        "masked_value",
        "channel",
        "branch_code",
        "opened_run",
        "closed_run",
    )
    list_filter = ("status", "category", "severity", "check_code", "channel")
    search_fields = ("policy_no", "agent_no", "partner_code", "branch_code")
    exclude = ("value", "proposed")
    readonly_fields = ("masked_value", "masked_proposed")
    list_select_related = ("opened_run", "closed_run")
    show_full_result_count = False

    @admin.display(description="value (masked)")
    def masked_value(self, obj):
        return display_value(obj.field, obj.value)

    @admin.display(description="proposed (masked)")
    def masked_proposed(self, obj):
        return display_value(obj.field, obj.proposed)
