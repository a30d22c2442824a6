"""Reads of the audits feature, each narrowed to one home (the view has already checked it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from emar.models import CareHome

from . import consistency
from .models import (
    AccessLog,
    Answer,
    Audit,
    AuditAction,
    ChecklistAnswer,
    ChecklistQuestion,
    EvidencePack,
    Incident,
    Section,
    rag_for,
)


def audits_of(home: CareHome) -> QuerySet[Audit]:
    return Audit.objects.filter(home=home).select_related("signed_by", "report").order_by("-month")


def signed_audits(home: CareHome) -> QuerySet[Audit]:
    return audits_of(home).filter(status="signed")


@dataclass
class ChecklistRow:
    question: ChecklistQuestion
    answer: ChecklistAnswer | None
    # "Yes" answers the month's figures contradict (audits.consistency), shown before signing.
    flags: list[consistency.Contradiction] = field(default_factory=list)


@dataclass
class ChecklistSection:
    key: str
    label: str
    rows: list[ChecklistRow]


def questions_for(audit: Audit) -> list[ChecklistQuestion]:
    """The active questions, plus any retired one this audit already answered."""
    answered = ChecklistAnswer.objects.filter(audit=audit).values("question_id")
    return list(ChecklistQuestion.objects.filter(Q(active=True) | Q(pk__in=answered)))


def checklist(audit: Audit) -> list[ChecklistSection]:
    answers = {
        a.question_id: a
        for a in ChecklistAnswer.objects.filter(audit=audit).select_related("answered_by")
    }
    sections = {s.value: ChecklistSection(s.value, s.label, []) for s in Section}
    questions = questions_for(audit)
    flags = consistency.by_question(
        consistency.contradictions(
            audit.metrics or {},
            {
                q.code: (answers[q.pk].answer, answers[q.pk].comment)
                for q in questions
                if q.pk in answers
            },
        )
    )
    for q in questions:
        sections[q.section].rows.append(ChecklistRow(q, answers.get(q.pk), flags.get(q.code, [])))
    return [s for s in sections.values() if s.rows]


def checklist_contradictions(audit: Audit) -> list[consistency.Contradiction]:
    """The "yes" answers the audit's figures contradict (R-AUD-2, R-AUD-4)."""
    answers = {
        code: (answer, comment)
        for code, answer, comment in ChecklistAnswer.objects.filter(audit=audit).values_list(
            "question__code", "answer", "comment"
        )
    }
    return consistency.contradictions(audit.metrics or {}, answers)


@dataclass(frozen=True)
class Score:
    yes: int
    no: int
    na: int
    unanswered: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.yes / (self.yes + self.no)) if self.yes + self.no else None

    @property
    def rag(self) -> str | None:
        return rag_for(self.percent)

    @property
    def complete(self) -> bool:
        return self.unanswered == 0


def score(audit: Audit) -> Score:
    """Yes out of yes + no (n.a. left out); red / amber / green by the thresholds (R-AUD-2)."""
    questions = {q.pk for q in questions_for(audit)}
    given = dict(
        ChecklistAnswer.objects.filter(audit=audit, question_id__in=questions).values_list(
            "question_id", "answer"
        )
    )
    values = list(given.values())
    return Score(
        yes=values.count(Answer.YES),
        no=values.count(Answer.NO),
        na=values.count(Answer.NA),
        unanswered=len(questions) - len(given),
    )


def actions_for(audit: Audit) -> QuerySet[AuditAction]:
    """Actions raised in this audit, and those raised earlier that were still open when this
    audit's month began or were closed in it (carried forward, R-AUD-3)."""
    earlier = Q(home=audit.home, raised_in__month__lt=audit.month) & (
        Q(closed_in__isnull=True) | Q(closed_in__month__gte=audit.month)
    )
    return (
        AuditAction.objects.filter(Q(raised_in=audit) | earlier)
        .select_related("owner", "raised_in", "closed_in")
        .order_by("raised_in__month", "due_on", "pk")
    )


def action_rows(audit: Audit, actions: list[AuditAction] | None = None) -> list[dict]:
    actions = actions if actions is not None else list(actions_for(audit))
    return [
        {
            "id": a.pk,
            "description": a.description,
            "owner": str(a.owner),
            "due_on": a.due_on.isoformat(),
            "status": a.status,
            "status_label": a.get_status_display(),
            "note": a.note,
            "raised_in": a.raised_in.month.isoformat(),
            "carried_forward": a.raised_in_id != audit.pk,
        }
        for a in actions
    ]


def trend(audit: Audit, months: int = 6) -> list[dict]:
    """This audit and up to `months` earlier ones of the home: score, rating and gap rate."""
    rows = list(
        Audit.objects.filter(home=audit.home, month__lte=audit.month)
        .order_by("-month")
        .values("pk", "month", "score", "rag", "metrics", "status")[: months + 1]
    )
    result = []
    for r in reversed(rows):
        if r["pk"] == audit.pk and not audit.is_signed:
            s = score(audit)
            r["score"], r["rag"] = s.percent, s.rag
        result.append(
            {
                "month": r["month"].isoformat(),
                "label": f"{r['month']:%b %y}",
                "score": r["score"],
                "rag": r["rag"] or None,
                "gap_rate": (r["metrics"] or {}).get("doses", {}).get("gap_rate"),
                "gaps": (r["metrics"] or {}).get("doses", {}).get("gaps"),
                "incidents": (r["metrics"] or {}).get("incidents", {}).get("total"),
                "signed": r["status"] == "signed",
            }
        )
    return result


def incidents_of(home: CareHome) -> QuerySet[Incident]:
    return (
        Incident.objects.filter(home=home)
        .select_related("reported_by")
        .prefetch_related("staff", "residents")
    )


def incidents_all() -> QuerySet[Incident]:
    return Incident.objects.select_related("home", "reported_by").prefetch_related(
        "staff", "residents"
    )


def access_log(home: CareHome) -> QuerySet[AccessLog]:
    return AccessLog.objects.filter(home=home).select_related("user")


def evidence_packs(home: CareHome) -> QuerySet[EvidencePack]:
    return EvidencePack.objects.filter(home=home).select_related("requested_by")


def previous_audit(audit: Audit) -> Audit | None:
    return Audit.objects.filter(home=audit.home, month__lt=audit.month).order_by("-month").first()


def month_choices(home: CareHome, today: dt.date, count: int = 12) -> list[dt.date]:
    """The months a manager may prepare: this month and the `count` - 1 before it."""
    first = today.replace(day=1)
    months = [first]
    for _ in range(count - 1):
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return months


# --- The records behind each metric (R-AUD-1: every number links to its records) --------------

METRIC_PAGES: dict[str, str] = {
    "gaps": "Omissions (gaps): no final record when the window closed",
    "not_given": "Doses not given (with their code)",
    "refusals": "Refusals",
    "late_entries": "Late entries (recorded after the window closed)",
    "given_late": "Doses given after the window closed",
    "time_sensitive_late": "Time-sensitive doses given late",
    "prn": "PRN doses given",
    "prn_no_follow_up": "PRN doses without an effectiveness follow-up",
    "prn_overrides": "PRN doses given with a limit override",
    "cd_no_witness": "Controlled drugs given without a witness",
}


def metric_records(audit: Audit, key: str) -> list:
    """The records behind one metric of `audit`, as of when its metrics were computed."""
    from django.db.models import F

    from . import metrics

    home, month = audit.home, audit.month
    now = audit.metrics_at or audit.prepared_at
    related = ("resident", "resident__unit", "line__medicine", "recorded_by", "code", "dose")
    if key == "gaps":
        return list(
            metrics.gaps(home, month, now)
            .select_related("resident", "resident__unit", "line__medicine")
            .order_by("due_at", "resident__full_name")
        )
    records = metrics.scheduled_records(home, month)
    prn = metrics.prn_records(home, month).filter(outcome="given")
    qs = {
        "not_given": records.filter(outcome="not_given"),
        "refusals": metrics.refusals(home, month),
        "late_entries": records.filter(late=True),
        "given_late": records.filter(outcome="given", administered_at__gt=F("dose__window_closes")),
        "time_sensitive_late": records.filter(
            outcome="given",
            administered_at__gt=F("dose__window_closes"),
            dose__time_sensitive=True,
        ),
        "prn": prn,
        "prn_no_follow_up": prn.filter(follow_up__isnull=True).filter(
            Q(corrects__isnull=True) | Q(corrects__follow_up__isnull=True)
        ),
        "prn_overrides": prn.filter(prn_override_by__isnull=False),
        "cd_no_witness": metrics.cd_without_witness(home, month),
    }[key]
    return list(qs.select_related(*related).order_by("administered_at", "pk"))
