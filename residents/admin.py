"""Django admin: residents are read-only here; they change only through services, which keep
history and write the audit trail (R-RES-5, R-SEC-4)."""

from django.contrib import admin

from .models import Resident, ResidentDocument


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    list_display = ("full_name", "home", "unit", "room", "status", "allergy_status")
    list_filter = ("home", "status", "allergy_status")
    search_fields = ("full_name", "nhs_number")
    exclude = ("photo",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ResidentDocument)
class ResidentDocumentAdmin(admin.ModelAdmin):
    """Read-only: documents are uploaded and withdrawn on the resident's screens (R-RES-7); the
    file is opened only through the permission-checked view, never from the admin."""

    list_display = ("title", "kind", "resident", "content_type", "size", "uploaded_at")
    list_filter = ("kind",)
    search_fields = ("title", "resident__full_name")
    exclude = ("file",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
