"""Charts as inline SVG made on the server (R-AUD-4): the same markup works on the page and in
the WeasyPrint PDF, with no JavaScript chart library. Every chart has a title (also the SVG
<title>, for screen readers) and prints its numbers next to the bars, so colour is never the
only signal."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

INK, BAR, GRID, MUTED = "#1b1b1b", "#2f5d8a", "#c8c8c8", "#555555"


@dataclass(frozen=True)
class Chart:
    title: str
    svg: SafeString


def _num(value: float) -> str:
    return f"{value:g}"


def hbar(
    title: str,
    rows: list[tuple[str, float]],
    *,
    unit: str = "",
    max_value: float | None = None,
    width: int = 340,
    empty: str = "None this month",
    colours: list[str] | None = None,
) -> Chart:
    """Horizontal bars, one per labelled row (e.g. refusals by resident)."""
    label_w, value_w, row_h, top = 150, 36, 16, 4
    plot_w = width - label_w - value_w
    height = top + max(len(rows), 1) * row_h + 6
    biggest = max_value if max_value is not None else max((v for _, v in rows), default=0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, sans-serif" font-size="9">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        parts.append(f'<text x="0" y="{top + 12}" fill="{MUTED}">{escape(empty)}</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * row_h
        w = 0 if not biggest else plot_w * value / biggest
        fill = colours[i] if colours else BAR
        short = label if len(label) <= 26 else label[:25] + "…"
        bar_h = row_h - 6
        parts.append(
            f'<text x="{label_w - 4}" y="{y + 11}" text-anchor="end" fill="{INK}">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_h}" fill="{fill}"/>'
            f'<text x="{label_w + w + 3:.1f}" y="{y + 11}" fill="{INK}">{_num(value)}{unit}</text>'
        )
    parts.append("</svg>")
    return Chart(title, mark_safe("".join(parts)))  # noqa: S308 - labels are escaped above


def vbar(
    title: str,
    rows: list[tuple[str, float | None]],
    *,
    unit: str = "",
    width: int = 340,
    height: int = 140,
    max_value: float | None = None,
    colours: list[str] | None = None,
) -> Chart:
    """Vertical bars over a sequence (e.g. omissions per week, the six-month trend)."""
    left, bottom, top = 30, 22, 14
    plot_h = height - bottom - top
    n = max(len(rows), 1)
    slot = (width - left) / n
    bar_w = min(slot * 0.6, 60)
    biggest = (
        max_value
        if max_value is not None
        else max((v for _, v in rows if v is not None), default=0)
    )
    biggest = biggest or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, sans-serif" font-size="9">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="{GRID}"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" fill="{MUTED}">'
        f"{_num(biggest)}{unit}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" fill="{MUTED}">0</text>',
    ]
    for i, (label, value) in enumerate(rows):
        x = left + i * slot + (slot - bar_w) / 2
        if value is None:  # no figure for this slot (e.g. no signed audit that month)
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - 3:.1f}" text-anchor="middle" '
                f'fill="{MUTED}">–</text>'
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'fill="{INK}">{escape(label)}</text>'
            )
            continue
        h = plot_h * value / biggest
        colour = colours[i] if colours else BAR
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{colour}"/>'
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" '
            f'fill="{INK}">{_num(value)}{unit}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
            f'fill="{INK}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Chart(title, mark_safe("".join(parts)))  # noqa: S308 - labels are escaped above


RAG_COLOURS = {"green": "#2e7d32", "amber": "#c77700", "red": "#b71c1c", None: "#9e9e9e"}


def audit_charts(metrics: dict, trend: list[dict]) -> dict[str, Chart]:
    """The report's charts from a metrics snapshot and the six-month trend rows."""
    doses = metrics["doses"]
    training = metrics["training"]
    charts = {
        "omissions": vbar(
            "Omissions (gaps) per week",
            [(w["label"], w["gaps"]) for w in doses["gaps_by_week"]],
        ),
        "codes": hbar(
            "Doses not given, by code",
            [(f"{c['code']} {c['label']}", c["n"]) for c in doses["not_given_by_code"]],
        ),
        "refusals": hbar(
            "Refusals by resident",
            [(r["resident"], r["n"]) for r in metrics["refusals"]["by_resident"][:12]],
        ),
        "training": hbar(
            "Training and competency compliance",
            [(c["label"], c["percent"]) for c in training["courses"]]
            + [(f"Competency: {c['label']}", c["percent"]) for c in training["competencies"]],
            unit="%",
            max_value=100,
            empty="No staff",
        ),
    }
    if trend:
        charts["trend"] = vbar(
            "Checklist score, last six months",
            [(t["label"], t["score"] or 0) for t in trend],
            unit="%",
            max_value=100,
            colours=[RAG_COLOURS[t["rag"]] for t in trend],
        )
        charts["trend_gaps"] = vbar(
            "Gap rate, last six months",
            [(t["label"], t["gap_rate"] or 0) for t in trend],
            unit="%",
        )
    return charts
