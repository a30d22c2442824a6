"""Django admin: the catalogue is edited here (provider admins); clinical records are read-only
(they change only through services, which write the audit trail)."""

from django.contrib import admin

from .models import (
    Administration,
    AppliedSite,
    DeliveryDiscrepancy,
    DoseScan,
    HomelyRemedy,
    LineSite,
    Medicine,
    MedicineOrder,
    OfflineDiscard,
    OpenedSupply,
    OpenedSupplyEnd,
    PrescriptionLine,
    ProductBarcode,
    ScheduledDose,
    StockMovement,
)


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
        "in_use_days",
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


class ReadOnly(admin.ModelAdmin):
    """Clinical records: visible to the provider's IT, never changed here (R-MAR-4, R-CD-2)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Administration)
class AdministrationAdmin(ReadOnly):
    list_display = ("line", "resident", "outcome", "code", "administered_at", "recorded_by")
    list_filter = ("outcome", "home")
    list_select_related = ("line__medicine", "resident", "code", "recorded_by")


@admin.register(LineSite)
class LineSiteAdmin(ReadOnly):
    """A topical line's body map sites (R-MAR-17)."""

    list_display = ("line", "site", "instructions")
    list_select_related = ("line__medicine",)
    raw_id_fields = ("line",)


@admin.register(AppliedSite)
class AppliedSiteAdmin(ReadOnly):
    """Where one application of a topical line went (R-MAR-17)."""

    list_display = ("administration", "site")
    list_select_related = ("administration__line__medicine",)
    raw_id_fields = ("administration",)


@admin.register(ScheduledDose)
class ScheduledDoseAdmin(ReadOnly):
    list_display = ("line", "resident", "due_at", "round", "cancelled_at")
    list_filter = ("home", "unit")
    list_select_related = ("line__medicine", "resident", "round")


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnly):
    list_display = ("line", "seq", "kind", "change", "balance_after", "at", "by", "witness")
    list_filter = ("kind", "home")
    list_select_related = ("line__medicine", "by", "witness")


@admin.register(OfflineDiscard)
class OfflineDiscardAdmin(ReadOnly):
    """Queued records refused by the server and discarded with a reason (R-OFF-2)."""

    list_display = ("dose", "outcome", "tapped_at", "discarded_by", "discarded_at", "reason")
    list_filter = ("home",)
    list_select_related = ("dose__line__medicine", "discarded_by")


@admin.register(OpenedSupply)
class OpenedSupplyAdmin(ReadOnly):
    list_display = ("line", "resident", "opened_on", "in_use_expiry", "opened_by", "batch")
    list_filter = ("home",)
    list_select_related = ("line__medicine", "resident", "opened_by")


@admin.register(OpenedSupplyEnd)
class OpenedSupplyEndAdmin(ReadOnly):
    list_display = ("opening", "kind", "at", "by")
    list_filter = ("kind", "home")
    list_select_related = ("by",)


@admin.register(ProductBarcode)
class ProductBarcodeAdmin(ReadOnly):
    """R-SCAN-1: a wrong link is retired by a new entry (`barcode_relink`), never edited."""

    list_display = ("gtin", "medicine", "linked_by", "linked_at", "replaces")
    search_fields = ("gtin", "medicine__name")
    list_select_related = ("medicine", "linked_by", "replaces")


@admin.register(DoseScan)
class DoseScanAdmin(ReadOnly):
    list_display = ("administration", "gtin", "batch", "expiry", "expired", "no_scan_reason")
    list_select_related = ("administration__line__medicine",)


@admin.register(HomelyRemedy)
class HomelyRemedyAdmin(admin.ModelAdmin):
    """The home's approved list of homely remedies (R-MAR-11), kept by the provider."""

    list_display = (
        "medicine",
        "home",
        "indication",
        "dose_guidance",
        "min_interval_minutes",
        "max_doses_24h",
        "max_days",
        "active",
    )
    list_filter = ("home", "active")
    autocomplete_fields = ("medicine",)


@admin.register(MedicineOrder)
class MedicineOrderAdmin(ReadOnly):
    """Orders change only through the review screen (R-ORD-1), audited."""

    list_display = ("number", "home", "cycle_start", "status", "approved_by", "emailed_at")
    list_filter = ("status", "home")
    list_select_related = ("home", "approved_by")


@admin.register(DeliveryDiscrepancy)
class DeliveryDiscrepancyAdmin(ReadOnly):
    """Delivery discrepancies are followed up by new entries, never edited (R-ORD-2)."""

    list_display = ("delivery", "kind", "raised_by", "raised_at")
    list_filter = ("kind", "home")
    list_select_related = ("delivery__order", "raised_by")
