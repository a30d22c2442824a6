"""Read-mostly admin: writes go through the services (audit trail), so records are read-only
here; courses can be added or retired."""

from django.contrib import admin

from .models import (
    CompetencyAssessment,
    CompetencySuspension,
    Course,
    MedicinesPolicy,
    PolicyConfirmation,
    TrainingRecord,
)


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "validity_months", "mandatory", "active", "sort_order")
    list_editable = ("active",)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TrainingRecord)
class TrainingRecordAdmin(ReadOnlyAdmin):
    list_display = ("person", "course", "home", "completed_on", "expires_on")
    list_filter = ("home", "course")
    exclude = ("certificate",)


@admin.register(CompetencyAssessment)
class CompetencyAssessmentAdmin(ReadOnlyAdmin):
    list_display = ("person", "category", "outcome", "assessed_on", "expires_on", "assessor")
    list_filter = ("home", "category", "outcome")


@admin.register(CompetencySuspension)
class CompetencySuspensionAdmin(ReadOnlyAdmin):
    list_display = ("person", "category", "suspended_at", "lifted_at", "incident_ref")
    list_filter = ("home", "category")


@admin.register(MedicinesPolicy)
class MedicinesPolicyAdmin(ReadOnlyAdmin):
    list_display = ("home", "version", "review_on", "published_at")
    exclude = ("document",)


@admin.register(PolicyConfirmation)
class PolicyConfirmationAdmin(ReadOnlyAdmin):
    list_display = ("policy", "person", "confirmed_at")
