"""Paper rounds and their back-entry (R-OFF-4), and the round screen's offline groundwork for
controlled drugs (R-OFF-3): H-10, H-13."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from emar.models import AuditEvent
from medications import services
from medications.models import LATE_REASON_NETWORK, LATE_REASON_PAPER, Administration, PaperRound
from tests.factories import TEST_PASSWORD
from tests.mar.conftest import DAY, at_local, dose_at

pytestmark = pytest.mark.django_db


def page_url(home, unit):
    return reverse("medications:paper_round", args=[home.pk, unit.pk])


def start(client, home, unit, reason="Wi-Fi down on the first floor", key=None):
    return client.post(
        reverse("medications:paper_round_start", args=[home.pk, unit.pk]),
        {"reason": reason, "idempotency_key": key or str(uuid.uuid4())},
    )


def back_enter(client, dose, here, **data):
    data.setdefault("idempotency_key", str(uuid.uuid4()))
    data.setdefault("outcome", "given")
    data.setdefault("late_reason", LATE_REASON_PAPER)
    data.setdefault("next", here)
    return client.post(reverse("medications:dose_record", args=[dose.pk]), data)


def test_a_manager_switches_a_unit_to_paper_and_back_audited(
    client, clock, home_a, unit_a, manager_a, carer_a, qualified, paracetamol
):
    clock("07:30")
    client.force_login(manager_a)
    key = str(uuid.uuid4())
    assert start(client, home_a, unit_a, key=key).status_code == 302
    assert start(client, home_a, unit_a, key=key).status_code == 302  # the same form again
    paper = PaperRound.objects.get()
    assert paper.is_open and paper.started_by == manager_a
    again = start(client, home_a, unit_a)  # a second, different request
    assert again.status_code == 409 and "on a paper round since" in again.content.decode()

    client.force_login(carer_a)
    round_page = client.get(reverse("medications:round", args=[home_a.pk])).content.decode()
    assert 'id="paper-round-banner"' in round_page and "Oak is on a paper round" in round_page
    assert reverse("medications:paper_round", args=[home_a.pk, unit_a.pk]) not in round_page
    assert start(client, home_a, unit_a).status_code == 403  # carers cannot switch

    clock("12:30")
    client.force_login(manager_a)
    end = client.post(reverse("medications:paper_round_end", args=[home_a.pk, unit_a.pk]))
    assert end.status_code == 302
    paper.refresh_from_db()
    assert not paper.is_open and paper.ended_by == manager_a
    assert paper.ended_at == at_local(home_a, DAY, "12:30")
    assert list(
        AuditEvent.objects.filter(action__startswith="paper_round.").values_list(
            "action", flat=True
        )
    ) == ["paper_round.started", "paper_round.ended"]
    # Ending it twice changes nothing.
    services.paper_round_end(paper_round=paper, by=manager_a)
    assert AuditEvent.objects.filter(action="paper_round.ended").count() == 1
    assert (
        "paper-round-banner"
        not in client.get(reverse("medications:round", args=[home_a.pk])).content.decode()
    )


def test_starting_a_paper_round_needs_a_reason_and_a_manager(
    client, clock, home_a, unit_a, manager_a, senior_a
):
    client.force_login(manager_a)
    response = start(client, home_a, unit_a, reason="   ")
    assert response.status_code == 400 and not PaperRound.objects.exists()
    with pytest.raises(services.PaperRoundError) as e:
        services.paper_round_start(unit=unit_a, by=senior_a, reason="Wi-Fi down")
    assert e.value.code == "not_allowed"


def test_back_entry_lists_one_row_per_dose_and_records_through_the_same_rules(
    client, clock, home_a, unit_a, manager_a, qualified, paracetamol, make_line, senior2_a
):
    oxycodone = make_line("Oxycodone 10mg capsules", dose_unit="capsule")
    morning, cd_morning = dose_at(paracetamol, "08:00"), dose_at(oxycodone, "08:00")
    evening = dose_at(paracetamol, "20:00")
    clock("07:30")
    paper = services.paper_round_start(unit=unit_a, by=manager_a, reason="Wi-Fi down")
    clock("13:00")
    services.paper_round_end(paper_round=paper, by=manager_a)

    client.force_login(manager_a)
    here = page_url(home_a, unit_a) + f"?paper_round={paper.pk}"
    page = client.get(here).content.decode()
    # The period's doses, one row each; the evening dose is after the switch back.
    assert f'id="pe-{morning.pk}"' in page and f'id="pe-{cd_morning.pk}"' in page
    assert f'id="pe-{evening.pk}"' not in page
    assert f'value="{LATE_REASON_PAPER}"' in page and 'value="08:00"' in page

    response = back_enter(client, morning, here, given_time="08:10", note="Initials: KB")
    assert response.status_code == 302 and response["Location"] == here
    record = Administration.objects.get(dose=morning)
    assert record.late and record.late_reason == LATE_REASON_PAPER
    assert record.administered_at == at_local(home_a, DAY, "08:10")
    assert record.recorded_by == manager_a and record.note == "Initials: KB"

    # The same row sent twice is stored once; a second, different record is refused.
    key = str(uuid.uuid4())
    refused = back_enter(client, morning, here, idempotency_key=key, given_time="08:15")
    assert refused.status_code == 409
    assert Administration.objects.filter(dose=morning).count() == 1

    # A CD back-entered without its witness is refused like on the round (R-MAR-9).
    no_witness = back_enter(client, cd_morning, here, given_time="08:10")
    assert no_witness.status_code in (400, 422)
    assert not Administration.objects.filter(dose=cd_morning).exists()
    ok = back_enter(
        client,
        cd_morning,
        here,
        given_time="08:10",
        witness_username="senior2_a",
        witness_password=TEST_PASSWORD,
    )
    assert ok.status_code == 302
    assert Administration.objects.get(dose=cd_morning).witness == senior2_a

    page = client.get(here).content.decode()
    assert page.count("Already recorded") == 2 and "paper-entry-recorded" in page
    assert f'action="{reverse("medications:dose_record", args=[morning.pk])}"' not in page


def test_the_paper_round_page_is_for_managers_and_404_for_an_outsider(
    client, clock, home_a, unit_a, senior_a, manager_a, carer_b
):
    client.force_login(senior_a)
    assert client.get(page_url(home_a, unit_a)).status_code == 403
    client.force_login(carer_b)
    assert client.get(page_url(home_a, unit_a)).status_code == 404
    client.force_login(manager_a)
    page = client.get(page_url(home_a, unit_a)).content.decode()
    assert "Switch Oak to a paper round" in page


def test_cd_rows_carry_the_offline_marker_and_late_entries_offer_network_outage(
    client, clock, home_a, unit_a, carer_a, qualified, paracetamol, make_line
):
    oxycodone = make_line("Oxycodone 10mg capsules", dose_unit="capsule")
    cd, plain = dose_at(oxycodone, "08:00"), dose_at(paracetamol, "08:00")
    clock("10:00")  # both windows have closed: late entries
    client.force_login(carer_a)
    page = client.get(reverse("medications:round", args=[home_a.pk]) + "?round=all").content
    html = page.decode()
    cd_row = html[html.index(f'id="dose-{cd.pk}"') - 80 :][:400]
    plain_row = html[html.index(f'id="dose-{plain.pk}"') - 80 :][:400]
    assert 'data-offline="paper-cd-register"' in cd_row
    assert "data-offline=" not in plain_row
    assert "record this controlled drug in the printed CD register" in html
    assert f'list="lrs-{plain.pk}"' in html
    assert f'<option value="{LATE_REASON_NETWORK}">' in html

    response = client.post(
        reverse("medications:dose_record", args=[plain.pk]),
        {
            "idempotency_key": str(uuid.uuid4()),
            "outcome": "given",
            "late_reason": LATE_REASON_NETWORK,
            "given_time": "08:05",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert Administration.objects.get(dose=plain).late_reason == LATE_REASON_NETWORK
