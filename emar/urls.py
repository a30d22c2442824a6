from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import staff_views, views
from .forms import SignInForm

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/web", views.healthz_web, name="healthz_web"),
    path("sw.js", views.service_worker, name="service_worker"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=SignInForm
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/code/", views.two_factor, name="two_factor"),
    path("login/switch/", views.pin_switch, name="pin_switch"),
    path("account/pin/", views.pin_set, name="pin_set"),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("password/change/", staff_views.PasswordChange.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("homes/<int:home_id>/switch/", views.home_switch, name="home_switch"),
    path("homes/<int:home_id>/staff/", staff_views.staff, name="staff"),
    path("homes/<int:home_id>/staff/add/", staff_views.staff_add, name="staff_add"),
    path(
        "homes/<int:home_id>/staff/<int:member_id>/role/",
        staff_views.staff_role,
        name="staff_role",
    ),
    path(
        "homes/<int:home_id>/staff/<int:member_id>/unlock/",
        staff_views.staff_unlock,
        name="staff_unlock",
    ),
    path(
        "homes/<int:home_id>/staff/<int:member_id>/pin-reset/",
        staff_views.staff_pin_reset,
        name="staff_pin_reset",
    ),
    path(
        "homes/<int:home_id>/witness-locks/<int:throttle_id>/clear/",
        staff_views.witness_lock_clear,
        name="witness_lock_clear",
    ),
    path("homes/<int:home_id>/settings/", staff_views.home_settings, name="home_settings"),
    path(
        "homes/<int:home_id>/settings/save/",
        staff_views.home_settings_save,
        name="home_settings_save",
    ),
    path(
        "homes/<int:home_id>/settings/scanning/",
        staff_views.home_scanning_save,
        name="home_scanning_save",
    ),
    path("homes/<int:home_id>/settings/rounds/add/", staff_views.round_add, name="round_add"),
    path(
        "homes/<int:home_id>/settings/rounds/<int:round_id>/",
        staff_views.round_edit,
        name="round_edit",
    ),
    path("homes/<int:home_id>/settings/codes/add/", staff_views.code_add, name="code_add"),
    path(
        "homes/<int:home_id>/settings/codes/<int:code_id>/retire/",
        staff_views.code_retire,
        name="code_retire",
    ),
    path(
        "homes/<int:home_id>/settings/codes/<int:code_id>/restore/",
        staff_views.code_restore,
        name="code_restore",
    ),
    path(
        "homes/<int:home_id>/settings/codes/<int:code_id>/delete/",
        staff_views.code_delete,
        name="code_delete",
    ),
    path("homes/<int:home_id>/inspectors/grant/", views.inspector_grant, name="inspector_grant"),
    path("memberships/<int:membership_id>/end/", views.membership_end, name="membership_end"),
    path("homes/<int:home_id>/audit-trail/", views.audit_trail, name="audit_trail"),
    path("homes/<int:home_id>/shift/start/", views.shift_start, name="shift_start"),
    path("shift/end/", views.shift_end, name="shift_end"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/badge/", views.notification_badge, name="notification_badge"),
    path(
        "notifications/<int:notification_id>/read/",
        views.notification_read,
        name="notification_read",
    ),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("admin/", admin.site.urls),
    path("fhir/r4/", include("fhir_api.urls")),
    path("", include("fhir_api.token_urls")),
    path("", include("residents.urls")),
    path("", include("medications.urls")),
    path("", include("training.urls")),
    path("", include("audits.urls")),
]
