"""The audit report PDF (R-AUD-4) and the printable pages of the reports area (R-INS-1).

The report of a signed audit is drawn only from what was signed (the metrics snapshot, the
checklist and actions as they stood), so rebuilding it could never tell a different story; it
is built once anyway and then served from the stored file.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from emar.models import CareHome, CodeCategory
from emar.pdf import render_pdf
from medications.models import PrnProtocol
from medications.models.prescriptions import LineStatus
from residents.models import room_order

from . import charts, selectors
from .models import Answer, Audit, Section

REPORT_TEMPLATE = "audits/print/report.html"


def _checklist_rows(audit: Audit) -> list[dict]:
    """The checklist as plain data (what is frozen at sign-off)."""
    rows = []
    for section in selectors.checklist(audit):
        for row in section.rows:
            a = row.answer
            rows.append(
                {
                    "section": section.key,
                    "section_label": section.label,
                    "code": row.question.code,
                    "text": row.question.text,
                    "answer": a.answer if a else "",
                    "answer_label": a.get_answer_display() if a else "Not answered",
                    "comment": a.comment if a else "",
                    "flags": [c.advice for c in row.flags],
                }
            )
    return rows


def snapshot(audit: Audit) -> dict:
    """What sign-off freezes besides the metrics."""
    s = selectors.score(audit)
    return {
        "checklist": _checklist_rows(audit),
        "actions": selectors.action_rows(audit),
        "score": {"yes": s.yes, "no": s.no, "na": s.na, "percent": s.percent, "rag": s.rag},
    }


def _sections(rows: list[dict]) -> list[dict]:
    sections: dict[str, dict] = {}
    for r in rows:
        sections.setdefault(r["section"], {"label": r["section_label"], "rows": []})["rows"].append(
            r
        )
    order = [s.value for s in Section]
    return [sections[k] for k in sorted(sections, key=order.index)]


def report_context(audit: Audit) -> dict:
    """Everything the report template shows: from the signed snapshot when signed, else live
    (a draft, marked as such)."""
    frozen = audit.signed_snapshot if audit.is_signed else snapshot(audit)
    metrics = audit.metrics
    trend = selectors.trend(audit)
    tz = audit.home.tz
    incidents = [
        {**i, "occurred_at": dt.datetime.fromisoformat(i["occurred_at"]).astimezone(tz)}
        for i in metrics["incidents"]["list"]
    ]
    return {
        "audit": audit,
        "home": audit.home,
        "m": metrics,
        "computed_at": dt.datetime.fromisoformat(metrics["computed_at"]).astimezone(tz),
        "as_at": dt.date.fromisoformat(metrics["as_at"]),
        "sections": _sections(frozen["checklist"]),
        "actions": [
            {
                **a,
                "due_on": dt.date.fromisoformat(a["due_on"]),
                "raised_in": dt.date.fromisoformat(a["raised_in"]),
            }
            for a in frozen["actions"]
        ],
        "score": frozen["score"],
        "trend": trend,
        "charts": charts.audit_charts(metrics, trend),
        "categories": [(c.value, c.label) for c in CodeCategory],
        "answers": Answer,
        "incidents": incidents,
        "signed_at": audit.signed_at.astimezone(tz) if audit.signed_at else None,
        "printed_at": timezone.now().astimezone(tz),
        "draft": not audit.is_signed,
    }


def report_pdf(audit: Audit) -> bytes:
    return render_pdf(REPORT_TEMPLATE, report_context(audit))


def prn_protocols(home: CareHome):
    """The protocol in force on every live PRN line of the home's current residents."""
    latest: dict[int, PrnProtocol] = {}
    for p in (
        PrnProtocol.objects.filter(
            line__home=home, line__status=LineStatus.ACTIVE, line__resident__status="resident"
        )
        .select_related("line", "line__resident", "line__resident__unit", "line__medicine")
        .select_related("written_by")
        .order_by("line_id", "-written_at", "-pk")
    ):
        latest.setdefault(p.line_id, p)
    return sorted(
        latest.values(),
        key=lambda p: (
            p.line.resident.unit.name,
            room_order(p.line.resident.room),
            p.line.medicine.name,
        ),
    )


def prn_protocols_pdf(home: CareHome) -> bytes:
    return render_pdf(
        "audits/print/prn_protocols.html",
        {
            "home": home,
            "protocols": prn_protocols(home),
            "today": home.local_today(),
            "printed_at": home.local_now(),
        },
    )


def training_matrix_pdf(home: CareHome) -> bytes:
    from training.selectors import training_matrix

    return render_pdf(
        "audits/print/training_matrix.html",
        {
            "home": home,
            "matrix": training_matrix(home, today=home.local_today()),
            "printed_at": home.local_now(),
        },
    )
