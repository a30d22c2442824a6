from django.urls import path

from . import dashboard_views, views

urlpatterns = [
    # Dashboards (R-DASH-1, R-DASH-2)
    path(
        "homes/<int:home_id>/dashboard/panel/",
        dashboard_views.home_dashboard_panel,
        name="home_dashboard_panel",
    ),
    path(
        "providers/<int:provider_id>/dashboard/",
        dashboard_views.provider_dashboard,
        name="provider_dashboard",
    ),
    path(
        "providers/<int:provider_id>/dashboard.csv",
        dashboard_views.provider_dashboard_csv,
        name="provider_dashboard_csv",
    ),
    # Monthly audits (R-AUD-1..4)
    path("homes/<int:home_id>/audits/", views.audit_list, name="audit_list"),
    path("homes/<int:home_id>/audits/prepare/", views.audit_prepare, name="audit_prepare"),
    path("audits/<int:audit_id>/", views.audit_detail, name="audit_detail"),
    path("audits/<int:audit_id>/refresh/", views.audit_refresh, name="audit_refresh"),
    path("audits/<int:audit_id>/checklist/", views.audit_checklist, name="audit_checklist"),
    path("audits/<int:audit_id>/actions/", views.action_add, name="audit_action_add"),
    path(
        "audits/<int:audit_id>/actions/<int:action_id>/",
        views.action_update,
        name="audit_action_update",
    ),
    path("audits/<int:audit_id>/sign/", views.audit_sign, name="audit_sign"),
    path("audits/<int:audit_id>/report/status/", views.report_status, name="audit_report_status"),
    path("audits/<int:audit_id>/report/retry/", views.report_retry, name="audit_report_retry"),
    path("audits/<int:audit_id>/report.pdf", views.report_download, name="audit_report"),
    path(
        "audits/<int:audit_id>/records/<slug:metric>/",
        views.metric_records,
        name="audit_metric_records",
    ),
    # Incidents (R-AUD-5)
    path("homes/<int:home_id>/incidents/", views.incident_list, name="incident_list"),
    path("homes/<int:home_id>/incidents/new/", views.incident_new, name="incident_new"),
    path("incidents/<int:incident_id>/", views.incident_detail, name="incident_detail"),
    path(
        "incidents/<int:incident_id>/follow-up/",
        views.incident_follow_up,
        name="incident_follow_up",
    ),
    # Reports area for managers and inspectors (R-INS-1, R-INS-2)
    path("homes/<int:home_id>/reports/", views.reports_area, name="reports_area"),
    path("homes/<int:home_id>/reports/mar.pdf", views.reports_mar_pdf, name="reports_mar_pdf"),
    path("homes/<int:home_id>/reports/prn-protocols/", views.prn_protocols, name="reports_prn"),
    path(
        "homes/<int:home_id>/reports/prn-protocols.pdf",
        views.prn_protocols_pdf,
        name="reports_prn_pdf",
    ),
    path(
        "homes/<int:home_id>/reports/training-matrix.pdf",
        views.training_matrix_pdf,
        name="reports_training_pdf",
    ),
    path("homes/<int:home_id>/reports/access-log/", views.access_log, name="reports_access_log"),
    path(
        "homes/<int:home_id>/reports/evidence/",
        views.evidence_pack_request,
        name="evidence_pack_request",
    ),
    path("evidence/<int:pack_id>/status/", views.evidence_pack_status, name="evidence_pack_status"),
    path("evidence/<int:pack_id>/retry/", views.evidence_pack_retry, name="evidence_pack_retry"),
    path(
        "evidence/<int:pack_id>/download/",
        views.evidence_pack_download,
        name="evidence_pack_download",
    ),
]
