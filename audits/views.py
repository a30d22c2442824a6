"""Thin views of audits, incidents and the reports area: permission-scoped lookup first, then
the form, one service call, redirect or partial. Bad input is a 400 with the reason.

Every page and download of the reports area is written to the access log (R-INS-1), which the
manager reads: the views describe what they showed (`_log`) and the access-log middleware writes
it once the response succeeded, as it does for every page an inspector opens elsewhere.
Inspectors only ever see signed audits; everything that writes needs a staff or manager
permission, so the permission matrix refuses inspectors (R-ORG-4).
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from emar import jobs, permissions
from emar.models import CareHome, Role
from emar.pdf import render_pdf
from emar.permissions import Perm, requires, scoped_get
from medications.chart import mar_chart
from medications.rendering import PRINT_TEMPLATE, print_context

from . import reports, selectors, services
from .forms import (
    ActionForm,
    ActionUpdateForm,
    FollowUpForm,
    IncidentForm,
    MarForm,
    PeriodForm,
    PrepareForm,
    SignForm,
    checklist_answers,
)
from .models import ActionStatus, Audit, AuditAction, AuditReport, EvidencePack, Incident

# --- helpers --------------------------------------------------------------------------------------


def _audit(request, audit_id: int, perm: Perm) -> Audit:
    audit = scoped_get(request.user, perm, Audit.objects.select_related("home"), pk=audit_id)
    if not audit.is_signed and not permissions.has_perm(request.user, Perm.RUN_AUDIT, audit.home):
        raise Http404("No such audit")  # inspectors see signed audits only
    return audit


def _log(request, home: CareHome, action: str, what: str, obj=None) -> None:
    """Say what this page shows; the access-log middleware writes it if the response succeeds."""
    services.access_note(request, home=home, action=action, what=what, obj=obj)


def _bad(request, template: str, context: dict):
    return render(request, template, context, status=400)


def _errors(e: ValidationError) -> str:
    return " ".join(e.messages)


def _file(field, filename: str, content_type: str) -> FileResponse:
    response = FileResponse(field.open("rb"), as_attachment=True, filename=filename)
    response["Content-Type"] = content_type
    response["Cache-Control"] = "private, no-store"
    return response


# --- Audits (R-AUD-1..4) --------------------------------------------------------------------------


def _list(request, home: CareHome, form: PrepareForm | None = None, status: int = 200):
    today = home.local_today()
    context = {
        "home": home,
        "audits": selectors.audits_of(home),
        "months": selectors.month_choices(home, today),
        "form": form or PrepareForm(initial={"month": f"{today:%Y-%m}"}),
    }
    return render(request, "audits/list.html", context, status=status)


@require_GET
@requires(Perm.RUN_AUDIT)
def audit_list(request, home: CareHome):
    return _list(request, home)


@require_POST
@requires(Perm.RUN_AUDIT)
def audit_prepare(request, home: CareHome):
    form = PrepareForm(request.POST)
    if not form.is_valid():
        return _list(request, home, form, status=400)
    try:
        audit = services.audit_prepare(home=home, month=form.cleaned_data["month"], by=request.user)
    except services.AuditError as e:
        form.add_error("month", e)
        return _list(request, home, form, status=400)
    return redirect("audit_detail", audit.pk)


def _detail_context(request, audit: Audit, **extra) -> dict:
    home = audit.home
    trend = selectors.trend(audit)
    context = {
        "home": home,
        "audit": audit,
        "m": audit.metrics,
        "checklist": selectors.checklist(audit),
        "score": selectors.score(audit),
        "actions": list(selectors.actions_for(audit)),
        "trend": trend,
        "charts": reports.charts.audit_charts(audit.metrics, trend),
        "action_form": ActionForm(home=home),
        "sign_form": SignForm(initial={"summary": audit.summary}),
        "report": AuditReport.objects.filter(audit=audit).first(),
        "metric_pages": selectors.METRIC_PAGES,
        "can_run": permissions.has_perm(request.user, Perm.RUN_AUDIT, home),
        "action_statuses": ActionStatus.choices,
    }
    context.update(extra)
    return context


@require_GET
@requires(Perm.RUN_AUDIT)
def audit_detail(request, audit_id: int):
    audit = _audit(request, audit_id, Perm.RUN_AUDIT)
    return render(request, "audits/detail.html", _detail_context(request, audit))


def _refused(request, audit: Audit, error: ValidationError, **extra):
    context = _detail_context(request, audit, error=_errors(error), **extra)
    return _bad(request, "audits/detail.html", context)


@require_POST
@requires(Perm.RUN_AUDIT)
def audit_refresh(request, audit_id: int):
    audit = _audit(request, audit_id, Perm.RUN_AUDIT)
    try:
        services.audit_refresh(audit=audit, by=request.user)
    except services.AuditError as e:
        return _refused(request, audit, e)
    messages.success(request, "Metrics recomputed from the records.")
    return redirect("audit_detail", audit.pk)


@require_POST
@requires(Perm.RUN_AUDIT)
def audit_checklist(request, audit_id: int):
    audit = _audit(request, audit_id, Perm.RUN_AUDIT)
    try:
        answers, summary = checklist_answers(request.POST, audit)
        services.checklist_save(audit=audit, answers=answers, summary=summary, by=request.user)
    except ValidationError as e:
        return _refused(request, audit, e)
    messages.success(request, "Checklist saved.")
    return redirect(reverse("audit_detail", args=[audit.pk]) + "#checklist")


@require_POST
@requires(Perm.RUN_AUDIT)
def action_add(request, audit_id: int):
    audit = _audit(request, audit_id, Perm.RUN_AUDIT)
    form = ActionForm(request.POST, home=audit.home)
    if not form.is_valid():
        return _refused(request, audit, ValidationError("Check the action."), action_form=form)
    try:
        services.action_add(audit=audit, by=request.user, **form.cleaned_data)
    except services.AuditError as e:
        return _refused(request, audit, e, action_form=form)
    messages.success(request, "Action added.")
    return redirect(reverse("audit_detail", args=[audit.pk]) + "#actions")


@require_POST
@requires(Perm.RUN_AUDIT)
def action_update(request, audit_id: int, action_id: int):
    audit = _audit(request, audit_id, Perm.RUN_AUDIT)
    action = get_object_or_404(AuditAction, home=audit.home, pk=action_id)
    form = ActionUpdateForm(request.POST)
    if not form.is_valid():
        return _refused(request, audit, ValidationError("Choose open, in progress or done."))
    try:
        services.action_update(audit=audit, action=action, by=request.user, **form.cleaned_data)
    except services.AuditError as e:
        return _refused(request, audit, e)
    return redirect(reverse("audit_detail", args=[audit.pk]) + "#actions")


@require_POST
@requires(Perm.RUN_AUDIT)
def audit_sign(request, audit_id: int):
    audit = _audit(request, audit_id, Perm.RUN_AUDIT)
    form = SignForm(request.POST)
    if not form.is_valid():
        return _refused(request, audit, ValidationError("Tick the box to confirm."), sign_form=form)
    try:
        services.audit_sign(audit=audit, by=request.user, summary=form.cleaned_data["summary"])
    except services.AuditError as e:
        return _refused(request, audit, e, sign_form=form)
    messages.success(request, "Audit signed and locked. The PDF report is being built.")
    return redirect("audit_detail", audit.pk)


@require_GET
@requires(Perm.VIEW_REPORTS)
def report_status(request, audit_id: int):
    """The htmx poll while the report builds (R-AUD-4)."""
    audit = _audit(request, audit_id, Perm.VIEW_REPORTS)
    report = AuditReport.objects.filter(audit=audit).first()
    return render(request, "audits/partials/report_status.html", {"audit": audit, "report": report})


@require_POST
@requires(Perm.RUN_AUDIT)
def report_retry(request, audit_id: int):
    audit = _audit(request, audit_id, Perm.RUN_AUDIT)
    if not AuditReport.objects.filter(audit=audit).exists():
        return HttpResponseBadRequest("This audit has no report yet: sign it first.")
    try:
        services.audit_report_retry(audit=audit, by=request.user)
    except jobs.BuildError as e:
        return HttpResponseBadRequest(e.message, content_type="text/plain; charset=utf-8")
    return redirect("audit_detail", audit.pk)


@require_GET
@requires(Perm.VIEW_REPORTS)
def report_download(request, audit_id: int):
    """The stored PDF, the same bytes every time (R-AUD-4)."""
    audit = _audit(request, audit_id, Perm.VIEW_REPORTS)
    report = AuditReport.objects.filter(audit=audit).first()
    if report is None or not report.is_ready:
        return HttpResponse(
            "The report is not ready yet.", status=409, content_type="text/plain; charset=utf-8"
        )
    _log(request, audit.home, "download", f"Audit report {audit.month:%B %Y}", audit)
    name = f"medicines-audit-{slugify(audit.home.name)}-{audit.month:%Y-%m}.pdf"
    return _file(report.file, name, "application/pdf")


@require_GET
@requires(Perm.VIEW_REPORTS)
def metric_records(request, audit_id: int, metric: str):
    audit = _audit(request, audit_id, Perm.VIEW_REPORTS)
    if metric not in selectors.METRIC_PAGES:
        raise Http404("No such metric")
    rows = selectors.metric_records(audit, metric)
    _log(request, audit.home, "view", f"Audit {audit.month:%B %Y}: {metric}", audit)
    context = {
        "home": audit.home,
        "audit": audit,
        "metric": metric,
        "title": selectors.METRIC_PAGES[metric],
        "rows": rows,
        "is_doses": metric == "gaps",
        "tz": audit.home.tz,
    }
    return render(request, "audits/metric_records.html", context)


# --- Incidents (R-AUD-5) --------------------------------------------------------------------------


@requires(Perm.REPORT_INCIDENT)
def incident_new(request, home: CareHome):
    if request.method == "POST":
        form = IncidentForm(request.POST, home=home)
        if form.is_valid():
            try:
                incident = services.incident_report(home=home, by=request.user, **form.cleaned_data)
            except ValidationError as e:
                form.add_error(None, e)
            else:
                messages.success(
                    request,
                    f"Incident {incident.reference} reported. The manager has been told."
                    + (
                        " Competency suspended for the staff named."
                        if incident.staff.exists()
                        else ""
                    ),
                )
                if permissions.has_perm(request.user, Perm.VIEW_REPORTS, home):
                    return redirect("incident_detail", incident.pk)
                return redirect("incident_new", home.pk)
        return render(request, "audits/incident_new.html", {"home": home, "form": form}, status=400)
    if request.method != "GET":
        return HttpResponse(status=405)
    form = IncidentForm(home=home, initial={"occurred_at": home.local_now().replace(second=0)})
    return render(request, "audits/incident_new.html", {"home": home, "form": form})


@require_GET
@requires(Perm.VIEW_REPORTS)
def incident_list(request, home: CareHome):
    _log(request, home, "view", "Incidents")
    page = Paginator(selectors.incidents_of(home), 50).get_page(request.GET.get("page"))
    return render(request, "audits/incident_list.html", {"home": home, "page": page})


@require_GET
@requires(Perm.VIEW_REPORTS)
def incident_detail(request, incident_id: int):
    incident = scoped_get(
        request.user, Perm.VIEW_REPORTS, selectors.incidents_all(), pk=incident_id
    )
    _log(request, incident.home, "view", f"Incident {incident.reference}", incident)
    context = {
        "home": incident.home,
        "incident": incident,
        "form": FollowUpForm(
            initial={
                "candour_done_on": incident.candour_done_on,
                "cqc_notified_on": incident.cqc_notified_on,
                "safeguarding_referred_on": incident.safeguarding_referred_on,
                "follow_up": incident.follow_up,
            }
        ),
        "can_run": permissions.has_perm(request.user, Perm.RUN_AUDIT, incident.home),
    }
    return render(request, "audits/incident_detail.html", context)


@require_POST
@requires(Perm.RUN_AUDIT)
def incident_follow_up(request, incident_id: int):
    incident = scoped_get(request.user, Perm.RUN_AUDIT, Incident.objects.all(), pk=incident_id)
    form = FollowUpForm(request.POST)
    if not form.is_valid():
        context = {"home": incident.home, "incident": incident, "form": form, "can_run": True}
        return _bad(request, "audits/incident_detail.html", context)
    services.incident_follow_up(incident=incident, by=request.user, **form.cleaned_data)
    messages.success(request, "Follow-up saved.")
    return redirect("incident_detail", incident.pk)


# --- Reports area (R-INS-1, R-INS-2) -------------------------------------------------------------


def _reports_context(home: CareHome, request, **extra) -> dict:
    today = home.local_today()
    context = {
        "home": home,
        "audits": selectors.signed_audits(home),
        "mar_form": MarForm(home=home, initial={"start": today - dt.timedelta(days=27)}),
        "pack_form": PeriodForm(
            initial={
                "start": (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1),
                "end": today,
            }
        ),
        "packs": selectors.evidence_packs(home)[:10],
        "can_run": permissions.has_perm(request.user, Perm.RUN_AUDIT, home),
        "is_inspector": permissions.role_in(request.user, home) == Role.INSPECTOR,
    }
    context.update(extra)
    return context


@require_GET
@requires(Perm.VIEW_REPORTS)
def reports_area(request, home: CareHome):
    _log(request, home, "view", "Reports area")
    return render(request, "audits/reports.html", _reports_context(home, request))


@require_GET
@requires(Perm.VIEW_REPORTS)
def reports_mar_pdf(request, home: CareHome):
    """A MAR chart PDF of any resident (past or present) and period, drawn by the MAR chart
    feature and logged here."""
    form = MarForm(request.GET, home=home)
    if not form.is_valid():
        context = _reports_context(home, request, mar_form=form)
        return _bad(request, "audits/reports.html", context)
    resident, start, days = (form.cleaned_data[k] for k in ("resident", "start", "days"))
    chart = mar_chart(resident=resident, start=start, days=days)
    pdf = render_pdf(
        PRINT_TEMPLATE, print_context([chart], home, f"MAR chart — {resident.full_name}", days)
    )
    _log(
        request, home, "download", f"MAR chart {resident.full_name} from {start:%d %b %Y}", resident
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="mar-{slugify(resident.full_name)}-{start:%Y-%m-%d}.pdf"'
    )
    return response


@require_GET
@requires(Perm.VIEW_REPORTS)
def prn_protocols(request, home: CareHome):
    _log(request, home, "view", "PRN protocols")
    context = {"home": home, "protocols": reports.prn_protocols(home), "today": home.local_today()}
    return render(request, "audits/prn_protocols.html", context)


@require_GET
@requires(Perm.VIEW_REPORTS)
def prn_protocols_pdf(request, home: CareHome):
    _log(request, home, "download", "PRN protocols (PDF)")
    response = HttpResponse(reports.prn_protocols_pdf(home), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="prn-protocols-{home.pk}.pdf"'
    return response


@require_GET
@requires(Perm.VIEW_REPORTS)
def training_matrix_pdf(request, home: CareHome):
    _log(request, home, "download", "Training matrix (PDF)")
    response = HttpResponse(reports.training_matrix_pdf(home), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="training-matrix-{home.pk}.pdf"'
    return response


@require_GET
@requires(Perm.GRANT_INSPECTOR)
def access_log(request, home: CareHome):
    qs = selectors.access_log(home)
    if request.GET.get("who") == "inspectors":
        qs = qs.filter(role=Role.INSPECTOR)
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    return render(request, "audits/access_log.html", {"home": home, "page": page})


@require_POST
@requires(Perm.RUN_AUDIT)
def evidence_pack_request(request, home: CareHome):
    form = PeriodForm(request.POST)
    if form.is_valid():
        try:
            pack = services.evidence_pack_request(home=home, by=request.user, **form.cleaned_data)
        except services.AuditError as e:
            form.add_error(None, e)
        else:
            return redirect(reverse("reports_area", args=[home.pk]) + f"#pack-{pack.pk}")
    return _bad(request, "audits/reports.html", _reports_context(home, request, pack_form=form))


def _pack(request, pack_id: int) -> EvidencePack:
    return scoped_get(
        request.user, Perm.VIEW_REPORTS, EvidencePack.objects.select_related("home"), pk=pack_id
    )


@require_GET
@requires(Perm.VIEW_REPORTS)
def evidence_pack_status(request, pack_id: int):
    pack = _pack(request, pack_id)
    can_run = permissions.has_perm(request.user, Perm.RUN_AUDIT, pack.home)
    return render(request, "audits/partials/pack_status.html", {"pack": pack, "can_run": can_run})


@require_POST
@requires(Perm.RUN_AUDIT)
def evidence_pack_retry(request, pack_id: int):
    """The manager asks again for a pack that failed or stopped (no progress)."""
    pack = scoped_get(
        request.user, Perm.RUN_AUDIT, EvidencePack.objects.select_related("home"), pk=pack_id
    )
    try:
        jobs.build_retry(build=pack, by=request.user)
    except jobs.BuildError as e:
        return HttpResponseBadRequest(e.message, content_type="text/plain; charset=utf-8")
    messages.success(request, "Building the evidence pack again.")
    return redirect(reverse("reports_area", args=[pack.home_id]) + f"#pack-{pack.pk}")


@require_GET
@requires(Perm.VIEW_REPORTS)
def evidence_pack_download(request, pack_id: int):
    pack = _pack(request, pack_id)
    if not pack.is_ready:
        return HttpResponse(
            "The evidence pack is not ready yet.",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    _log(
        request,
        pack.home,
        "download",
        f"Evidence pack {pack.start:%d %b %Y}–{pack.end:%d %b %Y}",
        pack,
    )
    name = f"evidence-{slugify(pack.home.name)}-{pack.start:%Y%m%d}-{pack.end:%Y%m%d}.zip"
    return _file(pack.file, name, "application/zip")
