"""`python manage.py print_mar` (R-RUN-4): MAR charts to PDF for a unit or one resident."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from medications.models import ScheduledDose
from tests.mar.conftest import at_local
from tests.mar.test_chart import CYCLE, NOW_DAY, build_history
from tests.medications.factories import line, times
from tests.residents.factories import resident


@pytest.fixture
def noon(home_a):
    with time_machine.travel(at_local(home_a, NOW_DAY, "12:00"), tick=False):
        yield


def _print(tmp_path, *args: str) -> list[str]:
    out = tmp_path / "mar.pdf"
    call_command("print_mar", *args, "--out", str(out))
    return [page.extract_text() for page in PdfReader(out).pages]


def test_prints_every_current_resident_of_a_unit(
    tmp_path, home_a, unit_a, resident_a, carer_a, senior_a, senior2_a, noon
):
    build_history(home_a, resident_a, carer=carer_a, senior=senior_a, senior2=senior2_a)
    resident(unit_a, senior_a, full_name="Albert Brown", room="3")
    pages = _print(tmp_path, "--home", "Home A", "--unit", "Oak", "--start", f"{CYCLE:%Y-%m-%d}")
    text = "\n".join(pages)
    assert "Albert Brown" in pages[0] and "Edith Clarke" in text
    assert "Paracetamol 500mg tablets" in text
    assert all("Codes (not given)" in page for page in pages)


def test_prints_one_resident_by_nhs_number(
    tmp_path, home_a, unit_a, resident_a, senior_a, senior2_a, noon
):
    resident(unit_a, senior_a, full_name="Albert Brown", room="3")
    pages = _print(
        tmp_path, "--home", "Home A", "--resident", resident_a.nhs_number_display,
        "--start", "2026-11-23", "--days", "7",
    )  # fmt: skip
    text = "\n".join(pages)
    assert "Edith Clarke" in text and "Albert Brown" not in text
    assert "23 Nov 2026 – 29 Nov 2026" in text


def test_materialises_the_doses_of_the_period_first(
    tmp_path, home_a, resident_a, senior_a, senior2_a, noon
):
    """The downtime MAR shows tomorrow's doses as boxes to sign (H-10)."""
    line(resident_a, senior_a, checker=senior2_a, schedule=times("08:00", "20:00"))
    tomorrow = NOW_DAY + dt.timedelta(days=1)
    _print(tmp_path, "--home", "Home A", "--start", f"{tomorrow:%Y-%m-%d}", "--days", "3")
    assert ScheduledDose.objects.filter(resident=resident_a, local_date=tomorrow).count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--home", "Nowhere", "--start", "2026-11-09"], "No care home is called 'Nowhere'"),
        (["--home", "Home A", "--unit", "Attic", "--start", "2026-11-09"], "no unit called"),
        (["--home", "Home A", "--resident", "9990000000", "--start", "2026-11-09"], "NHS number"),
        (["--home", "Home A", "--start", "9 Nov 2026"], "not a date"),
        (["--home", "Home A", "--start", "2026-11-09", "--days", "0"], "from 1 to 42"),
        (["--home", "Home A", "--start", "2026-11-09", "--days", "43"], "from 1 to 42"),
    ],
)
def test_unknown_names_and_bad_input_are_clear_errors(tmp_path, home_a, unit_a, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("print_mar", *args, "--out", str(tmp_path / "x.pdf"))
    assert not (tmp_path / "x.pdf").exists()


def test_a_resident_of_another_home_is_not_found(tmp_path, home_a, unit_b, carer_b):
    other = resident(unit_b, carer_b)
    with pytest.raises(CommandError, match="NHS number"):
        call_command(
            "print_mar", "--home", "Home A", "--resident", other.nhs_number,
            "--start", "2026-11-09", "--out", str(tmp_path / "x.pdf"),
        )  # fmt: skip
