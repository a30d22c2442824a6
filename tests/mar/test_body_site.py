"""R-MAR-10: where a patch or a topical application went, one rule on the line model
(`needs_site`, `is_patch`) used by the round row, the PRN page and the service."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from medications.models import Administration, DoseUnit, PrescriptionLine, Route
from tests.mar.conftest import prn_protocol


@pytest.mark.parametrize(
    "route, unit, needs_site, is_patch",
    [
        (Route.TRANSDERMAL, DoseUnit.PATCH, True, True),
        (Route.TRANSDERMAL, DoseUnit.APPLICATION, True, True),
        (Route.TOPICAL, DoseUnit.APPLICATION, True, False),
        (Route.TOPICAL, DoseUnit.PATCH, True, True),  # a patch whatever the route says
        (Route.BUCCAL, DoseUnit.PATCH, True, True),
        (Route.ORAL, DoseUnit.TABLET, False, False),
        (Route.EYE, DoseUnit.DROP, False, False),
    ],
)
def test_the_line_says_when_a_site_is_needed_and_when_it_is_a_patch(
    route, unit, needs_site, is_patch
):
    line = PrescriptionLine(route=route, dose_unit=unit)
    assert line.needs_site is needs_site
    assert line.is_patch is is_patch


@pytest.fixture
def prn_patch(make_line, senior_a):
    """A PRN patch whose route is not "transdermal": the case the PRN page used to miss."""
    patch = make_line(
        "Hyoscine 1mg/72hours transdermal patches",
        prn=True,
        dose_unit=DoseUnit.PATCH,
        route=Route.BUCCAL,
    )
    prn_protocol(patch, senior_a)
    return patch


def _give(client, line, **extra):
    data = {
        "idempotency_key": str(uuid.uuid4()),
        "prn_reason": "Craving",
        "quantity": "1",
        **extra,
    }
    return client.post(reverse("medications:prn_give", args=[line.pk]), data)


def test_the_prn_page_of_a_patch_line_asks_for_the_site(
    client, clock, qualified, prn_patch, carer_a
):
    clock("09:00")
    client.force_login(carer_a)
    page = client.get(reverse("medications:prn_give", args=[prn_patch.pk])).content.decode()
    assert '<select name="body_site"' in page and "Where it was applied" in page
    assert 'name="old_patch_removed"' not in page  # no patch on yet

    refused = _give(client, prn_patch)
    assert refused.status_code == 422
    assert "Record where it was applied." in refused.content.decode()
    assert not Administration.objects.exists()

    assert _give(client, prn_patch, body_site="Left upper arm").status_code == 302
    assert Administration.objects.get().body_site == "Left upper arm"


def test_the_prn_page_asks_that_the_old_patch_came_off(
    client, clock, qualified, prn_patch, carer_a
):
    clock("09:00")
    client.force_login(carer_a)
    assert _give(client, prn_patch, body_site="Left upper arm").status_code == 302
    clock("16:00")
    client.force_login(carer_a)  # a new shift: the idle session has ended
    page = client.get(reverse("medications:prn_give", args=[prn_patch.pk])).content.decode()
    assert "Old patch (Left upper arm) removed" in page
    assert "Last time: Left upper arm" in page
    assert '<option value="Right upper arm" selected>' in page  # the next site is suggested

    refused = _give(client, prn_patch, body_site="Right upper arm")
    assert refused.status_code == 422
    assert "Confirm the old patch (Left upper arm) was removed." in refused.content.decode()
    assert Administration.objects.count() == 1

    done = _give(client, prn_patch, body_site="Right upper arm", old_patch_removed="on")
    assert done.status_code == 302
    assert Administration.objects.filter(old_patch_removed=True).count() == 1


def test_an_oral_prn_page_asks_for_no_site(client, clock, qualified, make_line, senior_a, carer_a):
    tablets = make_line(prn=True)
    prn_protocol(tablets, senior_a)
    clock("09:00")
    client.force_login(carer_a)
    page = client.get(reverse("medications:prn_give", args=[tablets.pk])).content.decode()
    assert '<select name="body_site"' not in page and 'name="old_patch_removed"' not in page
    assert _give(client, tablets).status_code == 302
    assert Administration.objects.get().quantity == Decimal(1)
