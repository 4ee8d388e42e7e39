"""Django admin: users with their custos profile, API tokens, and staff as read-only reference data
(personal fields of staff are not shown). Branches, partners and loads: custos.book.admin.

Every change of a user, profile or token is recorded in the tamper-evident log by the models' signals
(custos.access.apps.watch_who_may_see_what); AuditedAdminMixin names the signed-in admin as its actor."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from custos.access.models import Profile
from custos.api.models import ApiToken
from custos.audit.record import AuditedAdminMixin
from custos.book.models import Staff
from custos.web.adminkit import code_filter, columns, name_the_admin, titled

name_the_admin(admin.site)


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    extra = 0
    max_num = 1


class CustosUserAdmin(AuditedAdminMixin, UserAdmin):
    inlines = [ProfileInline]
    list_display = ("username", "role", "is_active", "is_staff", "last_login")

    @admin.display(description=_("角色"))
    def role(self, obj):
        profile = Profile.objects.filter(user=obj).first()
        return profile.get_role_display() if profile else "—"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, CustosUserAdmin)


@admin.register(Profile)
class ProfileAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = columns(
        ("user", _("用户")),
        ("role", _("角色")),
        ("staff_no", _("员工工号")),
        ("branch_code", _("机构"), "branch"),
        ("channel", _("渠道"), "code:channel"),
        ("partner_code", _("合作机构代码")),
    )
    list_filter = (titled("role", _("角色")), code_filter("channel", _("渠道"), "channel"))
    search_fields = ("user__username", "staff_no", "branch_code", "partner_code")


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = columns(
        ("prefix", _("前缀")),
        ("user", _("用户")),
        ("name", _("名称")),
        ("created_at", _("创建时间")),
        ("last_used_at", _("最近使用")),
        ("revoked", _("已吊销"), "bool"),
    )
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request):  # tokens are created by `custos token create` (shown once)
        return False


class StaffAdmin(admin.ModelAdmin):
    """Staff as reference data (who works where, in which channel and position, since and until when).
    Their ID number, mobile and address are personal data and are not shown here."""

    list_display = columns(
        ("staff_no", _("员工工号")),
        ("name", _("姓名")),
        ("branch_code", _("机构"), "branch"),
        ("channel", _("渠道"), "code:channel"),
        ("position", _("岗位"), "code:position"),
        ("left_on", _("离职日期")),
    )
    list_filter = (
        code_filter("position", _("岗位"), "position"),
        code_filter("channel", _("渠道"), "channel"),
    )
    search_fields = ("staff_no", "branch_code")
    fields = (
        "staff_no",
        "name",
        "branch_code",
        "channel",
        "position",
        "supervisor_no",
        "hired_on",
        "left_on",
    )

    def has_add_permission(self, request):  # the book is loaded from the core systems, not edited here
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Branches, partners and loads are registered by custos.book.admin.
if not admin.site.is_registered(Staff):
    admin.site.register(Staff, StaffAdmin)
