"""R-ORG-4, R-INS-1, R-INS-2: the reports area for inspectors (and managers): signed reports,
MAR charts, PRN protocols, training matrix, evidence packs; every view and download logged;
expired or other-home inspectors get 404; inspectors change nothing."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.urls import get_resolver, reverse
from django.utils import timezone

from audits import services
from audits.models import AccessLog, EvidencePack
from emar.models import Membership
from tests.audits.url_params import build
from tests.emar.test_permission_matrix import ROUTES, _fill
from tests.factories import staff
from tests.residents.factories import resident


@pytest.fixture
def objects(home_a, unit_a, persona):
    return {"home_id": home_a.pk, **build(home=home_a, unit=unit_a, users=persona)}


def test_inspector_sees_the_reports_area_and_it_is_logged(client, home_a, inspector_a, objects):
    client.force_login(inspector_a)
    response = client.get(reverse("reports_area", args=[home_a.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Signed monthly audits" in page and "read-only" in page.lower()
    log = AccessLog.objects.get()
    assert (log.user, log.role, log.action, log.what) == (
        inspector_a,
        "inspector",
        "view",
        "Reports area",
    )


def test_downloads_are_logged_and_the_manager_sees_the_log(
    client, home_a, unit_a, inspector_a, manager_a, senior_a, objects
):
    person = resident(unit_a, senior_a, full_name="Edith Clarke")
    client.force_login(inspector_a)
    assert client.get(reverse("audit_report", args=[objects["audit_id"]])).status_code == 200
    mar = client.get(
        reverse("reports_mar_pdf", args=[home_a.pk]),
        {"resident": person.pk, "start": "2026-01-01", "days": "7"},
    )
    assert mar.status_code == 200 and mar.content.startswith(b"%PDF")
    assert client.get(reverse("reports_prn_pdf", args=[home_a.pk])).status_code == 200
    assert client.get(reverse("reports_training_pdf", args=[home_a.pk])).status_code == 200
    whats = list(
        AccessLog.objects.filter(user=inspector_a, action="download").values_list("what", flat=True)
    )
    assert len(whats) == 4 and any("Edith Clarke" in w for w in whats)
    # The inspector cannot read the log; the manager can.
    assert client.get(reverse("reports_access_log", args=[home_a.pk])).status_code == 403
    client.force_login(manager_a)
    log = client.get(reverse("reports_access_log", args=[home_a.pk]), {"who": "inspectors"})
    assert log.status_code == 200 and "Edith Clarke" in log.content.decode()


def test_bad_mar_period_is_a_400(client, home_a, inspector_a, objects):
    client.force_login(inspector_a)
    response = client.get(reverse("reports_mar_pdf", args=[home_a.pk]), {"start": "soon"})
    assert response.status_code == 400


def _every_url(values):
    for name, route, _callback in ROUTES:
        if name.startswith(("audit", "incident", "reports", "evidence")):
            yield name, _fill(route, values)


def test_expired_inspector_gets_404_everywhere(client, home_a, inspector_a, objects):
    Membership.objects.filter(user=inspector_a).update(expires_at=timezone.now() - dt.timedelta(1))
    client.force_login(inspector_a)
    wrong = [n for n, url in _every_url(objects) if client.get(url).status_code not in (404, 405)]
    assert wrong == []


def test_inspector_of_another_home_gets_404_everywhere(client, home_b, objects):
    other = staff(home_b, "inspector", username="inspector_b")
    client.force_login(other)
    wrong = [n for n, url in _every_url(objects) if client.get(url).status_code not in (404, 405)]
    assert wrong == []


def test_inspector_cannot_post_anything(client, inspector_a, objects):
    client.force_login(inspector_a)
    wrong = []
    for name, url in _every_url(objects):
        status = client.post(url, {}).status_code
        if status not in (403, 405):
            wrong.append(f"{name}: {status}")
    assert wrong == []
    assert get_resolver()  # the URL list was walked


def test_evidence_pack_is_built_in_the_background_and_downloaded(
    client, home_a, unit_a, manager_a, inspector_a, senior_a, objects
):
    resident(unit_a, senior_a, full_name="Edith Clarke", admitted_on=dt.date(2025, 1, 1))
    today = home_a.local_today()
    client.force_login(manager_a)
    response = client.post(
        reverse("evidence_pack_request", args=[home_a.pk]),
        {"start": (today - dt.timedelta(days=10)).isoformat(), "end": today.isoformat()},
    )
    assert response.status_code == 302
    pack = EvidencePack.objects.exclude(pk=objects["pack_id"]).get()
    assert pack.status == "queued"  # the job starts on commit
    services.evidence_pack_build(pack_id=pack.pk)
    pack.refresh_from_db()
    assert pack.is_ready
    status = client.get(reverse("evidence_pack_status", args=[pack.pk])).content.decode()
    assert "Download ZIP" in status
    client.force_login(inspector_a)
    data = b"".join(client.get(reverse("evidence_pack_download", args=[pack.pk])).streaming_content)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "prn-protocols.pdf" in names and "training-matrix.pdf" in names
    assert any(n.startswith("mar/") and "edith-clarke" in n for n in names)
    assert AccessLog.objects.filter(user=inspector_a, object_id=str(pack.pk)).exists()


def test_an_evidence_pack_period_is_checked(client, home_a, manager_a):
    client.force_login(manager_a)
    response = client.post(
        reverse("evidence_pack_request", args=[home_a.pk]),
        {"start": "2026-01-01", "end": "2025-01-01"},
    )
    assert response.status_code == 400 and not EvidencePack.objects.exists()
