"""Django admin: users with their custos profile, and the book's reference data (read-only: the book
is loaded from the core systems, never edited here). Personal fields of staff are not shown."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from custos.access.models import Profile
from custos.api.models import ApiToken
from custos.book.models import Branch, Partner, Staff


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    extra = 0
    max_num = 1


class CustosUserAdmin(UserAdmin):
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
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "staff_no", "branch_code", "channel", "partner_code")
    list_filter = ("role", "channel")
    search_fields = ("user__username", "staff_no", "branch_code", "partner_code")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request):  # tokens are created by `custos token create` (shown once)
        return False


class ReadOnlyBookAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Branch)
class BranchAdmin(ReadOnlyBookAdmin):
    list_display = ("branch_code", "name", "level", "parent_code", "path")
    list_filter = ("level",)
    search_fields = ("branch_code", "name")
    fields = ("branch_code", "name", "parent_code", "level", "address", "phone", "path")


@admin.register(Staff)
class StaffAdmin(ReadOnlyBookAdmin):
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


@admin.register(Partner)
class PartnerAdmin(ReadOnlyBookAdmin):
    list_display = ("partner_code", "name", "kind", "branch_code", "status", "contract_until")
    list_filter = ("kind", "status")
    search_fields = ("partner_code", "name")
    fields = (
        "partner_code", "name", "kind", "branch_code", "address", "phone", "contract_no", "contract_until",
        "status",
    )  # fmt: skip
