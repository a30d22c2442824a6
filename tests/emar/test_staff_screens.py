"""R-ORG-6, R-ORG-5: managers run their home's staff and settings on screens of their own;
every change is on the audit trail; history of roles is kept; a home keeps a manager."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from emar import services
from emar.auth import pin_set
from emar.models import AuditEvent, Membership, NonAdministrationCode, Role, Round, User
from tests.factories import TEST_PASSWORD

NEW_PASSWORD = "Ward-round-2026!"


def _add(client, home, **data):
    payload = {
        "idempotency_key": str(uuid.uuid4()),
        "username": "newcarer",
        "first_name": "Nia",
        "last_name": "Jones",
        "email": "nia@example.test",
        "password": NEW_PASSWORD,
        "role": "carer",
        **data,
    }
    return client.post(reverse("staff_add", args=[home.pk]), payload)


def test_the_staff_list_shows_current_roles_and_ended_ones_apart(
    client, home_a, manager_a, carer_a, senior_a
):
    services.membership_end(membership=senior_a.memberships.get(), by=manager_a)
    client.force_login(manager_a)
    page = client.get(reverse("staff", args=[home_a.pk])).content.decode()
    current, ended = page.split('id="staff-ended"')
    assert "carer_a" in current and "senior_a" not in current
    assert "senior_a" in ended and "Mia Allen" in ended  # who ended it


def test_a_manager_adds_a_person_who_must_change_the_initial_password(client, home_a, manager_a):
    client.force_login(manager_a)
    key = str(uuid.uuid4())
    assert _add(client, home_a, idempotency_key=key).status_code == 302
    assert _add(client, home_a, idempotency_key=key).status_code == 302  # double tap: one
    person = User.objects.get(username="newcarer")
    assert person.must_change_password and person.check_password(NEW_PASSWORD)
    assert Membership.objects.get(user=person).role == Role.CARER
    added = AuditEvent.objects.get(action="staff.added", actor=manager_a)
    assert NEW_PASSWORD not in str(added.after) and added.after["username"] == "newcarer"
    role = person.memberships.get()
    assert AuditEvent.objects.filter(action="membership.set", object_id=str(role.pk)).exists()

    client.logout()
    signed_in = client.post(reverse("login"), {"username": "newcarer", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    page = client.get(reverse("dashboard"))
    assert page.status_code == 302 and page["Location"] == reverse("password_change")
    changed = client.post(
        reverse("password_change"),
        {
            "old_password": NEW_PASSWORD,
            "new_password1": "Another-long-pass-77",
            "new_password2": "Another-long-pass-77",
        },
    )
    assert changed.status_code == 302
    person.refresh_from_db()
    assert not person.must_change_password
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "carer_a"}, "is taken"),
        ({"username": "CARER_A"}, "is taken"),
        ({"password": "123"}, "too short"),
        ({"role": "admin"}, "Select a valid choice"),
        ({"role": "inspector"}, "Select a valid choice"),
        ({"username": "bad name!"}, "Enter a valid username"),
    ],
)
def test_adding_a_person_checks_everything(client, home_a, manager_a, carer_a, data, message):
    client.force_login(manager_a)
    response = _add(client, home_a, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert User.objects.count() == 2


def test_a_role_change_ends_the_old_role_and_starts_a_new_one(client, home_a, manager_a, carer_a):
    client.force_login(manager_a)
    old = carer_a.memberships.get()
    response = client.post(
        reverse("staff_role", args=[home_a.pk, carer_a.pk]),
        {"role": "senior", "idempotency_key": str(uuid.uuid4())},
    )
    assert response.status_code == 302
    old.refresh_from_db()
    assert not old.active and old.ended_by == manager_a and old.ended_at is not None
    assert old.role == Role.CARER  # history is never edited
    new = Membership.objects.get(user=carer_a, active=True)
    assert new.role == Role.SENIOR and new.granted_by == manager_a
    event = AuditEvent.objects.get(action="membership.set", object_id=str(new.pk))
    assert event.before["role"] == "carer" and event.after["role"] == "senior"


def test_the_last_manager_cannot_give_up_the_role(client, home_a, manager_a, admin_a):
    client.force_login(manager_a)
    own = client.post(
        reverse("staff_role", args=[home_a.pk, manager_a.pk]),
        {"role": "senior", "idempotency_key": str(uuid.uuid4())},
    )
    assert own.status_code == 400 and "only manager" in own.content.decode()
    client.force_login(admin_a)
    ended = client.post(reverse("membership_end", args=[manager_a.memberships.get().pk]))
    assert ended.status_code == 400 and "only manager" in ended.content.decode()
    assert Membership.objects.get(user=manager_a).active

    deputy = services.person_add(
        home=home_a,
        username="deputy",
        first_name="Dee",
        last_name="Puty",
        email="",
        password=NEW_PASSWORD,
        role=Role.MANAGER,
        by=admin_a,
    )
    client.force_login(manager_a)
    own = client.post(
        reverse("staff_role", args=[home_a.pk, manager_a.pk]),
        {"role": "senior", "idempotency_key": str(uuid.uuid4())},
    )
    assert own.status_code == 302
    assert deputy.role == Role.MANAGER


def test_a_manager_cannot_manage_another_homes_staff(
    client, home_a, home_b, manager_a, carer_b, inspector_a
):
    client.force_login(manager_a)
    for name in ("staff_role", "staff_unlock", "staff_pin_reset"):
        assert client.post(reverse(name, args=[home_a.pk, carer_b.pk])).status_code == 404
        assert client.post(reverse(name, args=[home_b.pk, carer_b.pk])).status_code == 404
    # An inspector's access is not a staff role to change, unlock or reset.
    assert (
        client.post(
            reverse("staff_role", args=[home_a.pk, inspector_a.pk]),
            {"role": "carer", "idempotency_key": str(uuid.uuid4())},
        ).status_code
        == 404
    )
    assert client.get(reverse("staff", args=[home_b.pk])).status_code == 404
    assert client.get(reverse("home_settings", args=[home_b.pk])).status_code == 404


def test_a_manager_unlocks_a_locked_account(client, home_a, manager_a, carer_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "carer_a", "password": "nope"})
    locked = client.post(reverse("login"), {"username": "carer_a", "password": TEST_PASSWORD})
    assert locked.status_code == 429
    client.force_login(manager_a)
    page = client.get(reverse("staff", args=[home_a.pk])).content.decode()
    assert "Sign-in locked until" in page
    assert client.post(reverse("staff_unlock", args=[home_a.pk, carer_a.pk])).status_code == 302
    assert AuditEvent.objects.filter(action="account.unlocked", actor=manager_a).exists()
    client.logout()
    again = client.post(reverse("login"), {"username": "carer_a", "password": TEST_PASSWORD})
    assert again.status_code == 302


def test_a_manager_resets_a_pin(client, home_a, manager_a, carer_a):
    pin_set(user=carer_a, pin="2468")
    client.force_login(manager_a)
    assert client.post(reverse("staff_pin_reset", args=[home_a.pk, carer_a.pk])).status_code == 302
    carer_a.refresh_from_db()
    assert carer_a.pin_hash == ""
    event = AuditEvent.objects.get(action="pin.reset")
    assert event.before == {"user": "carer_a", "pin_set": True}
    client.logout()
    refused = client.post(reverse("pin_switch"), {"username": "carer_a", "pin": "2468"})
    assert refused.status_code == 400


# --- Home settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["14", "181", "0", "-30", "abc", ""])
def test_the_dose_window_is_15_to_180_minutes(client, home_a, manager_a, window):
    client.force_login(manager_a)
    response = client.post(
        reverse("home_settings_save", args=[home_a.pk]),
        {"dose_window_minutes": window, "timezone": "Europe/London"},
    )
    assert response.status_code == 400
    home_a.refresh_from_db()
    assert home_a.dose_window_minutes == 60


def test_dose_window_and_timezone_are_saved_and_audited(client, home_a, manager_a):
    client.force_login(manager_a)
    bad = client.post(
        reverse("home_settings_save", args=[home_a.pk]),
        {"dose_window_minutes": "30", "timezone": "Mars/Olympus"},
    )
    assert bad.status_code == 400
    ok = client.post(
        reverse("home_settings_save", args=[home_a.pk]),
        {"dose_window_minutes": "30", "timezone": "Europe/Dublin"},
    )
    assert ok.status_code == 302
    home_a.refresh_from_db()
    assert (home_a.dose_window_minutes, home_a.timezone) == (30, "Europe/Dublin")
    event = AuditEvent.objects.get(action="home.settings")
    assert event.before["dose_window_minutes"] == 60 and event.after["timezone"] == "Europe/Dublin"


def test_round_times_are_unique_and_listed_in_order(client, home_a, manager_a):
    client.force_login(manager_a)
    clash = client.post(
        reverse("round_add", args=[home_a.pk]),
        {"name": "Supper", "time": "17:00", "idempotency_key": str(uuid.uuid4())},
    )
    assert clash.status_code == 400 and "already at 17:00" in clash.content.decode()
    added = client.post(
        reverse("round_add", args=[home_a.pk]),
        {"name": "Early", "time": "06:30", "idempotency_key": str(uuid.uuid4())},
    )
    assert added.status_code == 302
    night = Round.objects.get(home=home_a, name="Night")
    moved = client.post(
        reverse("round_edit", args=[home_a.pk, night.pk]), {"name": "Night", "time": "21:30"}
    )
    assert moved.status_code == 302
    night.refresh_from_db()
    assert night.time == dt.time(21, 30)
    page = client.get(reverse("home_settings", args=[home_a.pk])).content.decode()
    order = [page.index(f'value="{t}"') for t in ("06:30", "08:00", "12:00", "17:00", "21:30")]
    assert order == sorted(order)
    assert AuditEvent.objects.filter(action="round.saved").count() == 2
    same_name = client.post(
        reverse("round_edit", args=[home_a.pk, night.pk]), {"name": "morning", "time": "21:30"}
    )
    assert same_name.status_code == 400 and "already a round called" in same_name.content.decode()


def test_a_new_round_time_moves_todays_future_doses(home_a, manager_a, monkeypatch):
    calls = []
    monkeypatch.setattr(services, "_schedule_hooks", [lambda home: calls.append(home.pk)])
    night = Round.objects.get(home=home_a, name="Night")
    services.round_save(home=home_a, round=night, name="Night", time=dt.time(21, 0), by=manager_a)
    services.home_settings_update(
        home=home_a, dose_window_minutes=45, timezone_name="Europe/London", by=manager_a
    )
    assert calls == [home_a.pk, home_a.pk]


def test_codes_are_added_retired_and_deleted_only_when_unused(client, home_a, manager_a):
    client.force_login(manager_a)
    key = str(uuid.uuid4())
    data = {"code": "t", "label": "Taken by family", "category": "absent", "idempotency_key": key}
    assert client.post(reverse("code_add", args=[home_a.pk]), data).status_code == 302
    assert client.post(reverse("code_add", args=[home_a.pk]), data).status_code == 302  # once
    code = NonAdministrationCode.objects.get(home=home_a, code="T")
    duplicate = client.post(
        reverse("code_add", args=[home_a.pk]), {**data, "idempotency_key": str(uuid.uuid4())}
    )
    assert duplicate.status_code == 400 and "already exists" in duplicate.content.decode()
    for bad in ({"code": "TOO"}, {"code": "!"}, {"category": "nonsense"}, {"label": ""}):
        response = client.post(
            reverse("code_add", args=[home_a.pk]),
            {**data, "idempotency_key": str(uuid.uuid4()), **bad},
        )
        assert response.status_code == 400, bad

    assert client.post(reverse("code_retire", args=[home_a.pk, code.pk])).status_code == 302
    code.refresh_from_db()
    assert not code.active
    assert client.post(reverse("code_restore", args=[home_a.pk, code.pk])).status_code == 302
    assert client.post(reverse("code_delete", args=[home_a.pk, code.pk])).status_code == 302
    assert not NonAdministrationCode.objects.filter(pk=code.pk).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"code.added", "code.retired", "code.restored", "code.deleted"} <= actions


def test_a_code_on_past_records_can_only_be_retired(
    client, home_a, unit_a, manager_a, senior_a, carer_a
):
    from django.utils import timezone

    from medications.models import Administration
    from tests.medications.factories import line, times
    from tests.residents.factories import resident

    person = resident(unit_a, senior_a)
    live = line(person, senior_a, checker=manager_a, schedule=times("08:00"))
    code = home_a.codes.get(code="R")
    Administration.objects.create(
        home=home_a,
        resident=person,
        line=live,
        dose=None,
        outcome="not_given",
        code=code,
        administered_at=timezone.now(),
        recorded_by=carer_a,
        idempotency_key=uuid.uuid4(),
    )
    client.force_login(manager_a)
    refused = client.post(reverse("code_delete", args=[home_a.pk, code.pk]))
    assert refused.status_code == 400
    assert "on past records, so it cannot be deleted: retire it" in refused.content.decode()
    assert NonAdministrationCode.objects.filter(pk=code.pk).exists()
    assert not AuditEvent.objects.filter(action="code.deleted").exists()
    assert client.post(reverse("code_retire", args=[home_a.pk, code.pk])).status_code == 302
    code.refresh_from_db()
    assert not code.active


def test_the_staff_page_reads_a_constant_number_of_queries(client, home_a, manager_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import staff

    client.force_login(manager_a)
    url = reverse("staff", args=[home_a.pk])
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    for n in range(12):
        staff(home_a, Role.CARER if n % 2 else Role.SENIOR)
    assert count() == few
