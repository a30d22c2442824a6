"""Django admin: the catalogue is edited here (provider admins); clinical records are read-only
(they change only through services, which write the audit trail)."""

from django.contrib import admin

from .models import Medicine, PrescriptionLine


@admin.register(Medicine)
class MedicineAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "dmd_code",
        "code_to_confirm",
        "cd_schedule",
        "cd_register",
        "storage",
        "category",
        "active",
    )
    list_filter = ("cd_schedule", "cd_register", "storage", "category", "code_to_confirm", "active")
    search_fields = ("name", "dmd_code", "ingredients")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # lines point at products (PROTECT); retire with `active` instead


@admin.register(PrescriptionLine)
class PrescriptionLineAdmin(admin.ModelAdmin):
    list_display = ("medicine", "resident", "home", "status", "entered_at", "checked_at")
    list_filter = ("status", "home")
    list_select_related = ("medicine", "resident", "home")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
