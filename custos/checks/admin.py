"""Django admin: check runs and findings, read-only (findings change only by check runs). A finding's
value is shown masked, never raw: the admin is not a way around the access service."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from custos.checks.models import CheckRun, Finding
from custos.checks.services import display_value
from custos.web.adminkit import code_filter, columns, titled


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CheckRun)
class CheckRunAdmin(ReadOnlyAdmin):
    list_display = columns(
        "id",
        ("load", _("数据册加载")),
        ("engine", _("引擎")),
        ("status", _("状态")),
        ("started_at", _("开始时间")),
        ("duration_seconds", _("耗时（秒）")),
        ("policies_checked", _("校验保单数")),
        ("findings_opened", _("新发现")),
        ("findings_kept", _("仍存在")),
        ("findings_closed", _("已关闭")),
        ("findings_open", _("未关闭")),
    )
    list_filter = (titled("status", _("状态")), titled("engine", _("引擎")))
    exclude = ("settings",)
    readonly_fields = ("settings_fingerprint",)


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = columns(
        "id",
        ("check_code", _("规则")),
        ("policy_no", _("保单号")),
        ("role", _("角色"), "role"),
        ("seq", _("序号")),
        ("field", _("字段"), "field"),
        ("category", _("类别")),
        ("severity", _("严重程度")),
        ("status", _("状态")),
        "masked_value",
        ("channel", _("渠道"), "code:channel"),
        ("branch_code", _("机构"), "branch"),
        ("opened_run", _("发现于")),
        ("closed_run", _("关闭于")),
    )
    list_filter = (
        titled("status", _("状态")),
        titled("category", _("类别")),
        titled("severity", _("严重程度")),
        titled("check_code", _("规则")),
        code_filter("channel", _("渠道"), "channel"),
    )
    search_fields = ("policy_no", "agent_no", "partner_code", "branch_code")
    exclude = ("value", "proposed")
    readonly_fields = ("masked_value", "masked_proposed")
    list_select_related = ("opened_run", "closed_run")
    show_full_result_count = False

    @admin.display(description=_("取值（已脱敏）"))
    def masked_value(self, obj):
        return display_value(obj.field, obj.value)

    @admin.display(description=_("建议值（已脱敏）"))
    def masked_proposed(self, obj):
        return display_value(obj.field, obj.proposed)
