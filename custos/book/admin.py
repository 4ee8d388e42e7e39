"""Admin for the book: loads and organisation only.

Parties, staff, changes and visits hold personal information, which is read only through
custos.access (scope, masking, audit log); they are deliberately not registered here.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from custos.book.load_errors import shown_errors
from custos.book.models import BookLoad, Branch, Partner
from custos.web.adminkit import code_filter, columns, titled


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BookLoad)
class BookLoadAdmin(ReadOnly):
    list_display = columns(
        "id",
        ("source_name", _("文件")),
        ("mode", _("方式")),
        ("status", _("状态")),
        ("error_count", _("错误数")),
        ("progress", _("进度（%）")),
        ("created_at", _("上传时间")),
        ("finished_at", _("完成时间")),
    )
    list_filter = (titled("status", _("状态")), titled("mode", _("方式")))
    search_fields = ("source_name", "sha256")
    exclude = ("errors", "warnings")
    readonly_fields = ("error_list",)

    @admin.display(description=_("错误"))
    def error_list(self, obj):
        # masked like the load page: the full text is the audited error report (custos.book.load_errors)
        shown = shown_errors(obj)[:200]
        return "\n".join(f"{e['file']}:{e['row']}:{e['column']}: {e['message']}" for e in shown)


@admin.register(Branch)
class BranchAdmin(ReadOnly):
    list_display = columns(
        ("branch_code", _("机构代码")),
        ("name", _("名称")),
        ("level", _("级别"), "code:branch_level"),
        ("parent_code", _("上级机构"), "branch"),
        ("gone_load", _("消失于加载")),
    )
    search_fields = ("branch_code", "name")
    list_filter = (code_filter("level", _("级别"), "branch_level"),)


@admin.register(Partner)
class PartnerAdmin(ReadOnly):
    list_display = columns(
        ("partner_code", _("合作机构代码")),
        ("name", _("名称")),
        ("kind", _("类型"), "code:partner_kind"),
        ("branch_code", _("机构"), "branch"),
        ("status", _("状态"), "code:partner_status"),
        ("gone_load", _("消失于加载")),
    )
    search_fields = ("partner_code", "name")
    list_filter = (
        code_filter("kind", _("类型"), "partner_kind"),
        code_filter("status", _("状态"), "partner_status"),
    )
