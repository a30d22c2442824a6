"""The MAR chart page and its PDFs (R-MAR-12, R-SEC-1, R-REL-1)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from pypdf import PdfReader

from medications.chart import mar_chart
from medications.models import MarPrint, ScheduledDose
from tests.mar.conftest import at_local
from tests.mar.test_chart import CYCLE, NOW_DAY, build_history
from tests.residents.factories import resident


@pytest.fixture
def history(home_a, resident_a, carer_a, senior_a, senior2_a):
    return build_history(home_a, resident_a, carer=carer_a, senior=senior_a, senior2=senior2_a)


@pytest.fixture
def at_noon(home_a):
    with time_machine.travel(at_local(home_a, NOW_DAY, "12:00"), tick=False):
        yield


def _pages(response) -> list[str]:
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(
        io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    )
    return [page.extract_text() for page in reader.pages]


def test_the_chart_defaults_to_the_current_cycle(client, carer_a, resident_a, history, at_noon):
    client.force_login(carer_a)
    response = client.get(f"/residents/{resident_a.pk}/mar/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mon 9 Nov 2026 to Sun 6 Dec 2026" in html
    assert "Paracetamol 500mg tablets" in html and "Co-codamol 30mg/500mg tablets" in html
    assert "missed" in html  # the gap says so, not only its colour
    assert "No known allergies" in html
    assert "Refused" in html  # the code key
    assert "Recorded against the wrong dose" in html  # the corrections list
    assert "Sue Ali" in html  # the signature list


def test_a_period_can_be_chosen(client, inspector_a, resident_a, history, at_noon):
    client.force_login(inspector_a)
    response = client.get(f"/residents/{resident_a.pk}/mar/?start=2026-11-16&days=7")
    assert response.status_code == 200
    assert "Mon 16 Nov 2026 to Sun 22 Nov 2026" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-13-01", "is not a date"),
        ("start=yesterday", "is not a date"),
        ("days=0", "from 1 to 42"),
        ("days=43", "from 1 to 42"),
        ("days=abc", "from 1 to 42"),
        ("days=-3", "from 1 to 42"),
        ("start=0001-01-01", "Choose dates from 1 January 2000"),
        ("start=8000-01-01", "Choose dates from 1 January 2000"),
    ],
)
def test_a_bad_period_is_a_clear_400(client, carer_a, resident_a, query, message):
    client.force_login(carer_a)
    page = client.get(f"/residents/{resident_a.pk}/mar/?{query}")
    assert page.status_code == 400 and message in page.content.decode()
    pdf = client.get(f"/residents/{resident_a.pk}/mar.pdf?{query}")
    assert pdf.status_code == 400 and message in pdf.content.decode()
    unit = client.get(f"/homes/{resident_a.home_id}/units/{resident_a.unit_id}/mar.pdf?{query}")
    assert unit.status_code == 400


def test_outsider_gets_404(client, carer_b, resident_a):
    client.force_login(carer_b)
    for url in (
        f"/residents/{resident_a.pk}/mar/",
        f"/residents/{resident_a.pk}/mar.pdf",
        f"/residents/{resident_a.pk}/mar/?days=99",  # 404 before the query is read
        f"/homes/{resident_a.home_id}/units/{resident_a.unit_id}/mar.pdf",
    ):
        assert client.get(url).status_code == 404, url


def test_a_unit_of_another_home_is_404(client, carer_a, home_a, unit_b):
    client.force_login(carer_a)
    assert client.get(f"/homes/{home_a.pk}/units/{unit_b.pk}/mar.pdf").status_code == 404


def test_anonymous_is_sent_to_login(client, resident_a):
    for url in (
        f"/residents/{resident_a.pk}/mar/",
        f"/residents/{resident_a.pk}/mar.pdf",
        f"/homes/{resident_a.home_id}/units/{resident_a.unit_id}/mar.pdf",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_the_pdf_has_the_chart_and_the_code_key_on_every_page(
    client, inspector_a, resident_a, history, at_noon
):
    client.force_login(inspector_a)
    response = client.get(f"/residents/{resident_a.pk}/mar.pdf?start={CYCLE:%Y-%m-%d}")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    pages = _pages(response)
    text = "\n".join(pages)
    assert "Edith Clarke" in text and "No known allergies" in text
    assert "Paracetamol 500mg tablets" in text and "Corrections" in text
    for page in pages:
        assert "Codes (not given)" in page
        assert "Refused" in page and "Withheld on clinical advice" in page
        assert "missed" in page  # the legend says what the red ✗ means


def test_a_unit_pdf_has_every_current_resident_on_their_own_pages(
    client,
    senior_a,
    home_a,
    unit_a,
    resident_a,
    history,
    at_noon,
    django_capture_on_commit_callbacks,
):
    other = resident(unit_a, senior_a, full_name="Albert Brown", room="3")
    client.force_login(senior_a)
    response = client.get(f"/homes/{home_a.pk}/units/{unit_a.pk}/mar.pdf?days=14")
    assert response.status_code == 302  # built in the background: the print page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/homes/{home_a.pk}/mar-prints/new/",
            {"unit": unit_a.pk, "start": CYCLE.isoformat(), "days": 14},
        )
    assert response.status_code == 302
    mar_print = MarPrint.objects.get()
    assert mar_print.is_ready
    pages = _pages(client.get(f"/mar-prints/{mar_print.pk}/download/"))
    assert len(pages) >= 2
    assert "Albert Brown" in pages[0]  # room 3 before room 12
    assert other.full_name not in pages[-1] and "Edith Clarke" in pages[-1]
    for page in pages:
        assert "Codes (not given)" in page and "Refused" in page


def test_the_downtime_print_shows_the_coming_days_scheduled_doses(
    client,
    senior_a,
    home_a,
    unit_a,
    resident_a,
    paracetamol,
    at_noon,
    django_capture_on_commit_callbacks,
):
    """Beat keeps only yesterday..tomorrow materialised; the print must not show next week's
    doses as "not scheduled" (H-10)."""
    next_week = NOW_DAY + dt.timedelta(days=7)
    client.force_login(senior_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/homes/{home_a.pk}/mar-prints/new/",
            {"unit": unit_a.pk, "start": next_week.isoformat(), "days": 7},
        )
    assert response.status_code == 302 and MarPrint.objects.get().is_ready
    chart = mar_chart(resident=resident_a, start=next_week, days=7)
    row_cells = [r.cells[0].kind for r in chart.rows if r.line == paracetamol]
    assert row_cells == ["due", "due"]  # 08:00 and 20:00: boxes to sign, not "not scheduled"
    # projected for the print, not written: a print never writes beyond tomorrow
    assert not ScheduledDose.objects.filter(local_date__gt=NOW_DAY + dt.timedelta(days=1))
