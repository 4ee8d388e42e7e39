"""Django admin: users with their custos profile, API tokens, and staff as read-only reference data
(personal fields of staff are not shown). Branches, partners and loads: custos.book.admin.

Every change of a user, profile or token is recorded in the tamper-evident log by the models' signals
(custos.access.apps.watch_who_may_see_what); AuditedAdminMixin names the signed-in admin as its actor."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from custos.access.models import Profile
from custos.api.models import ApiToken
from custos.audit.record import AuditedAdminMixin
from custos.book.models import Staff


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    extra = 0
    max_num = 1


class CustosUserAdmin(AuditedAdminMixin, UserAdmin):
    inlines = [ProfileInline]
    list_display = ("username", "role", "is_active", "is_staff", "last_login")

    @admin.display(description="role")
    def role(self, obj):
        profile = Profile.objects.filter(user=obj).first()
        return profile.get_role_display() if profile else "—"


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, CustosUserAdmin)


@admin.register(Profile)
class ProfileAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "role", "staff_no", "branch_code", "channel", "partner_code")
    list_filter = ("role", "channel")
    search_fields = ("user__username", "staff_no", "branch_code", "partner_code")


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request):  # tokens are created by `custos token create` (shown once)
        return False


class StaffAdmin(admin.ModelAdmin):
    """Staff as reference data (who works where, in which channel and position, since and until when).
    Their ID number, mobile and address are personal data and are not shown here."""

    list_display = ("staff_no", "name", "branch_code", "channel", "position", "left_on")
    list_filter = ("position", "channel")
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
