from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import (
    AuditEvent,
    CareHome,
    Membership,
    NonAdministrationCode,
    Provider,
    Round,
    Unit,
    User,
)


@admin.register(User)
class EmarUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("eMAR", {"fields": ("display_name", "initials", "admin_of")}),
    )
    list_display = ("username", "display_name", "email", "admin_of", "is_active")


class UnitInline(admin.TabularInline):
    model = Unit
    extra = 0


class RoundInline(admin.TabularInline):
    model = Round
    extra = 0


class CodeInline(admin.TabularInline):
    model = NonAdministrationCode
    extra = 0


@admin.register(CareHome)
class CareHomeAdmin(admin.ModelAdmin):
    list_display = ("name", "provider", "timezone", "dose_window_minutes")
    inlines = [UnitInline, RoundInline, CodeInline]


admin.site.register(Provider)
admin.site.register(Membership)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only (R-SEC-4)."""

    list_display = ("home", "seq", "at", "actor", "action", "object_type", "object_id")
    list_filter = ("home",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
