from django.contrib import admin

from .models import AccessLog, Audit, ChecklistQuestion, Incident


@admin.register(ChecklistQuestion)
class ChecklistQuestionAdmin(admin.ModelAdmin):
    list_display = ("code", "section", "text", "sort_order", "active")
    list_filter = ("section", "active")


@admin.register(Audit)
class AuditAdmin(admin.ModelAdmin):
    """Read-only: audits change through the services only (signing locks them)."""

    list_display = ("home", "month", "status", "score", "rag", "signed_by", "signed_at")
    list_filter = ("status", "home")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("reference", "home", "kind", "type", "harm", "occurred_at")
    list_filter = ("home", "kind", "harm")

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    list_display = ("at", "home", "user", "role", "action", "what")
    list_filter = ("home", "role", "action")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
