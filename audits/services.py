"""Writes of the audits feature: the monthly audit (R-AUD-1..4), incidents (R-AUD-5), the
reports area's access log and evidence packs (R-INS-1, R-INS-2).

Every change to an audit locks its row and is refused once the audit is signed (R-AUD-4):
`audit_signed` is the error code.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from django.apps import apps
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from emar import jobs, permissions
from emar import selectors as core_selectors
from emar.models import CareHome, Role, User
from emar.pdf import render_pdf
from emar.periods import PeriodError, period_check
from emar.permissions import Perm
from emar.services import DomainError, audit_append, idempotent, notify
from medications.chart import MAX_DAYS, mar_chart
from medications.models import CdSchedule, Medicine
from medications.rendering import PRINT_TEMPLATE, print_context
from medications.services import cd_register_entries, cd_register_pages
from residents.models import Resident
from residents.selectors import in_room_order
from training.models import MedicineCategory
from training.services import competency_suspend

from . import metrics, reports, selectors
from .models import (
    CANDOUR_HARMS,
    AccessLog,
    ActionStatus,
    Answer,
    Audit,
    AuditAction,
    AuditReport,
    AuditStatus,
    ChecklistAnswer,
    EvidencePack,
    Harm,
    Incident,
    IncidentKind,
    next_month,
)


class AuditError(DomainError):
    """An audit rule refused the change; `code` is stable."""


# --- The monthly audit (R-AUD-1) -----------------------------------------------------------------


def _first_of(month: dt.date) -> dt.date:
    return month.replace(day=1)


@transaction.atomic
def audit_prepare(*, home: CareHome, month: dt.date, by: User | None = None) -> Audit:
    """The home's audit of `month`, computing its metrics when it is new (R-AUD-1).

    Idempotent: beat, a manager and the CLI may all ask; the unique (home, month) rule makes
    one audit, and an existing audit is returned unchanged."""
    month = _first_of(month)
    if month > home.local_today().replace(day=1):
        raise AuditError("That month has not started yet.", code="future_month")
    if existing := Audit.objects.filter(home=home, month=month).first():
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            audit = Audit.objects.create(
                home=home,
                month=month,
                prepared_by=by,
                prepared_at=now,
                metrics=metrics.compute(home, month, now=now),
                metrics_at=now,
            )
    except IntegrityError:  # prepared at the same moment elsewhere
        return Audit.objects.get(home=home, month=month)
    audit_append(
        home=home,
        actor=by,
        action="audit.prepared",
        obj=audit,
        after={"month": month.isoformat()},
    )
    return audit


def _draft(audit: Audit) -> Audit:
    """Lock the audit row and refuse if it is signed."""
    locked = Audit.objects.select_for_update().select_related("home").get(pk=audit.pk)
    if locked.status == AuditStatus.SIGNED:
        raise AuditError(
            "This audit is signed and locked: nothing in it can change.", code="audit_signed"
        )
    return locked


@transaction.atomic
def audit_refresh(*, audit: Audit, by: User | None) -> Audit:
    """Recompute the metrics of a draft (e.g. after late entries)."""
    audit = _draft(audit)
    now = timezone.now()
    audit.metrics = metrics.compute(audit.home, audit.month, now=now)
    audit.metrics_at = now
    audit.save(update_fields=["metrics", "metrics_at"])
    audit_append(home=audit.home, actor=by, action="audit.refreshed", obj=audit)
    return audit


@transaction.atomic
def checklist_save(
    *, audit: Audit, answers: dict[int, tuple[str, str]], by: User, summary: str | None = None
) -> Audit:
    """Save answers {question id: (yes/no/na, comment)}; a blank answer is left unanswered
    (R-AUD-2). A "no" needs a comment saying what was found."""
    audit = _draft(audit)
    questions = {q.pk: q for q in selectors.questions_for(audit)}
    problems = []
    for qid, (answer, comment) in answers.items():
        if qid not in questions:
            raise AuditError("That question is not on this checklist.", code="bad_question")
        if answer and answer not in Answer.values:
            raise AuditError("Answer yes, no or n.a.", code="bad_answer")
        if answer == Answer.NO and not comment.strip():
            problems.append(questions[qid].text)
    if problems:
        raise AuditError(
            "Say what was found for each “no”: " + "; ".join(p[:60] for p in problems),
            code="comment_required",
        )
    existing = {a.question_id: a for a in ChecklistAnswer.objects.filter(audit=audit)}
    changed: dict[str, str | bool | None] = {}
    for qid, (answer, comment) in answers.items():
        comment = comment.strip()
        current = existing.get(qid)
        if not answer:
            if current:
                current.delete()
                changed[questions[qid].code] = None
            continue
        if current and (current.answer, current.comment) == (answer, comment):
            continue
        ChecklistAnswer.objects.update_or_create(
            audit=audit,
            question=questions[qid],
            defaults={
                "answer": answer,
                "comment": comment,
                "answered_by": by,
                "answered_at": timezone.now(),
            },
        )
        changed[questions[qid].code] = answer
    if summary is not None and summary.strip() != audit.summary:
        audit.summary = summary.strip()
        audit.save(update_fields=["summary"])
        changed["summary"] = True
    if changed:
        audit_append(home=audit.home, actor=by, action="audit.checklist", obj=audit, after=changed)
    return audit


def _staff_of(home: CareHome, user: User) -> bool:
    return permissions.role_in(user, home) in (Role.CARER, Role.SENIOR, Role.MANAGER, "admin")


@idempotent(AuditAction, scope=lambda audit, **_: {"raised_in_id": audit.pk})
@transaction.atomic
def action_add(
    *,
    audit: Audit,
    description: str,
    owner: User,
    due_on: dt.date,
    by: User,
    idempotency_key: UUID | None = None,
) -> AuditAction:
    """A finding becomes an action with an owner and a due date (R-AUD-3)."""
    audit = _draft(audit)
    if not description.strip():
        raise AuditError("Describe the action.", code="description_required")
    if not _staff_of(audit.home, owner):
        raise AuditError("The owner must be on the staff of this home.", code="bad_owner")
    action = AuditAction.objects.create(
        home=audit.home,
        raised_in=audit,
        description=description.strip(),
        owner=owner,
        due_on=due_on,
        created_by=by,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=audit.home,
        actor=by,
        action="audit.action.added",
        obj=action,
        after={"description": action.description, "owner": owner.pk, "due_on": due_on},
    )
    return action


@transaction.atomic
def action_update(
    *, audit: Audit, action: AuditAction, status: str, note: str = "", by: User
) -> AuditAction:
    """Move an action on, within a draft audit in which it appears (raised or carried)."""
    audit = _draft(audit)
    if not selectors.actions_for(audit).filter(pk=action.pk).exists():
        raise AuditError("That action is not part of this audit.", code="bad_action")
    if status not in ActionStatus.values:
        raise AuditError("Choose open, in progress or done.", code="bad_status")
    action = AuditAction.objects.select_for_update().get(pk=action.pk)
    before = {"status": action.status, "note": action.note}
    action.status = status
    action.note = note.strip() or action.note
    if status == ActionStatus.DONE:
        action.closed_in = action.closed_in or audit
        action.closed_at = action.closed_at or timezone.now()
    else:
        action.closed_in, action.closed_at = None, None
    action.save()
    audit_append(
        home=audit.home,
        actor=by,
        action="audit.action.updated",
        obj=action,
        before=before,
        after={"status": action.status, "note": action.note},
    )
    return action


@transaction.atomic
def audit_sign(*, audit: Audit, by: User, summary: str | None = None) -> Audit:
    """Sign the audit (R-AUD-4): the metrics are computed once more and frozen with the
    checklist and actions, the audit is locked, and the report is queued to be built."""
    audit = _draft(audit)
    if not permissions.has_perm(by, Perm.RUN_AUDIT, audit.home):
        raise AuditError("Only a manager can sign the audit.", code="not_allowed")
    if summary is not None:
        audit.summary = summary.strip()
    s = selectors.score(audit)
    if not s.complete:
        raise AuditError(
            f"Answer every checklist question first ({s.unanswered} left).",
            code="checklist_incomplete",
        )
    now = timezone.now()
    audit.metrics = metrics.compute(audit.home, audit.month, now=now)
    audit.metrics_at = now
    blocking = [c for c in selectors.checklist_contradictions(audit) if c.blocks]
    if blocking:
        # Refused outright, not signed with a note: an audit must not contradict its own figures
        # (audits.consistency says which answers can be explained and which must change).
        texts = {q.code: q.text for q in selectors.questions_for(audit)}
        raise AuditError(
            "The checklist contradicts this month's figures: "
            + " ".join(
                f"“{texts.get(c.question, c.question)[:70]}” — {c.advice}" for c in blocking
            ),
            code="checklist_contradicted",
        )
    audit.signed_snapshot = reports.snapshot(audit)
    audit.score, audit.rag = s.percent, s.rag or ""
    audit.status = AuditStatus.SIGNED
    audit.signed_by, audit.signed_at = by, now
    audit.save()
    report, _ = AuditReport.objects.get_or_create(audit=audit)
    audit_append(
        home=audit.home,
        actor=by,
        action="audit.signed",
        obj=audit,
        after={"month": audit.month.isoformat(), "score": s.percent, "rag": s.rag},
    )
    jobs.build_enqueue(report)
    return audit


def audit_report_build(*, report_id: int, attempt: int | None = None) -> AuditReport:
    """Build and store the signed audit's PDF once (R-AUD-4). A second run (a retry, another
    worker) finds it ready and does nothing; a job of an earlier attempt does nothing either
    (`emar.jobs`: a stalled build is queued again)."""
    report = jobs.build_start(model=AuditReport, pk=report_id, attempt=attempt)
    if report is None:
        return AuditReport.objects.get(pk=report_id)
    jobs.build_progress(report, 20)
    try:
        pdf = reports.report_pdf(Audit.objects.select_related("home").get(pk=report.audit_id))
    except Exception as e:
        jobs.build_fail(report, str(e))
        raise
    return jobs.build_finish(build=report, content=pdf, suffix=".pdf")


@transaction.atomic
def audit_report_retry(*, audit: Audit, by: User) -> AuditReport:
    """Queue the report again after a failure, or when its build stopped (no progress for
    `BUILD_STALE_MINUTES`)."""
    report = AuditReport.objects.select_related("audit__home").get(audit=audit)
    return jobs.build_retry(build=report, by=by)


# --- Incidents (R-AUD-5) -------------------------------------------------------------------------


def _next_reference(home: CareHome, when: dt.datetime) -> str:
    year = when.astimezone(home.tz).year
    count = Incident.objects.filter(home=home, reference__startswith=f"INC-{year}-").count()
    return f"INC-{year}-{count + 1:04d}"


@idempotent(Incident, scope=lambda home, **_: {"home_id": home.pk})
@transaction.atomic
def incident_report(
    *,
    home: CareHome,
    by: User,
    kind: str,
    stage: str,
    type: str,
    harm: str,
    occurred_at: dt.datetime,
    description: str,
    immediate_action: str,
    staff: Iterable[User] = (),
    residents: Iterable[Resident] = (),
    abuse_suspected: bool = False,
    suspend: Iterable[str] = (MedicineCategory.ORAL,),
    idempotency_key: UUID | None = None,
) -> Incident:
    """Report a medicines error or near miss (R-AUD-5). Each member of staff named has the
    chosen competencies suspended until reassessed (R-TRN-3); the manager is told, urgently
    when there is harm or abuse (duty of candour, CQC notification)."""
    staff, residents, suspend = list(staff), list(residents), list(dict.fromkeys(suspend))
    if not permissions.has_perm(by, Perm.REPORT_INCIDENT, home):
        raise AuditError("Your role cannot report incidents here.", code="not_allowed")
    if occurred_at > timezone.now() + dt.timedelta(minutes=5):
        raise AuditError("When it happened cannot be in the future.", code="future_time")
    if kind == IncidentKind.NEAR_MISS and harm != Harm.NONE:
        raise AuditError("A near miss did not reach the resident: no harm.", code="near_miss_harm")
    if not description.strip() or not immediate_action.strip():
        raise AuditError("Say what happened and what was done at once.", code="details_required")
    for person in staff:
        if not _staff_of(home, person):
            raise AuditError(f"{person} is not on the staff of {home}.", code="not_staff")
    for resident in residents:
        if resident.home_id != home.pk:
            raise AuditError("That resident is not in this home.", code="wrong_home")
    if staff and not suspend:
        raise AuditError(
            "Choose which competency to suspend for the staff named.", code="categories_required"
        )
    for _ in range(3):
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    home=home,
                    reference=_next_reference(home, occurred_at),
                    kind=kind,
                    stage=stage,
                    type=type,
                    harm=harm,
                    occurred_at=occurred_at,
                    description=description.strip(),
                    immediate_action=immediate_action.strip(),
                    abuse_suspected=abuse_suspected,
                    suspended_categories=suspend if staff else [],
                    reported_by=by,
                    idempotency_key=idempotency_key,
                )
            break
        except IntegrityError:
            if (
                idempotency_key
                and Incident.objects.filter(idempotency_key=idempotency_key).exists()
            ):
                raise  # the same form sent twice at once: `idempotent` returns the first
            continue  # two reports took the same number: take the next
    else:
        raise AuditError("Could not number the incident; try again.", code="busy")
    incident.staff.set(staff)
    incident.residents.set(residents)
    for person in staff:
        competency_suspend(
            person=person,
            home=home,
            categories=suspend,
            reason=f"Medicines incident {incident.reference}: {incident.get_type_display()}",
            by=by,
            incident_ref=incident.reference,
        )
    audit_append(
        home=home,
        actor=by,
        action="incident.reported",
        record=incident,
        after={
            "reference": incident.reference,
            "kind": kind,
            "stage": stage,
            "type": type,
            "harm": harm,
            "staff": [p.pk for p in staff],
            "residents": [r.pk for r in residents],
            "suspended": incident.suspended_categories,
        },
    )
    managers = core_selectors.staff_of_home(home, [Role.MANAGER])
    serious = harm in CANDOUR_HARMS or abuse_suspected
    notify(
        recipients=managers,
        home=home,
        kind="incident",
        subject=f"incident:{incident.pk}",
        title=f"Medicines incident {incident.reference}: {incident.get_type_display()}"
        + (" — duty of candour / CQC notification to consider" if serious else ""),
        body=incident.description[:300],
        link=reverse("incident_detail", args=[incident.pk]),
        urgent=serious,
    )
    return incident


@transaction.atomic
def incident_follow_up(
    *,
    incident: Incident,
    by: User,
    candour_done_on: dt.date | None,
    cqc_notified_on: dt.date | None,
    safeguarding_referred_on: dt.date | None,
    follow_up: str,
) -> Incident:
    """The manager records the duty of candour, CQC notification and the learning."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    fields = ("candour_done_on", "cqc_notified_on", "safeguarding_referred_on", "follow_up")
    before = {f: getattr(incident, f) for f in fields}
    incident.candour_done_on = candour_done_on
    incident.cqc_notified_on = cqc_notified_on
    incident.safeguarding_referred_on = safeguarding_referred_on
    incident.follow_up = follow_up.strip()
    incident.save(update_fields=list(fields))
    audit_append(
        home=incident.home_id,
        actor=by,
        action="incident.follow_up",
        record=incident,
        before=before,
        after={f: getattr(incident, f) for f in fields},
    )
    return incident


# --- Reports area (R-INS-1, R-INS-2) -------------------------------------------------------------


def access_log(
    *,
    home: CareHome | int,
    user: User,
    action: str,
    what: str,
    obj=None,
    path: str = "",
    object_type: str = "",
    object_id: str = "",
) -> AccessLog:
    """Record a view or download (R-INS-1). Append-only.

    Pages write through `access_log_request` (called by the middleware once the response
    succeeded); this is the one place a row is made."""
    home_id = home if isinstance(home, int) else home.pk
    return AccessLog.objects.create(
        home_id=home_id,
        user=user,
        role=permissions.role_in(user, home_id) or "",
        action=action,
        what=what[:200],
        object_type=obj._meta.label if obj is not None else object_type,
        object_id=str(obj.pk) if obj is not None else object_id,
        path=path[:300],
    )


@dataclass(frozen=True)
class AccessNote:
    home: CareHome
    action: str
    what: str
    obj: object = None


ACCESS_NOTE = "audits_access_note"

# The URL keyword that names the object a page shows, and where that object's home is, most
# specific first: `/audits/7/actions/3/` is about audit 7; `/residents/5/cd-register/9/` about
# resident 5. An inspector's page is logged against the home of the first keyword present.
ACCESS_SUBJECTS: tuple[tuple[str, str, str], ...] = (
    ("audit_id", "audits.Audit", "home_id"),
    ("incident_id", "audits.Incident", "home_id"),
    ("pack_id", "audits.EvidencePack", "home_id"),
    ("print_id", "medications.MarPrint", "home_id"),
    ("administration_id", "medications.Administration", "home_id"),
    ("dose_id", "medications.ScheduledDose", "home_id"),
    ("movement_id", "medications.StockMovement", "home_id"),
    ("version_id", "medications.ScheduleVersion", "line__home_id"),
    ("variable_dose_id", "medications.VariableDose", "line__home_id"),
    ("authorisation_id", "medications.HomelyRemedyAuthorisation", "home_id"),
    ("line_id", "medications.PrescriptionLine", "home_id"),
    ("order_id", "medications.MedicineOrder", "home_id"),
    ("order_item_id", "medications.OrderItem", "order__home_id"),
    ("delivery_discrepancy_id", "medications.DeliveryDiscrepancy", "home_id"),
    ("import_id", "medications.PharmacyImport", "line__home_id"),
    ("document_id", "residents.ResidentDocument", "resident__home_id"),
    ("allergy_id", "residents.Allergy", "resident__home_id"),
    ("discrepancy_id", "residents.Discrepancy", "reconciliation__resident__home_id"),
    ("reconciliation_id", "residents.Reconciliation", "resident__home_id"),
    ("resident_id", "residents.Resident", "home_id"),
    ("record_id", "training.TrainingRecord", "home_id"),
    ("policy_id", "training.MedicinesPolicy", "home_id"),
    ("membership_id", "emar.Membership", "home_id"),
    ("home_id", "emar.CareHome", "pk"),
)
# Keywords that only ever appear next to one of the above (the permission-matrix walk checks).
ACCESS_SECONDARY = frozenset(
    {
        "action_id",
        "medicine_id",
        "staff_id",
        "unit_id",
        "metric",
        "token_id",
        "member_id",
        "throttle_id",
        "round_id",
        "code_id",
    }
)
# Pages whose every successful read is logged, whoever reads them: a resident's documents
# (R-RES-7; discharge letters, capacity assessments) are logged for staff as for inspectors.
ACCESS_ALWAYS_LOGGED = frozenset({"resident_document"})
# Status polls of a building report repeat every two seconds; they show no record.
ACCESS_NOT_LOGGED = frozenset(
    {"notification_badge", "audit_report_status", "evidence_pack_status", "mar_print_status"}
)

_TITLE = re.compile(rb"<title>\s*(.*?)\s*(?:\xc2\xb7 eMAR)?\s*</title>", re.S | re.I)
_FILENAME = re.compile(r'filename="?([^";]+)"?')


def access_note(request, *, home: CareHome, action: str, what: str, obj=None) -> None:
    """Describe what a reports-area page showed, for everyone who opens it, not only inspectors
    (R-INS-1). The middleware writes it once the response succeeded."""
    setattr(request, ACCESS_NOTE, AccessNote(home=home, action=action, what=what, obj=obj))


def access_subject(kwargs: dict) -> tuple[int, str, str] | None:
    """(home id, object type, object id) of the page the URL keywords name, or None."""
    for kwarg, label, home_field in ACCESS_SUBJECTS:
        if kwarg in kwargs:
            model = apps.get_model(label)
            home_id = (
                model.objects.filter(pk=kwargs[kwarg]).values_list(home_field, flat=True).first()
            )
            if home_id is None:
                return None
            return home_id, "" if label == "emar.CareHome" else label, str(kwargs[kwarg])
    return None


def _describe(request, response) -> tuple[str, str]:
    """("view" or "download", what the person saw): the file name of a download, the title
    of a page, else the page's URL name."""
    disposition = response.get("Content-Disposition", "")
    content_type = response.get("Content-Type", "")
    if disposition or not content_type.startswith("text/html"):
        found = _FILENAME.search(disposition)
        return "download", found.group(1) if found else request.path
    if not response.streaming and (title := _TITLE.search(response.content[:4096])):
        return "view", html.unescape(title.group(1).decode("utf-8", "replace"))
    return "view", request.resolver_match.url_name.replace("_", " ").capitalize()


def access_log_request(request, response) -> AccessLog | None:
    """Log a successful GET (R-INS-1): every page and download an inspector opens in a home
    they were granted, and every reports-area page (`access_note`) whoever opens it.

    Called by `emar.middleware.InspectorAccessLogMiddleware` (settings.EMAR_ACCESS_LOGGER)."""
    user = request.user
    path = request.get_full_path()
    if note := getattr(request, ACCESS_NOTE, None):
        return access_log(
            home=note.home,
            user=user,
            action=note.action,
            what=note.what,
            obj=note.obj,
            path=path,
        )
    if request.resolver_match.url_name in ACCESS_NOT_LOGGED:
        return None
    if request.resolver_match.url_name in ACCESS_ALWAYS_LOGGED:
        if (subject := access_subject(request.resolver_match.kwargs)) is None:
            return None
        action, what = _describe(request, response)
        return access_log(
            home=subject[0],
            user=user,
            action=action,
            what=what,
            path=path,
            object_type=subject[1],
            object_id=subject[2],
        )
    if response.get("Content-Type", "").startswith("image/"):
        return None  # photos on a page: the page is logged, not each image it shows
    homes = permissions.home_ids_for(user)
    if not any(permissions.role_in(user, home_id) == Role.INSPECTOR for home_id in homes):
        return None  # no query for staff: their roles are already cached for the request
    subject = access_subject(request.resolver_match.kwargs)
    if subject is None:
        return None
    home_id, object_type, object_id = subject
    if permissions.role_in(user, home_id) != Role.INSPECTOR:
        return None
    action, what = _describe(request, response)
    return access_log(
        home=home_id,
        user=user,
        action=action,
        what=what,
        path=path,
        object_type=object_type,
        object_id=object_id,
    )


MAX_PACK_DAYS = 92


@transaction.atomic
def evidence_pack_request(
    *, home: CareHome, start: dt.date, end: dt.date, by: User
) -> EvidencePack:
    """Queue an evidence pack for `start`..`end` (R-INS-2)."""
    if end < start:
        raise AuditError("The end date is before the start date.", code="bad_period")
    if (end - start).days + 1 > MAX_PACK_DAYS:
        raise AuditError(f"Choose at most {MAX_PACK_DAYS} days.", code="period_too_long")
    if end > home.local_today():
        raise AuditError("The period cannot end in the future.", code="bad_period")
    try:
        period_check(start=start, end=end, today=home.local_today(), max_days=MAX_PACK_DAYS)
    except PeriodError as e:
        raise AuditError(str(e.message), code="bad_period") from None
    pack = EvidencePack.objects.create(home=home, start=start, end=end, requested_by=by)
    audit_append(
        home=home,
        actor=by,
        action="evidence_pack.requested",
        obj=pack,
        after={"start": start, "end": end},
    )
    jobs.build_enqueue(pack)
    return pack


def _progress(pack: EvidencePack, percent: int, step: str) -> None:
    jobs.build_progress(pack, percent, step)


def _periods(start: dt.date, end: dt.date, days: int) -> list[tuple[dt.date, int]]:
    out, day = [], start
    while day <= end:
        length = min(days, (end - day).days + 1)
        out.append((day, length))
        day += dt.timedelta(days=length)
    return out


def evidence_pack_build(*, pack_id: int, attempt: int | None = None) -> EvidencePack:
    """Build the ZIP: signed audit reports of months in the period, every resident's MAR
    charts, the CD register (when the stock feature offers it), PRN protocols and the
    training matrix. Built once; a rerun of a ready pack does nothing."""
    pack = jobs.build_start(model=EvidencePack, pk=pack_id, attempt=attempt)
    if pack is None:
        return EvidencePack.objects.get(pk=pack_id)
    home = pack.home
    buffer = io.BytesIO()
    contents: list[str] = []
    try:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:

            def add(name: str, data: bytes) -> None:
                z.writestr(name, data)
                contents.append(name)

            _progress(pack, 5, "Audit reports")
            first_month = pack.start.replace(day=1)
            for audit in selectors.signed_audits(home).filter(
                month__gte=first_month, month__lte=pack.end
            ):
                report = getattr(audit, "report", None)
                if report is not None and report.is_ready:
                    with report.file.open("rb") as f:
                        add(f"audits/audit-{audit.month:%Y-%m}.pdf", f.read())
            residents = in_room_order(
                Resident.objects.filter(home=home, admitted_on__lte=pack.end)
                .exclude(left_on__lt=pack.start)
                .select_related("home", "unit")
            )
            for i, resident in enumerate(residents):
                _progress(pack, 10 + int(70 * i / max(len(residents), 1)), f"MAR: {resident}")
                charts = [
                    mar_chart(resident=resident, start=s, days=n)
                    for s, n in _periods(pack.start, pack.end, MAX_DAYS)
                ]
                pdf = render_pdf(
                    PRINT_TEMPLATE,
                    print_context(charts, home, f"MAR chart — {resident.full_name}", MAX_DAYS),
                )
                add(
                    f"mar/{slugify(resident.unit.name)}-{resident.room}-"
                    f"{slugify(resident.full_name)}.pdf",
                    pdf,
                )
            _progress(pack, 82, "CD register")
            for name, pdf in _cd_register_pdfs(home):
                add(name, pdf)
            _progress(pack, 88, "PRN protocols")
            add("prn-protocols.pdf", reports.prn_protocols_pdf(home))
            _progress(pack, 94, "Training matrix")
            add("training-matrix.pdf", reports.training_matrix_pdf(home))
    except Exception as e:
        jobs.build_fail(pack, str(e))
        raise
    return jobs.build_finish(
        build=pack, content=buffer.getvalue(), suffix=".zip", contents=contents, step="Ready"
    )


def _cd_register_pdfs(home: CareHome) -> list[tuple[str, bytes]]:
    """The CD register, one PDF per resident and product, drawn by the stock feature."""
    out = []
    residents = {r.pk: r for r in Resident.objects.filter(home=home).select_related("home")}
    for page in cd_register_pages(home=home):
        resident = residents[page["resident_id"]]
        medicine = Medicine.objects.get(pk=page["line__medicine_id"])
        context = {
            "home": home,
            "resident": resident,
            "medicine": medicine,
            "schedule": CdSchedule(medicine.cd_schedule).label
            if medicine.cd_schedule in CdSchedule.values
            else medicine.cd_schedule,
            "entries": cd_register_entries(resident=resident, medicine=medicine),
            "printed_at": timezone.now(),
        }
        pdf = render_pdf("medications/stock/cd_register_print.html", context)
        out.append((f"cd-register/{slugify(resident.full_name)}-{slugify(medicine.name)}.pdf", pdf))
    return out


def months_between(start: dt.date, end: dt.date) -> list[dt.date]:
    out, month = [], start.replace(day=1)
    while month <= end:
        out.append(month)
        month = next_month(month)
    return out
