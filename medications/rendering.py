"""The MAR chart drawn for print (R-MAR-12, H-10): the PDF template and its context, used by
the chart pages, the background MAR prints, the evidence pack and `manage.py print_mar`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from emar.models import CareHome, Unit
from emar.pdf import render_pdf
from residents.models import Resident, room_order

from . import bodymap
from .chart import CYCLE_DAYS, MarChart, mar_chart
from .models import LineSite, PrescriptionLine
from .selectors import body_map_sites

PRINT_TEMPLATE = "medications/print/mar_chart.html"


def print_context(
    charts: list[MarChart], home: CareHome, title: str, days: int = CYCLE_DAYS
) -> dict:
    codes = charts[0].codes if charts else list(home.codes.filter(active=True).order_by("code"))
    return {
        "charts": charts,
        "home": home,
        "codes": codes,
        "title": title,
        "printed_at": home.local_now(),
        "topical_maps": topical_maps(charts),
        **grid_widths(days),
    }


@dataclass
class TopicalMap:
    """A topical line's page of the printed MAR: the body map with its sites (R-MAR-17)."""

    line: PrescriptionLine
    sites: list[LineSite]
    regions: list[bodymap.Region]


def topical_maps(charts: list[MarChart]) -> dict[int, list[TopicalMap]]:
    """Resident id -> the body maps of their creams, ointments and gels on the chart (one
    query for the whole print)."""
    lines: dict[int, list[PrescriptionLine]] = {}
    for chart in charts:
        for row in chart.rows:
            if row.first and bodymap.uses_body_map(row.line):
                lines.setdefault(chart.resident.pk, []).append(row.line)
    sites = body_map_sites([ln.pk for group in lines.values() for ln in group])
    return {
        resident_id: [
            TopicalMap(
                line=ln,
                sites=sites[ln.pk],
                regions=bodymap.regions({s.site: s.instructions for s in sites[ln.pk]}),
            )
            for ln in group
        ]
        for resident_id, group in lines.items()
    }


PAGE_MM = 281.0  # A4 landscape less the print margins
TIME_MM = 9.0
MIN_MEDICINE_MM = 70.0


def grid_widths(days: int) -> dict[str, float]:
    """Day columns are 6 mm wide (a 28-day cycle leaves ~100 mm for the medicine column, which
    takes what is left); longer periods shrink the days so the grid still fits A4 landscape."""
    return {"day_mm": round(min(6.0, (PAGE_MM - TIME_MM - MIN_MEDICINE_MM) / days), 2)}


def residents_in_print_order(residents) -> list[Resident]:
    """By unit, then room "3" before room "12" as on the doors, then name."""
    return sorted(residents, key=lambda r: (r.unit.name, room_order(r.room), r.full_name))


def unit_print_context(home: CareHome, unit: Unit, start: dt.date, days: int) -> dict:
    residents = Resident.objects.current().filter(unit=unit).select_related("home", "unit")
    charts = [
        mar_chart(resident=r, start=start, days=days)
        for r in sorted(residents, key=lambda r: (room_order(r.room), r.full_name))
    ]
    return print_context(charts, home, f"MAR charts — {unit.name}, {home.name}", days)


# --- the medicines order for the pharmacy (R-ORD-1) -----------------------------------------------

ORDER_TEMPLATE = "medications/print/order_pdf.html"


def order_print_context(order) -> dict:
    """What the supplying pharmacy reads: the home, each resident's medicines with strength,
    quantity and reason, the order number, the cycle's dates and who approved it."""
    items = list(
        order.items.select_related("resident", "medicine", "line").order_by(
            "resident__full_name", "medicine__name", "pk"
        )
    )
    residents: dict[int, dict] = {}
    for item in items:
        entry = residents.setdefault(item.resident_id, {"resident": item.resident, "items": []})
        entry["items"].append(item)
    return {
        "order": order,
        "home": order.home,
        "residents": list(residents.values()),
        "item_count": len(items),
        "printed_at": order.home.local_now(),
    }


def order_pdf(order) -> bytes:
    return render_pdf(ORDER_TEMPLATE, order_print_context(order))
