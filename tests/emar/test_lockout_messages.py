"""R-SEC-6: every sign-in lockout message is plain English ("try again in 15 minutes")."""

from django.urls import reverse

from emar.auth import pin_set
from emar.witness import minutes_words


def test_the_password_lockout_says_how_long_in_words(client, carer_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "carer_a", "password": "nope"})
    locked = client.post(reverse("login"), {"username": "carer_a", "password": "nope"})
    text = locked.content.decode()
    assert locked.status_code == 429
    assert "Try again in 15 minutes" in text and "ask your manager to unlock" in text
    assert "PT15M" not in text and "Wait " not in text


def test_the_pin_switch_lockout_says_how_long_in_words(client, carer_a, settings):
    pin_set(user=carer_a, pin="1357")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("pin_switch"), {"username": "carer_a", "pin": "0000"})
    locked = client.post(reverse("pin_switch"), {"username": "carer_a", "pin": "1357"})
    assert locked.status_code == 429
    assert "Try again in 15 minutes" in locked.content.decode()


def test_waits_read_as_people_say_them():
    import datetime as dt

    assert minutes_words(dt.timedelta(minutes=15)) == "15 minutes"
    assert minutes_words(dt.timedelta(seconds=30)) == "1 minute"
    assert minutes_words(dt.timedelta(minutes=14, seconds=1)) == "15 minutes"
    assert minutes_words(dt.timedelta(hours=2)) == "2 hours"
