"""R-SEC-2: a quick user switch (username + PIN) on a shared tablet."""

from django.urls import reverse

from emar.auth import pin_set
from tests.factories import TEST_PASSWORD


def test_a_carer_sets_a_pin_with_their_password(client, carer_a):
    client.force_login(carer_a)
    wrong = client.post(reverse("pin_set"), {"password": "nope", "pin": "2468"})
    assert wrong.status_code == 400
    assert (
        client.post(reverse("pin_set"), {"password": TEST_PASSWORD, "pin": "2468"}).status_code
        == 302
    )
    carer_a.refresh_from_db()
    assert carer_a.pin_hash and "2468" not in carer_a.pin_hash


def test_switching_hands_the_tablet_to_a_colleague(client, carer_a, senior_a):
    pin_set(user=senior_a, pin="1357")
    client.force_login(carer_a)
    response = client.post(reverse("pin_switch"), {"username": "senior_a", "pin": "1357"})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == senior_a.pk


def test_a_wrong_pin_is_refused_and_counts_towards_lockout(client, senior_a, settings):
    pin_set(user=senior_a, pin="1357")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert client.post(
            reverse("pin_switch"), {"username": "senior_a", "pin": "0000"}
        ).status_code in (400, 429)
    locked = client.post(reverse("pin_switch"), {"username": "senior_a", "pin": "1357"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_managers_cannot_use_a_pin(client, manager_a):
    pin_set(user=manager_a, pin="1357")
    response = client.post(reverse("pin_switch"), {"username": "manager_a", "pin": "1357"})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_bad_pin_input_is_a_clear_400(client, carer_a):
    for pin in ("", "12", "abcd", "1234567"):
        response = client.post(reverse("pin_switch"), {"username": "carer_a", "pin": pin})
        assert response.status_code == 400
