"""Thin views of the staff and home settings screens (R-ORG-6, R-ORG-5): managers run their
home's people, roles, lockouts, PINs, rounds, dose window, timezone and codes here, not in the
Django admin. Every change goes through `emar.services` and lands on the audit trail."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from . import permissions, selectors, services
from .forms import InspectorGrantForm
from .models import NonAdministrationCode, Round
from .permissions import Perm, requires
from .staff_forms import (
    CodeForm,
    HomeSettingsForm,
    PersonAddForm,
    RoleForm,
    RoundForm,
    ScanningForm,
)

# --- Staff (R-ORG-6) -----------------------------------------------------------------------------


def staff_page(request, home, *, status: int = 200, error: str = "", **forms):
    current, ended = selectors.staff_split(home)
    locked = selectors.locked_usernames(sorted({m.user.username for m in current}))
    context = {
        "home": home,
        "current": [
            (
                m,
                RoleForm(initial={"role": m.role}, auto_id=f"role{m.pk}_%s"),
                locked.get(m.user.username),
            )
            for m in current
        ],
        "ended": ended,
        "witness_locks": selectors.witness_locks(home),
        "form": forms.get("form") or InspectorGrantForm(home=home),
        "add_form": forms.get("add_form") or PersonAddForm(),
        "can_grant": permissions.has_perm(request.user, Perm.GRANT_INSPECTOR, home),
        "can_manage": permissions.has_perm(request.user, Perm.MANAGE_STAFF, home),
        "now": timezone.now(),
        "error": error,
    }
    return render(request, "emar/staff.html", context, status=status)


@require_safe
@requires(Perm.MANAGE_STAFF)
def staff(request, home):
    return staff_page(request, home)


@require_POST
@requires(Perm.MANAGE_STAFF)
def staff_add(request, home):
    form = PersonAddForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.person_add(
                home=home,
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                password=data["password"],
                role=data["role"],
                by=request.user,
                idempotency_key=data["idempotency_key"],
            )
        except services.DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                f"{membership.user} can sign in as {membership.user.username} and must choose "
                "their own password first.",
            )
            return redirect("staff", home_id=home.pk)
    return staff_page(request, home, status=400, add_form=form)


@require_POST
@requires(Perm.MANAGE_STAFF)
def staff_role(request, home, member_id: int):
    person = services.staff_member(home=home, user_id=member_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return staff_page(request, home, status=400, error=_first_error(form))
    try:
        membership = services.membership_set(
            user=person,
            home=home,
            role=form.cleaned_data["role"],
            by=request.user,
            idempotency_key=form.cleaned_data["idempotency_key"],
        )
    except services.DomainError as e:
        return staff_page(request, home, status=400, error=e.message)
    messages.success(request, f"{person} is now {membership.get_role_display().lower()} here.")
    return redirect("staff", home_id=home.pk)


@require_POST
@requires(Perm.MANAGE_STAFF)
def staff_unlock(request, home, member_id: int):
    person = services.staff_member(home=home, user_id=member_id)
    services.account_unlock(home=home, user=person, by=request.user)
    messages.success(request, f"{person} can sign in and witness again.")
    return redirect("staff", home_id=home.pk)


@require_POST
@requires(Perm.MANAGE_STAFF)
def staff_pin_reset(request, home, member_id: int):
    person = services.staff_member(home=home, user_id=member_id)
    services.staff_pin_reset(home=home, user=person, by=request.user)
    messages.success(
        request,
        f"{person}'s PIN is removed. They set a new one with their password (Account → PIN).",
    )
    return redirect("staff", home_id=home.pk)


@require_POST
@requires(Perm.MANAGE_STAFF)
def witness_lock_clear(request, home, throttle_id: int):
    throttle = get_object_or_404(selectors.witness_locks(home), pk=throttle_id)
    services.witness_throttle_clear(home=home, throttle=throttle, by=request.user)
    messages.success(request, f"{throttle.username} can witness on that tablet again.")
    return redirect("staff", home_id=home.pk)


def _first_error(form) -> str:
    """The first error of a one-row form (a role, a round), with the field it is about."""
    for name, errors in form.errors.items():
        if name == "__all__":
            return errors[0]
        field = form.fields[name]
        return f"{field.label or name.replace('_', ' ').capitalize()}: {errors[0]}"
    return "Check the form and try again."


# --- Home settings (R-ORG-5, R-MAR-6) -------------------------------------------------------------


def settings_page(request, home, *, status: int = 200, error: str = "", **forms):
    context = {
        "home": home,
        "rounds": [
            (r, RoundForm(initial={"name": r.name, "time": r.time}, auto_id=f"round{r.pk}_%s"))
            for r in Round.objects.filter(home=home).order_by("time")
        ],
        "codes": NonAdministrationCode.objects.filter(home=home).order_by("-active", "code"),
        "settings_form": forms.get("settings_form")
        or HomeSettingsForm(
            initial={"dose_window_minutes": home.dose_window_minutes, "timezone": home.timezone}
        ),
        "round_form": forms.get("round_form") or RoundForm(),
        "scanning_form": forms.get("scanning_form")
        or ScanningForm(initial={"scanning": home.scanning}),
        "code_form": forms.get("code_form") or CodeForm(),
        "error": error,
    }
    return render(request, "emar/home_settings.html", context, status=status)


@require_safe
@requires(Perm.CONFIGURE_HOME)
def home_settings(request, home):
    return settings_page(request, home)


@require_POST
@requires(Perm.CONFIGURE_HOME)
def home_settings_save(request, home):
    form = HomeSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.home_settings_update(
                home=home,
                dose_window_minutes=form.cleaned_data["dose_window_minutes"],
                timezone_name=form.cleaned_data["timezone"],
                by=request.user,
            )
        except services.DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Dose window and timezone saved.")
            return redirect("home_settings", home_id=home.pk)
    return settings_page(request, home, status=400, settings_form=form)


@require_POST
@requires(Perm.CONFIGURE_HOME)
def home_scanning_save(request, home):
    form = ScanningForm(request.POST)
    if form.is_valid():
        try:
            services.home_scanning_set(
                home=home, scanning=form.cleaned_data["scanning"], by=request.user
            )
        except services.DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, "Barcode scanning setting saved.")
            return redirect("home_settings", home_id=home.pk)
    return settings_page(request, home, status=400, scanning_form=form)


def _round_save(request, home, round: Round | None):
    form = RoundForm(request.POST)
    if form.is_valid():
        try:
            saved = services.round_save(
                home=home,
                round=round,
                name=form.cleaned_data["name"],
                time=form.cleaned_data["time"],
                by=request.user,
                idempotency_key=None if round else form.cleaned_data["idempotency_key"],
            )
        except services.DomainError as e:
            if round is not None:
                return settings_page(request, home, status=400, error=e.message)
            form.add_error(None, e)
        else:
            messages.success(request, f"{saved.name} round at {saved.time:%H:%M} saved.")
            return redirect("home_settings", home_id=home.pk)
    if round is not None:
        return settings_page(request, home, status=400, error=_first_error(form))
    return settings_page(request, home, status=400, round_form=form)


@require_POST
@requires(Perm.CONFIGURE_HOME)
def round_add(request, home):
    return _round_save(request, home, None)


@require_POST
@requires(Perm.CONFIGURE_HOME)
def round_edit(request, home, round_id: int):
    return _round_save(request, home, get_object_or_404(Round, home=home, pk=round_id))


@require_POST
@requires(Perm.CONFIGURE_HOME)
def code_add(request, home):
    form = CodeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            code = services.code_add(
                home=home,
                code=data["code"],
                label=data["label"],
                category=data["category"],
                note_required=data["note_required"],
                by=request.user,
                idempotency_key=data["idempotency_key"],
            )
        except services.DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(request, f"Code {code.code} ({code.label}) added.")
            return redirect("home_settings", home_id=home.pk)
    return settings_page(request, home, status=400, code_form=form)


def _code_change(request, home, code_id: int, change):
    code = get_object_or_404(NonAdministrationCode, home=home, pk=code_id)
    try:
        done = change(code)
    except services.DomainError as e:
        return settings_page(request, home, status=400, error=e.message)
    messages.success(request, done)
    return redirect("home_settings", home_id=home.pk)


@require_POST
@requires(Perm.CONFIGURE_HOME)
def code_retire(request, home, code_id: int):
    def change(code):
        services.code_active_set(home=home, code=code, active=False, by=request.user)
        return f"Code {code.code} retired: no longer offered; past records keep it."

    return _code_change(request, home, code_id, change)


@require_POST
@requires(Perm.CONFIGURE_HOME)
def code_restore(request, home, code_id: int):
    def change(code):
        services.code_active_set(home=home, code=code, active=True, by=request.user)
        return f"Code {code.code} is offered again."

    return _code_change(request, home, code_id, change)


@require_POST
@requires(Perm.CONFIGURE_HOME)
def code_delete(request, home, code_id: int):
    def change(code):
        services.code_delete(home=home, code=code, by=request.user)
        return f"Code {code.code} deleted."

    return _code_change(request, home, code_id, change)


# --- One's own password (R-ORG-6) ----------------------------------------------------------------


class PasswordChange(auth_views.PasswordChangeView):
    """Django's password change; choosing one's own password clears `must_change_password`."""

    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        if user.must_change_password:
            user.must_change_password = False
            user.save(update_fields=["must_change_password"])
        return response
