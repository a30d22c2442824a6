"""A unit's or the whole home's MAR charts are printed in the background with progress, stored,
and served only to people who may see the home's MAR (R-MAR-12, H-10, R-SEC-5)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from audits.models import AccessLog
from emar import jobs
from emar.celery import app as celery_app
from emar.models import AuditEvent
from medications import services
from medications.models import MarPrint
from tests.factories import UnitFactory
from tests.residents.factories import resident


@pytest.fixture
def ward(unit_a, senior_a):
    resident(unit_a, senior_a, full_name="Edith Clarke", room="12")
    resident(unit_a, senior_a, full_name="Albert Brown", room="3")
    return unit_a


def _ask(client, home, **data):
    return client.post(reverse("medications:mar_print_new", args=[home.pk]), data)


def _pdf_text(response) -> list[str]:
    data = b"".join(response.streaming_content)
    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]


def test_asking_for_a_unit_print_creates_a_build_and_queues_it(
    client, home_a, ward, senior_a, monkeypatch, django_capture_on_commit_callbacks
):
    from medications.tasks import mar_print_build as task

    sent = []
    # The service queues the task by name (a signature), which ends in the task's apply_async.
    monkeypatch.setattr(
        task, "apply_async", lambda args=(), kwargs=None, **_: sent.append((tuple(args), kwargs))
    )
    client.force_login(senior_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = _ask(client, home_a, unit=ward.pk, start="2026-11-09", days=28)
    mar_print = MarPrint.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/homes/{home_a.pk}/mar-prints/#print-{mar_print.pk}")
    assert (mar_print.status, mar_print.unit, mar_print.days) == ("queued", ward, 28)
    assert mar_print.start == dt.date(2026, 11, 9) and mar_print.requested_by == senior_a
    assert sent == [((mar_print.pk,), {"attempt": 1})]
    assert celery_app.amqp.router.route({}, task.name)["queue"].name == "reports"
    assert AuditEvent.objects.filter(action="mar_print.requested").count() == 1
    page = client.get(reverse("medications:mar_prints", args=[home_a.pk])).content.decode()
    assert f'id="print-{mar_print.pk}"' in page and 'hx-trigger="every 2s"' in page


def test_the_old_unit_pdf_address_leads_to_the_print_page(client, home_a, ward, senior_a):
    client.force_login(senior_a)
    response = client.get(f"/homes/{home_a.pk}/units/{ward.pk}/mar.pdf?start=2026-11-09&days=7")
    assert response.status_code == 302
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and 'value="2026-11-09"' in html and 'value="7"' in html
    assert not MarPrint.objects.exists()  # a GET never queues a build


def test_progress_shows_while_it_builds(client, home_a, ward, senior_a):
    client.force_login(senior_a)
    _ask(client, home_a, unit=ward.pk, start="2026-11-09", days=28)
    mar_print = MarPrint.objects.get()
    MarPrint.objects.filter(pk=mar_print.pk).update(
        status="building", progress=40, step="Chart: Edith Clarke", updated_at=timezone.now()
    )
    html = client.get(reverse("medications:mar_print_status", args=[mar_print.pk])).content.decode()
    assert 'value="40"' in html and "40% · Chart: Edith Clarke" in html
    assert 'hx-trigger="every 2s"' in html and "may have stopped" not in html


def test_the_finished_file_is_served_to_readers_and_404_to_an_outsider(
    client, home_a, ward, senior_a, inspector_a, carer_b, django_capture_on_commit_callbacks
):
    client.force_login(senior_a)
    with django_capture_on_commit_callbacks(execute=True):
        _ask(client, home_a, unit=ward.pk, start=home_a.local_today().isoformat(), days=7)
    mar_print = MarPrint.objects.get()
    assert mar_print.is_ready and mar_print.charts == 2 and mar_print.progress == 100
    assert mar_print.file.name.startswith("mar-prints/")
    assert len(mar_print.file.name.split("/")[-1]) >= 32  # unguessable, not the id
    status = client.get(
        reverse("medications:mar_print_status", args=[mar_print.pk])
    ).content.decode()
    assert "hx-trigger" not in status and "Download PDF (2 residents" in status

    client.force_login(inspector_a)
    response = client.get(reverse("medications:mar_print_download", args=[mar_print.pk]))
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    pages = _pdf_text(response)
    assert "Albert Brown" in pages[0] and "Edith Clarke" in pages[-1]
    assert AccessLog.objects.filter(user=inspector_a, object_id=str(mar_print.pk)).exists()

    client.force_login(carer_b)
    for name in ("mar_print_download", "mar_print_status"):
        assert client.get(reverse(f"medications:{name}", args=[mar_print.pk])).status_code == 404
    client.logout()
    response = client.get(reverse("medications:mar_print_download", args=[mar_print.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_print_not_ready_is_409(client, home_a, ward, senior_a):
    client.force_login(senior_a)
    _ask(client, home_a, unit=ward.pk, start="2026-11-09", days=7)
    response = client.get(
        reverse("medications:mar_print_download", args=[MarPrint.objects.get().pk])
    )
    assert response.status_code == 409 and "not ready" in response.content.decode()


def test_a_whole_home_print_has_every_unit(
    client, home_a, ward, senior_a, django_capture_on_commit_callbacks
):
    resident(UnitFactory(home=home_a, name="Willow"), senior_a, full_name="Rose Tyler")
    client.force_login(senior_a)
    with django_capture_on_commit_callbacks(execute=True):
        _ask(client, home_a, unit="", start=home_a.local_today().isoformat(), days=7)
    mar_print = MarPrint.objects.get()
    assert mar_print.unit is None and mar_print.is_ready and mar_print.charts == 3
    text = "\n".join(
        _pdf_text(client.get(reverse("medications:mar_print_download", args=[mar_print.pk])))
    )
    assert "Rose Tyler" in text and "Albert Brown" in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": "yesterday", "days": "7"}, "Enter a valid date"),
        ({"start": "2026-11-09", "days": "43"}, "less than or equal to 42"),
        ({"start": "2026-11-09", "days": "7", "unit": "999999"}, "Choose a unit of this home"),
        ({"start": "9999-12-31", "days": "7"}, "Choose dates from"),
    ],
)
def test_a_bad_request_is_a_clear_400_and_queues_nothing(
    client, home_a, ward, senior_a, data, message
):
    client.force_login(senior_a)
    response = _ask(client, home_a, **data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not MarPrint.objects.exists()


def test_a_unit_of_another_home_cannot_be_printed(home_a, unit_b, senior_a):
    with pytest.raises(services.PrintError) as e:
        services.mar_print_request(
            home=home_a, unit=unit_b, start=dt.date(2026, 11, 9), days=7, by=senior_a
        )
    assert e.value.code == "wrong_home"


def test_one_person_cannot_fill_the_reports_queue(client, home_a, ward, senior_a):
    client.force_login(senior_a)
    for _ in range(services.MAX_OPEN_PRINTS):
        assert _ask(client, home_a, unit=ward.pk, start="2026-11-09", days=7).status_code == 302
    response = _ask(client, home_a, unit=ward.pk, start="2026-11-09", days=7)
    assert response.status_code == 400 and "Wait for one to finish" in response.content.decode()
    assert MarPrint.objects.count() == services.MAX_OPEN_PRINTS


def test_inspectors_read_prints_but_cannot_ask_for_one(client, home_a, ward, inspector_a):
    client.force_login(inspector_a)
    page = client.get(reverse("medications:mar_prints", args=[home_a.pk]))
    assert page.status_code == 200 and "mar-prints/new/" not in page.content.decode()
    assert _ask(client, home_a, unit=ward.pk, start="2026-11-09", days=7).status_code == 403


def test_a_stalled_print_is_retried_by_the_sweep_and_by_staff(
    client, home_a, ward, senior_a, carer_b, django_capture_on_commit_callbacks
):
    client.force_login(senior_a)
    _ask(client, home_a, unit=ward.pk, start=home_a.local_today().isoformat(), days=7)
    mar_print = MarPrint.objects.get()
    MarPrint.objects.filter(pk=mar_print.pk).update(
        status="building", progress=50, updated_at=timezone.now() - dt.timedelta(minutes=21)
    )
    html = client.get(reverse("medications:mar_print_status", args=[mar_print.pk])).content.decode()
    assert "may have stopped" in html and "Try again now" in html
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.builds_stale_sweep()["retried"] == 1
    mar_print.refresh_from_db()
    assert mar_print.is_ready and mar_print.attempt == 2 and mar_print.auto_retries == 1

    MarPrint.objects.filter(pk=mar_print.pk).update(status="failed", sha256="", error="boom")
    client.force_login(carer_b)
    assert (
        client.post(reverse("medications:mar_print_retry", args=[mar_print.pk])).status_code == 404
    )
    client.force_login(senior_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("medications:mar_print_retry", args=[mar_print.pk]))
    assert response.status_code == 302
    mar_print.refresh_from_db()
    assert mar_print.is_ready and mar_print.attempt == 3
