from django.contrib import admin

from .models import AccessLog, Audit, ChecklistQuestion, Incident


@admin.register(ChecklistQuestion)
class ChecklistQuestionAdmin(admin.ModelAdmin):
    list_display = ("code", "section", "text", "sort_order", "active")
    list_filter = ("section", "active")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records are written by the services only, never added, edited or deleted here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Audit)
class AuditAdmin(ReadOnlyAdmin):
    """Audits change through the services only (signing locks them)."""

    list_display = ("home", "month", "status", "score", "rag", "signed_by", "signed_at")
    list_filter = ("status", "home")


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Incidents are reported through the service, which suspends competencies (R-AUD-5)."""

    list_display = ("reference", "home", "kind", "type", "harm", "occurred_at")
    list_filter = ("home", "kind", "harm")


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    """What inspectors opened (R-INS-1): evidence, so never edited."""

    list_display = ("at", "home", "user", "role", "action", "what")
    list_filter = ("home", "role", "action")
