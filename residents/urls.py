from django.urls import path

from . import document_views, views

# The resident list and profile are in medications/urls.py (they show prescriptions).
urlpatterns = [
    path("homes/<int:home_id>/residents/admit/", views.resident_admit, name="resident_admit"),
    path(
        "homes/<int:home_id>/reconciliations/",
        views.reconciliation_report,
        name="reconciliation_report",
    ),
    path("residents/<int:resident_id>/edit/", views.resident_edit, name="resident_edit"),
    path("residents/<int:resident_id>/photo/", views.resident_photo, name="resident_photo"),
    path(
        "residents/<int:resident_id>/allergies/",
        views.resident_allergies,
        name="resident_allergies",
    ),
    path(
        "residents/<int:resident_id>/allergies/status/",
        views.allergy_status,
        name="allergy_status",
    ),
    path("allergies/<int:allergy_id>/remove/", views.allergy_remove, name="allergy_remove"),
    path("residents/<int:resident_id>/move/", views.resident_move, name="resident_move"),
    path("residents/<int:resident_id>/leave/", views.resident_leave, name="resident_leave"),
    path("residents/<int:resident_id>/away/", views.resident_away, name="resident_away"),
    path("residents/<int:resident_id>/back/", views.resident_return, name="resident_return"),
    path("residents/<int:resident_id>/readmit/", views.resident_readmit, name="resident_readmit"),
    path(
        "residents/<int:resident_id>/reconciliations/new/",
        views.reconciliation_new,
        name="reconciliation_new",
    ),
    path(
        "reconciliations/<int:reconciliation_id>/",
        views.reconciliation_detail,
        name="reconciliation_detail",
    ),
    path(
        "reconciliations/<int:reconciliation_id>/complete/",
        views.reconciliation_complete,
        name="reconciliation_complete",
    ),
    path(
        "discrepancies/<int:discrepancy_id>/resolve/",
        views.discrepancy_resolve,
        name="discrepancy_resolve",
    ),
    path("residents/<int:resident_id>/reviews/new/", views.review_new, name="review_new"),
    # Documents (R-RES-7): served only through the checked view, never a media URL (R-SEC-5).
    path(
        "residents/<int:resident_id>/documents/",
        document_views.resident_documents,
        name="resident_documents",
    ),
    path(
        "documents/<int:document_id>/", document_views.resident_document, name="resident_document"
    ),
    path(
        "documents/<int:document_id>/withdraw/",
        document_views.document_withdraw,
        name="document_withdraw",
    ),
]
