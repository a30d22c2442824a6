"""Creams on a body map (R-MAR-17): the sites a topical line prescribes, with instructions per
site, chosen on the front/back diagram; each application records the sites applied; a site off
the map is refused with a clear message and nothing written; patch rotation (R-MAR-10) keeps
working from the same list of sites (medications/bodymap.py)."""

from __future__ import annotations

import uuid
from itertools import combinations

import pytest
from django.urls import reverse

from emar.models import AuditEvent
from medications import bodymap, services
from medications.models import (
    BODY_SITES,
    Administration,
    AppliedSite,
    LineSite,
    PrescriptionLine,
)
from medications.services import BodySiteError, SiteInput
from tests.mar.conftest import dose_at, key
from tests.medications.factories import medicine, times
from tests.medications.test_views import _line_data

CREAM = "Clotrimazole 1% cream"


def give(dose, by, **kw):
    kw.setdefault("idempotency_key", key())
    return services.administration_record(dose=dose, by=by, outcome="given", **kw)


@pytest.fixture
def cream(make_line):
    """A cream for both forearms' fronts, morning and evening, with instructions per site."""
    return make_line(
        CREAM,
        dose_unit="application",
        route="topical",
        schedule=times("08:00", "20:00"),
        sites=[
            SiteInput("right_forearm_front", "Thin layer on the red patch"),
            SiteInput("left_forearm_front", "Thin layer, avoid the graze"),
        ],
    )


# --- the map --------------------------------------------------------------------------------


def test_every_site_is_a_finger_sized_region_with_its_own_code_and_label():
    codes = [s.code for s in bodymap.SITES]
    labels = [s.label for s in bodymap.SITES]
    assert len(set(codes)) == len(codes) and len(set(labels)) == len(labels)
    assert "Left forearm (front)" in labels and "Right buttock" in labels
    for s in bodymap.SITES:
        assert s.w >= 44 and s.h >= 44, s  # 44 px on a 10" tablet (R-MAR-1)
        assert s.x >= 0 and s.x + s.w <= bodymap.VIEW_WIDTH
        assert s.y >= 0 and s.y + s.h <= bodymap.VIEW_HEIGHT
        assert len(s.code) <= 40
    for a, b in combinations(bodymap.SITES, 2):  # no two regions overlap
        apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
        assert apart, (a.code, b.code)


def test_the_front_view_shows_the_residents_right_on_the_viewers_left():
    by = bodymap.BY_CODE
    assert by["right_forearm_front"].x < by["left_forearm_front"].x
    assert by["left_forearm_back"].x < by["right_forearm_back"].x


def test_patch_sites_are_unchanged_and_each_is_drawn_on_the_map():
    """R-MAR-10: the words stored on every patch record since the first release."""
    assert BODY_SITES == (
        "Left upper arm",
        "Right upper arm",
        "Left upper chest",
        "Right upper chest",
        "Left upper back",
        "Right upper back",
        "Left thigh",
        "Right thigh",
        "Left side (flank)",
        "Right side (flank)",
    )
    assert all(code in bodymap.BY_CODE for _, code in bodymap.PATCH_SITES)


# --- sites chosen with the line ------------------------------------------------------------


def test_a_creams_sites_are_stored_with_the_line_in_map_order_with_their_instructions(
    cream,
):
    sites = list(LineSite.objects.filter(line=cream).values_list("site", "instructions"))
    assert sites == [
        ("left_forearm_front", "Thin layer, avoid the graze"),
        ("right_forearm_front", "Thin layer on the red patch"),
    ]
    entered = AuditEvent.objects.get(action="prescription.entered", object_id=str(cream.pk))
    assert [s["site"] for s in entered.after["sites"]] == [
        "left_forearm_front",
        "right_forearm_front",
    ]


def test_a_site_off_the_map_is_refused_and_no_line_is_written(resident_a, senior_a, clock):
    with pytest.raises(BodySiteError) as e:
        services.line_create(
            resident=resident_a,
            medicine=medicine(CREAM),
            by=senior_a,
            dose=1,
            dose_unit="application",
            route="topical",
            prescriber="Dr Test",
            source="gp",
            start_date=resident_a.home.local_today(),
            schedule=times("08:00"),
            sites=[SiteInput("left_forearm_front"), SiteInput("left_elbow_inside")],
        )
    assert e.value.code == "body_site_off_map"
    assert "'left_elbow_inside' is not a site on the body map" in e.value.message
    assert not PrescriptionLine.objects.exists() and not LineSite.objects.exists()


@pytest.mark.parametrize(
    "route, unit", [("oral", "tablet"), ("transdermal", "patch"), ("topical", "patch")]
)
def test_only_creams_ointments_and_gels_have_sites(make_line, route, unit):
    with pytest.raises(BodySiteError) as e:
        make_line(route=route, dose_unit=unit, sites=[SiteInput("left_chest")])
    assert e.value.code == "sites_not_topical"


def test_instructions_longer_than_the_limit_are_refused(make_line):
    with pytest.raises(BodySiteError) as e:
        make_line(
            CREAM,
            route="topical",
            dose_unit="application",
            sites=[SiteInput("left_chest", "x" * 201)],
        )
    assert e.value.code == "site_instructions_too_long"


# --- each application records its sites ----------------------------------------------------


def test_an_application_records_the_sites_applied(clock, qualified, cream, carer_a):
    dose = dose_at(cream, "08:00")
    clock("08:05")
    record = give(dose, carer_a, sites=["right_forearm_front", "left_forearm_front"])
    assert list(record.applied_sites.values_list("site", flat=True)) == [
        "left_forearm_front",
        "right_forearm_front",
    ]
    assert record.body_site == "2 sites on the body map"
    event = AuditEvent.objects.get(action="mar.dose.given")
    assert event.after["sites"] == ["left_forearm_front", "right_forearm_front"]


def test_one_site_applied_is_named_on_the_record(clock, qualified, cream, carer_a):
    dose = dose_at(cream, "08:00")
    clock("08:05")
    record = give(dose, carer_a, sites=["left_forearm_front"])
    assert record.body_site == "Left forearm (front)"


@pytest.mark.parametrize(
    "sites, code",
    [
        ([], "body_site_required"),
        (["left_shin"], "body_site_not_prescribed"),
        (["left_forearm_front", "the_moon"], "body_site_off_map"),
    ],
)
def test_an_application_must_name_prescribed_sites_on_the_map(
    clock, qualified, cream, carer_a, sites, code
):
    dose = dose_at(cream, "08:00")
    clock("08:05")
    with pytest.raises(BodySiteError) as e:
        give(dose, carer_a, sites=sites, body_site="Left upper arm")
    assert e.value.code == code
    assert not Administration.objects.exists() and not AppliedSite.objects.exists()


def test_a_cream_not_given_records_no_sites(clock, qualified, cream, carer_a):
    from tests.mar.conftest import code

    dose = dose_at(cream, "08:00")
    clock("08:05")
    record = services.administration_record(
        dose=dose,
        by=carer_a,
        outcome="not_given",
        code=code(cream.home, "R"),
        idempotency_key=key(),
        sites=["left_forearm_front"],
    )
    assert not record.applied_sites.exists() and record.body_site == ""


def test_a_cream_without_prescribed_sites_takes_any_site_on_the_map(
    clock, qualified, make_line, carer_a
):
    """A cream entered before the body map: any site of the map, or one site by name."""
    old = make_line(CREAM, route="topical", dose_unit="application")
    clock("08:05")
    first = give(dose_at(old, "08:00"), carer_a, sites=["left_shin", "right_shin"])
    assert first.applied_sites.count() == 2
    clock("20:05")
    second = give(dose_at(old, "20:00"), carer_a, body_site="Left thigh")
    assert second.body_site == "Left thigh" and not second.applied_sites.exists()


def test_sites_are_refused_for_a_tablet(clock, qualified, paracetamol, carer_a):
    dose = dose_at(paracetamol, "08:00")
    clock("08:05")
    with pytest.raises(BodySiteError) as e:
        give(dose, carer_a, sites=["left_chest"])
    assert e.value.code == "sites_not_topical"


def test_a_correction_of_the_amount_keeps_the_sites(clock, qualified, cream, carer_a, senior_a):
    dose = dose_at(cream, "08:00")
    clock("08:05")
    record = give(dose, carer_a, sites=["left_forearm_front"])
    clock("08:20")
    fixed = services.administration_correct(
        original=record,
        by=senior_a,
        reason="Wrong amount",
        idempotency_key=key(),
        outcome="given",
        quantity=2,
        quantity_reason="Large area",
    )
    assert list(fixed.applied_sites.values_list("site", flat=True)) == ["left_forearm_front"]


# --- patch rotation (R-MAR-10) is unchanged -------------------------------------------------


def test_patch_rotation_still_suggests_the_next_site_and_asks_about_the_old_patch(
    clock, qualified, make_line, carer_a
):
    import datetime as dt

    from tests.mar.conftest import DAY

    patch = make_line(
        "Hyoscine 1mg/72hours transdermal patches",
        dose_unit="patch",
        route="transdermal",
        schedule=times("08:00"),
    )
    clock("08:05", DAY - dt.timedelta(days=1))
    give(dose_at(patch, "08:00", DAY - dt.timedelta(days=1)), carer_a, body_site="Left thigh")
    assert services.patch_site_suggestion(patch) == ("Left thigh", "Right thigh")
    clock("08:05")
    with pytest.raises(services.DoseError) as e:
        give(dose_at(patch, "08:00"), carer_a, body_site="Right thigh")
    assert e.value.code == "old_patch_not_confirmed"
    record = give(dose_at(patch, "08:00"), carer_a, body_site="Right thigh", old_patch_removed=True)
    assert record.body_site == "Right thigh" and not record.applied_sites.exists()


# --- screens --------------------------------------------------------------------------------


def test_add_a_medicine_takes_sites_from_the_map_and_refuses_one_off_it(
    client, senior_a, home_a, resident_a
):
    client.force_login(senior_a)
    url = reverse("medications:line_new", args=[resident_a.pk])
    page = client.get(url).content.decode()
    assert "Body map: where to apply it" in page and 'data-site="left_forearm_front"' in page
    cream = {
        **_line_data(home_a),
        "medicine": medicine(CREAM).pk,
        "dose_unit": "application",
        "route": "topical",
    }
    off = client.post(url, {**cream, "sites": ["left_forearm_front", "left_wing"]})
    assert off.status_code == 400
    assert "&#x27;left_wing&#x27; is not a site on the body map" in off.content.decode()
    assert not PrescriptionLine.objects.exists()

    done = client.post(
        url,
        {
            **cream,
            "idempotency_key": str(uuid.uuid4()),
            "sites": ["left_forearm_front"],
            "site_left_forearm_front": "Thin layer",
        },
    )
    assert done.status_code == 302
    line = PrescriptionLine.objects.get()
    assert list(line.sites.values_list("site", "instructions")) == [
        ("left_forearm_front", "Thin layer")
    ]


def test_the_dose_shows_the_map_with_the_prescribed_sites_ticked_and_records_the_taps(
    client, clock, qualified, cream, carer_a
):
    dose = dose_at(cream, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    page = client.get(reverse("medications:dose", args=[dose.pk])).content.decode()
    assert "Body map: where to apply Clotrimazole 1% cream" in page
    assert f'id="bm-{dose.pk}-left_forearm_front" checked' in page
    assert "Thin layer, avoid the graze" in page
    assert 'name="body_site"' not in page  # the patch list is not offered for a cream
    url = reverse("medications:dose_record", args=[dose.pk])
    data = {"idempotency_key": str(uuid.uuid4()), "outcome": "given"}
    off = client.post(
        url, {**data, "sites": ["left_forearm_front", "tail"]}, HTTP_HX_REQUEST="true"
    )
    assert off.status_code == 400
    assert "tail is not a site on the body map" in off.content.decode()
    wrong = client.post(url, {**data, "sites": ["left_shin"]}, HTTP_HX_REQUEST="true")
    assert wrong.status_code == 422 and "not a site prescribed" in wrong.content.decode()
    done = client.post(url, {**data, "sites": ["left_forearm_front"]}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    assert Administration.objects.get().applied_sites.get().site == "left_forearm_front"


def test_the_prn_page_of_a_cream_shows_the_map(client, clock, qualified, make_line, senior_a):
    from tests.mar.conftest import prn_protocol

    prn = make_line(
        CREAM,
        prn=True,
        route="topical",
        dose_unit="application",
        sites=[SiteInput("left_buttock", "Barrier layer")],
    )
    prn_protocol(prn, senior_a)
    clock("09:00")
    client.force_login(senior_a)
    url = reverse("medications:prn_give", args=[prn.pk])
    page = client.get(url).content.decode()
    assert 'id="bm-prn-left_buttock" checked' in page and "Barrier layer" in page
    data = {"idempotency_key": str(uuid.uuid4()), "prn_reason": "Sore", "quantity": "1"}
    refused = client.post(url, {**data, "sites": ["right_buttock"]})
    assert refused.status_code == 422 and "not a site prescribed" in refused.content.decode()
    assert client.post(url, {**data, "sites": ["left_buttock"]}).status_code == 302
    assert AppliedSite.objects.get().site == "left_buttock"


# --- the MAR print --------------------------------------------------------------------------


def test_the_mar_pdf_prints_the_creams_body_map_with_its_sites_and_instructions(
    client, clock, qualified, cream, paracetamol, carer_a, resident_a
):
    import io
    import os

    from pypdf import PdfReader

    clock("12:00")
    client.force_login(carer_a)
    response = client.get(reverse("medications:resident_mar_pdf", args=[resident_a.pk]))
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if folder := os.environ.get("BODY_MAP_PDF_DIR"):  # to look at the page (pdftoppm)
        with open(os.path.join(folder, "body_map_mar.pdf"), "wb") as out:
            out.write(content)
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(content)).pages]
    topical = [p for p in pages if "where to apply" in p]
    assert len(topical) == 1  # its own page, after the grid
    text = topical[0]
    assert "Clotrimazole 1% cream" in text
    assert "Left forearm (front)" in text and "Thin layer, avoid the graze" in text
    assert "Right forearm (front)" in text and "Thin layer on the red patch" in text
    assert "Paracetamol" not in text  # tablets have no body map


def test_the_line_page_shows_the_creams_map_and_sites(client, cream, carer_a):
    client.force_login(carer_a)
    page = client.get(reverse("medications:line_detail", args=[cream.pk])).content.decode()
    assert "Body map: where to apply it" in page
    assert "Left forearm (front)</b> — Thin layer, avoid the graze" in page


def test_the_round_reads_every_creams_sites_in_one_query(
    client, clock, qualified, cream, home_a, unit_a, senior_a, senior2_a, carer_a
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.mar.test_round import round_url
    from tests.medications.factories import line
    from tests.residents.factories import resident

    def round_queries() -> tuple[int, str]:
        client.get(round_url(home_a, unit_a))  # warm: session, doses synced
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(round_url(home_a, unit_a)).content.decode()
        return len(ctx), page

    dose_at(cream, "08:00")
    clock("08:05")
    client.force_login(carer_a)
    one, page = round_queries()
    assert page.count("Body map: where to apply") == 1
    for room in ("20", "21", "22"):
        line(
            resident(unit_a, senior_a, full_name=f"Resident {room}", room=room),
            senior_a,
            checker=senior2_a,
            name=CREAM,
            dose_unit="application",
            route="topical",
            schedule=times("08:00", "20:00"),
            sites=[SiteInput("left_shin", "Thin layer")],
        )
    services.doses_sync(home=home_a, start=cream.home.local_today(), end=cream.home.local_today())
    four, page = round_queries()
    assert page.count("Body map: where to apply") == 4
    assert four == one
