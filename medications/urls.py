from django.urls import path

from .views import prescriptions as views

urlpatterns = [
    path("homes/<int:home_id>/residents/", views.resident_list, name="resident_list"),
    path(
        "homes/<int:home_id>/prescriptions/to-check/", views.awaiting_check, name="awaiting_check"
    ),
    path("residents/<int:resident_id>/", views.resident_profile, name="resident_profile"),
    path("residents/<int:resident_id>/lines/new/", views.line_new, name="line_new"),
    path(
        "residents/<int:resident_id>/homely-remedies/authorisations/",
        views.homely_authorisations,
        name="homely_authorisations",
    ),
    path(
        "homely-authorisations/<int:authorisation_id>/withdraw/",
        views.homely_authorisation_withdraw,
        name="homely_authorisation_withdraw",
    ),
    path("lines/<int:line_id>/", views.line_detail, name="line_detail"),
    path("lines/<int:line_id>/check/", views.line_check, name="line_check"),
    path("lines/<int:line_id>/stop/", views.line_stop, name="line_stop"),
    path("lines/<int:line_id>/prn-protocol/", views.prn_protocol, name="prn_protocol"),
    path("lines/<int:line_id>/covert-plan/", views.covert_plan, name="covert_plan"),
    path("lines/<int:line_id>/self-admin/", views.self_admin, name="self_admin"),
    path("lines/<int:line_id>/doses/", views.variable_doses, name="variable_doses"),
    path("lines/<int:line_id>/schedule/", views.schedule_change, name="schedule_change"),
    path(
        "variable-doses/<int:variable_dose_id>/check/",
        views.variable_dose_check,
        name="variable_dose_check",
    ),
    path("schedule-versions/<int:version_id>/check/", views.schedule_check, name="schedule_check"),
]
