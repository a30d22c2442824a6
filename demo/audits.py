"""Demo audits and incidents (R-RUN-4): last month's audit of Demo Care Home prepared,
checklist answered, two actions (one still open), signed by the manager, with its PDF report
built here (not by the worker); one near miss naming no one and one error naming `carer3`, whose
topical competency is suspended (`carer` stays able to record). Idempotent."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from audits import consistency, services
from audits.checklist import DEFAULT_QUESTIONS
from audits.models import (
    ActionStatus,
    Answer,
    Audit,
    AuditReport,
    ChecklistQuestion,
    Incident,
    previous_month,
)

from .organisation import DemoContext

NO_ANSWERS = {
    "storage-dates": "Two eye-drop bottles in Willow had no date of opening; replaced.",
    "prn-reasons": "A few PRN doses had no effectiveness follow-up recorded (see the audit).",
}
NA_ANSWERS = {"self-admin-reviewed": "Reviewed in the care plan review cycle, not monthly."}
# The demo answers the way an honest manager would: where the month's figures contradict a
# "yes" (audits.consistency), the answer is "no" with what was found, or a "yes" with the
# explanation. The demo never ships a signed audit that contradicts itself.
FINDINGS = {
    "records-complete": "{figure}. Each reviewed with the carer on shift; see the action.",
    "records-allergies": "{figure}. The newest admission; the GP surgery has been asked.",
    "records-reviews": "{figure}. Reviews booked with the GP practice.",
    "prn-protocols": "{figure}. The senior is rewriting them with the GP.",
    "prn-reasons": "{figure}. Staff reminded; see the action.",
    "cd-witness": "{figure}. Reported as an incident and investigated.",
    "covert-plans": "{figure}. Review booked with the pharmacist.",
}
EXPLANATIONS = {
    "records-transcribing": "Lines entered on the last day, checked by a second senior the "
    "next morning; none reached a round unchecked.",
    "storage-temperature": "Each excursion was acted on: the pharmacy advised, stock checked.",
    "cd-checks": "Each discrepancy was investigated and resolved with the CD register.",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]  # not str.capitalize: it would lower "MAR" and "CD"


def _honest(audit: Audit, answers: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Turn every "yes" the figures contradict into a "no" saying what was found, or add the
    explanation the rule asks for (R-AUD-2, audits.consistency)."""
    result = dict(answers)
    for c in consistency.contradictions(audit.metrics, answers):
        if c.kind == consistency.REFUSE:
            result[c.question] = (
                Answer.NO,
                FINDINGS.get(c.question, "{figure}.").format(figure=_sentence(c.figure)),
            )
        elif c.blocks:
            result[c.question] = (
                Answer.YES,
                EXPLANATIONS.get(c.question, f"{_sentence(c.figure)}. Each one followed up."),
            )
    return result


NEAR_MISS = "Paracetamol for the wrong resident was prepared at the lunchtime round"
ERROR = "Emollient cream applied to the wrong leg"


def _incidents(ctx: DemoContext, month: dt.date) -> None:
    home, manager = ctx.home, ctx.users["manager"]
    at = dt.datetime.combine(month + dt.timedelta(days=9), dt.time(12, 20), tzinfo=home.tz)
    if not Incident.objects.filter(home=home, description__startswith=NEAR_MISS).exists():
        services.incident_report(
            home=home,
            by=manager,
            kind="near_miss",
            stage="administering",
            type="wrong_resident",
            harm="none",
            occurred_at=at,
            description=NEAR_MISS + "; the photo check on the dose screen stopped it.",
            immediate_action="Dose destroyed and recorded; the round re-checked by the senior.",
            suspend=(),
        )
    if not Incident.objects.filter(home=home, description__startswith=ERROR).exists():
        services.incident_report(
            home=home,
            by=manager,
            kind="error",
            stage="administering",
            type="wrong_route",
            harm="low",
            occurred_at=at + dt.timedelta(days=6, hours=-3),
            description=ERROR + " (prescribed for the left leg only).",
            immediate_action="Cream washed off, skin checked, GP informed; no reaction.",
            staff=[ctx.users["carer3"]],
            suspend=["topical"],
        )


@transaction.atomic
def _audit(ctx: DemoContext, month: dt.date) -> Audit:
    home, manager = ctx.home, ctx.users["manager"]
    audit = services.audit_prepare(home=home, month=month, by=manager)
    if audit.is_signed:
        return audit
    audit = services.audit_refresh(audit=audit, by=manager)  # the figures it will be signed on
    questions = {q.code: q.pk for q in ChecklistQuestion.objects.filter(active=True)}
    answers: dict[str, tuple[str, str]] = {}
    for code, _section, _text in DEFAULT_QUESTIONS:
        if code not in questions:
            continue
        if code in NO_ANSWERS:
            answers[code] = (Answer.NO, NO_ANSWERS[code])
        elif code in NA_ANSWERS:
            answers[code] = (Answer.NA, NA_ANSWERS[code])
        else:
            answers[code] = (Answer.YES, "")
    answers = _honest(audit, answers)
    services.checklist_save(
        audit=audit,
        answers={questions[code]: answer for code, answer in answers.items()},
        by=manager,
    )
    if not audit.actions.exists():
        senior = ctx.users["senior"]
        done = services.action_add(
            audit=audit,
            description="Label every opened liquid, cream and eye drop with the date of opening.",
            owner=senior,
            due_on=month + dt.timedelta(days=35),
            by=manager,
        )
        services.action_update(
            audit=audit,
            action=done,
            status=ActionStatus.DONE,
            note="Checked on both units: all labelled.",
            by=manager,
        )
        services.action_add(
            audit=audit,
            description="Review each omission with the carer on shift; remind staff to record "
            "every dose or its code at the time and PRN effectiveness within the hour; re-audit "
            "next month.",
            owner=ctx.users["senior2"],
            due_on=month + dt.timedelta(days=60),
            by=manager,
        )
    gaps = audit.metrics["doses"]["gaps"]
    unwitnessed = audit.metrics["cd"]["without_witness"]
    return services.audit_sign(
        audit=audit,
        by=manager,
        summary=f"Most doses were recorded at the time; {gaps} omission"
        f"{'' if gaps == 1 else 's'} found and reviewed with the staff involved (action raised). "
        + (
            "Every CD dose was witnessed. "
            if not unwitnessed
            else f"{unwitnessed} CD doses had no witness: investigated. "
        )
        + "Date-of-opening labels and PRN follow-ups need attention; one topical error (low "
        "harm) led to a competency reassessment.",
    )


def seed(ctx: DemoContext) -> None:
    if ctx.home is None or "manager" not in ctx.users:
        return
    month = previous_month(ctx.home.local_today())
    _incidents(ctx, month)
    audit = _audit(ctx, month)
    report, _ = AuditReport.objects.get_or_create(audit=audit)
    if not report.is_ready:
        services.audit_report_build(report_id=report.pk)  # here, not on the worker
