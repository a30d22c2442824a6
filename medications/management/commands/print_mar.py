"""`python manage.py print_mar --home NAME [--unit NAME] [--resident NHS_NUMBER] --start
YYYY-MM-DD [--days 28] --out FILE.pdf` (R-RUN-4): MAR charts as PDF, one resident per page or
more — also the printable downtime MAR for when the network is down (H-10)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from emar.models import CareHome, Unit
from emar.pdf import render_pdf
from emar.periods import PeriodError, period_check
from medications.chart import MAX_DAYS, mar_chart
from medications.rendering import PRINT_TEMPLATE, print_context, unit_print_context
from medications.services import doses_sync_for_read
from residents.models import Resident, normalise_nhs_number


class Command(BaseCommand):
    help = "Print MAR charts to PDF for a home, a unit or one resident (R-RUN-4)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--home", required=True, help="The care home's name.")
        parser.add_argument("--unit", help="A unit of the home: every current resident of it.")
        parser.add_argument("--resident", help="One resident, by NHS number.")
        parser.add_argument("--start", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--days", type=int, default=28, help=f"1 to {MAX_DAYS} (default 28).")
        parser.add_argument("--out", required=True, help="The PDF file to write.")

    def handle(self, *args, **options) -> None:
        try:
            home = CareHome.objects.get(name=options["home"])
        except CareHome.DoesNotExist:
            raise CommandError(f"No care home is called {options['home']!r}.") from None
        try:
            start = dt.date.fromisoformat(options["start"])
        except ValueError:
            raise CommandError(
                f"--start {options['start']!r} is not a date: use YYYY-MM-DD."
            ) from None
        days = options["days"]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be from 1 to {MAX_DAYS}.")
        end = start + dt.timedelta(days=days - 1)
        try:
            period_check(start=start, end=end, today=home.local_today())
        except PeriodError as e:
            raise CommandError(f"--start/--days: {e.message}") from None
        unit = None
        if options["unit"]:
            try:
                unit = Unit.objects.get(home=home, name=options["unit"])
            except Unit.DoesNotExist:
                raise CommandError(f"{home.name} has no unit called {options['unit']!r}.") from None
        resident = None
        if options["resident"]:
            number = normalise_nhs_number(options["resident"])
            qs = Resident.objects.filter(home=home, nhs_number=number).select_related(
                "home", "unit"
            )
            if unit is not None:
                qs = qs.filter(unit=unit)
            resident = qs.first()
            if not number or resident is None:
                where = f"{unit.name}, {home.name}" if unit else home.name
                raise CommandError(
                    f"No resident of {where} has NHS number {options['resident']!r}."
                )
        # Bring the beat window's doses in line; later days are projected, never written.
        doses_sync_for_read(home=home, start=start, end=end)

        if resident is not None:
            chart = mar_chart(resident=resident, start=start, days=days)
            context = print_context([chart], home, f"MAR chart — {resident.full_name}", days)
            count = 1
        elif unit is not None:
            context = unit_print_context(home, unit, start, days)
            count = len(context["charts"])
        else:
            charts = []
            for u in Unit.objects.filter(home=home).order_by("name"):
                charts.extend(unit_print_context(home, u, start, days)["charts"])
            context = print_context(charts, home, f"MAR charts — {home.name}", days)
            count = len(charts)

        out = Path(options["out"])
        try:
            out.write_bytes(render_pdf(PRINT_TEMPLATE, context))
        except OSError as e:
            raise CommandError(f"Cannot write {out}: {e.strerror}") from None
        noun = "resident" if count == 1 else "residents"
        self.stdout.write(
            f"Wrote MAR charts for {count} {noun} ({start:%d %b %Y}, {days} days) to {out}"
        )
