"""Admin for the book: loads and organisation only.

Parties, staff, changes and visits hold personal information, which is read only through
custos.access (scope, masking, audit log); they are deliberately not registered here.
"""

from django.contrib import admin

from custos.book.load_errors import shown_errors
from custos.book.models import BookLoad, Branch, Partner


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BookLoad)
class BookLoadAdmin(ReadOnly):
    list_display = (
        "id",
        "source_name",
        "mode",
        "status",
        "error_count",
        "progress",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "mode")
    search_fields = ("source_name", "sha256")
    exclude = ("errors", "warnings")
    readonly_fields = ("error_list",)

    @admin.display(description="errors")
    def error_list(self, obj):
        # masked like the load page: the full text is the audited error report (custos.book.load_errors)
        shown = shown_errors(obj)[:200]
        return "\n".join(f"{e['file']}:{e['row']}:{e['column']}: {e['message']}" for e in shown)


@admin.register(Branch)
class BranchAdmin(ReadOnly):
    list_display = ("branch_code", "name", "level", "parent_code", "gone_load")
    search_fields = ("branch_code", "name")
    list_filter = ("level",)


@admin.register(Partner)
class PartnerAdmin(ReadOnly):
    list_display = ("partner_code", "name", "kind", "branch_code", "status", "gone_load")
    search_fields = ("partner_code", "name")
    list_filter = ("kind", "status")
