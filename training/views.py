"""Thin views of training and competency: permission-scoped lookup, form, one service call."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from emar import permissions
from emar.models import CareHome, User
from emar.permissions import Perm, requires
from emar.services import DomainError

from . import selectors, services
from .forms import AssessmentForm, PolicyForm, SuspendForm, TrainingRecordForm
from .models import MedicineCategory, MedicinesPolicy, PolicyConfirmation, TrainingRecord


def _today(home: CareHome):
    return home.local_today()


# --- The matrix (R-TRN-4) ----------------------------------------------------------------------


@require_GET
@requires(Perm.VIEW_TRAINING_MATRIX)
def matrix(request, home):
    context = {
        "home": home,
        "matrix": selectors.training_matrix(home, today=_today(home)),
        "can_assess": permissions.has_perm(request.user, Perm.ASSESS_COMPETENCY, home),
    }
    return render(request, "training/matrix.html", context)


def _csv_safe(value: object) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; make them text."""
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
@requires(Perm.VIEW_TRAINING_MATRIX)
def matrix_csv(request, home):
    m = selectors.training_matrix(home, today=_today(home))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="training-matrix-{home.pk}-{m.today:%Y-%m-%d}.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    writer = csv.writer(response)
    writer.writerow([f"Training matrix — {home.name}", f"{m.today:%d %b %Y}"])
    writer.writerow(
        [
            "Name",
            "Role",
            *[c.name for c in m.courses],
            *[f"Competency: {c.label}" for c in m.categories],
            "Read current policy",
        ]
    )

    def cell_text(cell: selectors.Cell) -> str:
        return f"{cell.label} ({cell.expires_on:%d %b %Y})" if cell.expires_on else cell.label

    for row in m.rows:
        writer.writerow(
            [
                _csv_safe(row.person),
                row.role,
                *[cell_text(c) for c in row.courses],
                *[cell_text(c) for c in row.competencies],
                {None: "No policy", True: "Yes", False: "No"}[row.policy_confirmed],
            ]
        )
    writer.writerow(
        [
            "Compliance %",
            "",
            *[c.percent for c in m.course_compliance],
            *[c.percent for c in m.competency_compliance],
            "",
        ]
    )
    writer.writerow(["Overall (mandatory courses) %", m.overall.percent])
    if m.data_security is not None:
        writer.writerow(
            [
                "Data security (DSPT target 95%) %",
                m.data_security.percent,
                "met" if m.dspt_met else "not met",
            ]
        )
    return response


# --- One person's records ----------------------------------------------------------------------


@require_GET
@requires(Perm.VIEW_OWN_TRAINING)
def mine(request, home):
    return _mine_page(request, home)


def _mine_page(request, home, *, error: str = "", status: int = 200):
    person = request.user
    policy = selectors.current_policy(home)
    confirmed = (
        policy is not None
        and PolicyConfirmation.objects.filter(policy=policy, person=person).exists()
    )
    gate = [
        (category, services.check_administration(person=person, home=home, category=category))
        for category in MedicineCategory
    ]
    context = {
        "home": home,
        "person": person,
        "summary": selectors.person_training(home, person, today=_today(home)),
        "gate": gate,
        "policy": policy,
        "confirmed": confirmed,
        "error": error,
        "can_download": True,
    }
    return render(request, "training/mine.html", context, status=status)


def _staff_page(request, home, person: User, *, status: int = 200, **forms):
    can_assess = (
        permissions.has_perm(request.user, Perm.ASSESS_COMPETENCY, home)
        and person.pk != request.user.pk
    )
    # Refusals not tied to a field (e.g. "not for yourself") shown at the top of the page,
    # since the forms are hidden when the user cannot use them.
    refusals = [e for f in forms.values() for e in f.non_field_errors()]
    context = {
        "home": home,
        "person": person,
        "summary": selectors.person_training(home, person, today=_today(home)),
        "refusals": refusals,
        "can_assess": can_assess,
        "can_download": True,
        "record_form": forms.get("record_form") or TrainingRecordForm(),
        "assess_form": forms.get("assess_form") or AssessmentForm(),
        "suspend_form": forms.get("suspend_form") or SuspendForm(),
    }
    return render(request, "training/staff.html", context, status=status)


@require_GET
@requires(Perm.VIEW_TRAINING_MATRIX)
def staff(request, home, staff_id: int):
    return _staff_page(request, home, selectors.staff_member(home, staff_id))


@require_POST
@requires(Perm.ASSESS_COMPETENCY)
def record_add(request, home, staff_id: int):
    person = selectors.staff_member(home, staff_id)
    form = TrainingRecordForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            record = services.training_record_create(
                person=person,
                home=home,
                course=form.cleaned_data["course"],
                completed_on=form.cleaned_data["completed_on"],
                provider=form.cleaned_data["provider"],
                certificate=form.cleaned_data["certificate"],
                by=request.user,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                f"{record.course} recorded for {person}, in date until "
                f"{record.expires_on:%d %b %Y}.",
            )
            return redirect("training_staff", home_id=home.pk, staff_id=person.pk)
    return _staff_page(request, home, person, record_form=form, status=400)


@require_POST
@requires(Perm.ASSESS_COMPETENCY)
def assess(request, home, staff_id: int):
    person = selectors.staff_member(home, staff_id)
    form = AssessmentForm(request.POST)
    if form.is_valid():
        try:
            assessment = services.competency_assess(
                person=person, home=home, by=request.user, **form.cleaned_data
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                f"{assessment.get_category_display()} assessment recorded for {person}: "
                f"{assessment.get_outcome_display().lower()}.",
            )
            return redirect("training_staff", home_id=home.pk, staff_id=person.pk)
    return _staff_page(request, home, person, assess_form=form, status=400)


@require_POST
@requires(Perm.ASSESS_COMPETENCY)
def suspend(request, home, staff_id: int):
    person = selectors.staff_member(home, staff_id)
    form = SuspendForm(request.POST)
    if form.is_valid():
        try:
            services.competency_suspend(
                person=person, home=home, by=request.user, **form.cleaned_data
            )
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.warning(request, f"{person}'s competency is suspended until reassessed.")
            return redirect("training_staff", home_id=home.pk, staff_id=person.pk)
    return _staff_page(request, home, person, suspend_form=form, status=400)


@require_GET
@requires(Perm.VIEW_TRAINING_MATRIX)
def certificate(request, record_id: int):
    """A certificate, only through this check (R-SEC-5): one's own, or a matrix reader's."""
    record = permissions.scoped_get(
        request.user, Perm.VIEW_HOME, TrainingRecord.objects.all(), pk=record_id
    )
    own = record.person_id == request.user.pk
    permissions.require(
        request.user, Perm.VIEW_OWN_TRAINING if own else Perm.VIEW_TRAINING_MATRIX, record.home_id
    )
    if not record.certificate:
        raise Http404("No certificate was uploaded")
    return _private_file(record.certificate, record.certificate_type, record.certificate_name)


def _private_file(field, content_type: str, name: str) -> FileResponse:
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing") from None
    response = FileResponse(handle, content_type=content_type, filename=name)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Medicines policy (R-TRN-5) ----------------------------------------------------------------


def _policy_page(request, home, form: PolicyForm | None = None, status: int = 200):
    can_publish = permissions.has_perm(request.user, Perm.CONFIGURE_HOME, home)
    context = {
        "home": home,
        "policies": selectors.policies_of(home),
        "matrix": selectors.training_matrix(home, today=_today(home)),
        "can_publish": can_publish,
        "form": form or (PolicyForm() if can_publish else None),
    }
    return render(request, "training/policy.html", context, status=status)


@require_GET
@requires(Perm.VIEW_TRAINING_MATRIX)
def policy(request, home):
    return _policy_page(request, home)


@require_POST
@requires(Perm.CONFIGURE_HOME)
def policy_publish(request, home):
    form = PolicyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            published = services.policy_publish(home=home, by=request.user, **form.cleaned_data)
        except DomainError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request, f"Version {published.version} published; staff are asked to read it."
            )
            return redirect("training_policy", home_id=home.pk)
    return _policy_page(request, home, form, status=400)


@require_GET
@requires(Perm.VIEW_HOME)
def policy_document(request, policy_id: int):
    document = permissions.scoped_get(
        request.user, Perm.VIEW_HOME, MedicinesPolicy.objects.all(), pk=policy_id
    )
    return _private_file(document.document, "application/pdf", document.document_name)


@require_POST
@requires(Perm.VIEW_OWN_TRAINING)
def policy_confirm(request, policy_id: int):
    document = permissions.scoped_get(
        request.user,
        Perm.VIEW_OWN_TRAINING,
        MedicinesPolicy.objects.select_related("home"),
        pk=policy_id,
    )
    try:
        services.policy_confirm(policy=document, person=request.user)
    except DomainError as e:
        return _mine_page(request, document.home, error=e.messages[0], status=400)
    messages.success(request, f"Thank you: you have confirmed reading version {document.version}.")
    return redirect("training_mine", home_id=document.home_id)
