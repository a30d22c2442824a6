"""R-INS-1: every page and download an inspector opens is logged against the home it belongs to,
by `emar.middleware.InspectorAccessLogMiddleware` calling `audits.services.access_log_request`,
and the manager reads the log. Staff's own pages are not logged (only the reports area is, for
everyone); the polled badge, failed requests and an expired inspector leave no row."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from audits import services
from audits.models import AccessLog
from emar.models import Membership
from tests.emar.test_permission_matrix import ROUTES, _kwarg_names
from tests.factories import staff
from tests.medications.factories import line
from tests.residents.factories import resident


@pytest.fixture
def edith(unit_a, senior_a, senior2_a):
    person = resident(unit_a, senior_a, full_name="Edith Clarke")
    cd = line(
        person, senior_a, checker=senior2_a, name="Oxycodone 10mg capsules", dose_unit="capsule"
    )
    return person, cd.medicine


def _pages(home, person, medicine) -> dict[str, str]:
    return {
        "mar": reverse("medications:resident_mar", args=[person.pk]),
        "mar_pdf": reverse("medications:resident_mar_pdf", args=[person.pk]),
        "training": reverse("training_matrix", args=[home.pk]),
        "cd_index": reverse("medications:cd_register_index", args=[home.pk]),
        "cd_register": reverse("medications:cd_register", args=[person.pk, medicine.pk]),
    }


def test_every_page_an_inspector_opens_is_logged_with_its_home_and_path(
    client, home_a, inspector_a, edith
):
    person, medicine = edith
    pages = _pages(home_a, person, medicine)
    client.force_login(inspector_a)
    for url in pages.values():
        response = client.get(url)
        assert response.status_code == 200, url
    logs = {log.path: log for log in AccessLog.objects.all()}
    assert set(logs) == set(pages.values())
    for log in logs.values():
        assert (log.home, log.user, log.role) == (home_a, inspector_a, "inspector")
    mar = logs[pages["mar"]]
    assert mar.action == "view" and "Edith Clarke" in mar.what
    assert (mar.object_type, mar.object_id) == ("residents.Resident", str(person.pk))
    pdf = logs[pages["mar_pdf"]]
    assert pdf.action == "download" and pdf.what.endswith(".pdf")
    assert logs[pages["training"]].action == "view"
    assert logs[pages["cd_register"]].object_id == str(person.pk)


def test_query_string_is_kept_in_the_path(client, home_a, inspector_a, edith):
    person, _medicine = edith
    client.force_login(inspector_a)
    url = reverse("medications:resident_mar", args=[person.pk])
    assert client.get(url, {"start": "2026-01-05"}).status_code == 200
    assert AccessLog.objects.get().path == f"{url}?start=2026-01-05"


def test_the_manager_sees_the_inspectors_pages_in_the_access_log(
    client, home_a, inspector_a, manager_a, edith
):
    person, _medicine = edith
    client.force_login(inspector_a)
    assert client.get(reverse("medications:resident_mar_pdf", args=[person.pk])).status_code == 200
    client.force_login(manager_a)
    page = client.get(reverse("reports_access_log", args=[home_a.pk]), {"who": "inspectors"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Download" in text and "mar-edith-clarke" in text
    assert str(inspector_a) in text


def test_staff_pages_are_not_logged(client, home_a, carer_a, manager_a, edith):
    person, medicine = edith
    for user in (carer_a, manager_a):
        client.force_login(user)
        for url in _pages(home_a, person, medicine).values():
            client.get(url)
    assert not AccessLog.objects.exists()


def test_the_reports_area_is_logged_for_everyone_once(client, home_a, manager_a, inspector_a):
    for user in (manager_a, inspector_a):
        client.force_login(user)
        assert client.get(reverse("reports_area", args=[home_a.pk])).status_code == 200
    rows = list(AccessLog.objects.order_by("pk").values_list("role", "what"))
    assert rows == [("manager", "Reports area"), ("inspector", "Reports area")]


def test_resident_photos_are_not_logged_one_line_each(client, home_a, inspector_a, edith):
    """The log lists documents and pages an inspector opened, not every image on them."""
    person, _ = edith
    client.force_login(inspector_a)
    assert client.get(reverse("medications:resident_mar", args=[person.pk])).status_code == 200
    photo = client.get(reverse("resident_photo", args=[person.pk]))
    assert photo.status_code == 200 and photo["Content-Type"].startswith("image/")
    assert list(AccessLog.objects.values_list("path", flat=True)) == [
        reverse("medications:resident_mar", args=[person.pk])
    ]


def test_the_polled_badge_is_not_logged(client, inspector_a):
    client.force_login(inspector_a)
    url = reverse("notification_badge")
    assert client.get(url, headers={"X-EMAR-Poll": "1", "HX-Request": "true"}).status_code == 200
    assert client.get(url).status_code == 200
    assert not AccessLog.objects.exists()


def test_a_posted_change_or_a_refusal_is_not_logged(client, home_a, inspector_a, edith):
    person, _medicine = edith
    client.force_login(inspector_a)
    assert client.get(reverse("staff", args=[home_a.pk])).status_code == 403
    assert client.post(reverse("medications:resident_mar", args=[person.pk])).status_code in (
        403,
        405,
    )
    assert not AccessLog.objects.exists()


def test_an_expired_inspector_gets_404_and_nothing_is_logged(client, home_a, inspector_a, edith):
    person, medicine = edith
    Membership.objects.filter(user=inspector_a).update(expires_at=timezone.now() - dt.timedelta(1))
    client.force_login(inspector_a)
    for url in _pages(home_a, person, medicine).values():
        assert client.get(url).status_code == 404, url
    assert not AccessLog.objects.exists()


def test_an_inspector_is_logged_only_in_the_home_they_inspect(
    client, home_a, home_b, unit_b, inspector_a, edith
):
    """A manager of home B who inspects home A: home B pages are their own work."""
    Membership.objects.create(user=inspector_a, home=home_b, role="manager")
    other = resident(unit_b, staff(home_b, "senior"), full_name="Bob Brown")
    person, _medicine = edith
    client.force_login(inspector_a)
    assert client.get(reverse("medications:resident_mar", args=[other.pk])).status_code == 200
    assert client.get(reverse("medications:resident_mar", args=[person.pk])).status_code == 200
    assert list(AccessLog.objects.values_list("home", flat=True)) == [home_a.pk]


def test_every_url_keyword_names_a_home_for_the_log():
    """A new URL keyword must be added to ACCESS_SUBJECTS (or be secondary), otherwise an
    inspector's page under it would silently go unlogged."""
    known = {kwarg for kwarg, _label, _field in services.ACCESS_SUBJECTS}
    unlogged = []
    for name, route, _callback in ROUTES:
        kwargs = set(_kwarg_names(route))
        # A provider's dashboard is its provider admins' own page, never an inspector's (R-DASH-2).
        if not kwargs or name.startswith(("password_reset", "notification", "provider_")):
            continue
        if not kwargs & known or not kwargs <= known | services.ACCESS_SECONDARY:
            unlogged.append(name)
    assert unlogged == []
