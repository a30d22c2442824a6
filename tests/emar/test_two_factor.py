"""R-SEC-2: managers, provider admins and inspectors sign in with a one-time code too."""

import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import TEST_PASSWORD


@pytest.fixture(autouse=True)
def _required(settings):
    settings.TWO_FACTOR_REQUIRED = True


def _code(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def _sign_in(client, username):
    client.post(reverse("login"), {"username": username, "password": TEST_PASSWORD})


@pytest.mark.parametrize("who", ["manager_a", "inspector_a", "admin_a"])
def test_managers_inspectors_and_admins_must_set_up_a_code(client, who, request):
    user = request.getfixturevalue(who)
    _sign_in(client, user.username)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith("/login/code/")
    page = client.get(response["Location"]).content.decode()
    assert "Set up two-step sign-in" in page and "data:image/svg+xml" in page
    # No polling on this page: the badge would be sent back here and reload it for ever.
    assert reverse("notification_badge") not in page


def test_a_carer_is_not_asked_for_a_code(client, carer_a):
    _sign_in(client, "carer_a")
    assert client.get(reverse("dashboard")).status_code == 200


def test_setting_up_then_signing_in_with_a_code(client, manager_a):
    _sign_in(client, "manager_a")
    client.get(reverse("two_factor"))
    device = TOTPDevice.objects.get(user=manager_a)
    assert not device.confirmed
    assert client.get(reverse("dashboard")).status_code == 302
    right = client.post(reverse("two_factor"), {"code": _code(device), "next": "/"})
    assert right.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("dashboard")).status_code == 200
    # Next time: enter a code, not set up again.
    client.post(reverse("logout"))
    _sign_in(client, "manager_a")
    page = client.get(reverse("two_factor")).content.decode()
    assert "Enter your one-time code" in page


def test_a_wrong_code_does_not_sign_in(client, manager_a):
    _sign_in(client, "manager_a")
    client.get(reverse("two_factor"))
    device = TOTPDevice.objects.get(user=manager_a)
    wrong = "000000" if _code(device) != "000000" else "111111"
    response = client.post(reverse("two_factor"), {"code": wrong})
    assert response.status_code == 400 and "not right" in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_bad_codes_are_a_clear_400(client, manager_a):
    _sign_in(client, "manager_a")
    for bad in ("", "abc", "1234567"):
        response = client.post(reverse("two_factor"), {"code": bad})
        assert response.status_code == 400


def test_htmx_requests_are_redirected_too(client, manager_a):
    _sign_in(client, "manager_a")
    response = client.get(reverse("notification_badge"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"].startswith("/login/code/")


def test_totp_code_command_prints_the_current_code(client, manager_a):
    _sign_in(client, "manager_a")
    client.get(reverse("two_factor"))
    out = StringIO()
    call_command("totp_code", "manager_a", stdout=out)
    assert client.post(reverse("two_factor"), {"code": out.getvalue().strip()}).status_code == 302


def test_switched_off_by_the_setting(client, manager_a, settings):
    settings.TWO_FACTOR_REQUIRED = False
    _sign_in(client, "manager_a")
    assert client.get(reverse("dashboard")).status_code == 200


def test_throttled_codes_say_how_long_to_wait_and_a_manager_can_unlock(
    client, manager_a, admin_a, home_a
):
    from django.utils import timezone

    from emar import services

    device = TOTPDevice.objects.create(user=manager_a, name="app", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=8, throttling_failure_timestamp=timezone.now()
    )
    _sign_in(client, "manager_a")
    device.refresh_from_db()
    refused = client.post(reverse("two_factor"), {"code": _code(device)})
    text = refused.content.decode()
    assert refused.status_code == 400
    assert "Too many wrong codes: try again in" in text and "minute" in text
    services.account_unlock(home=home_a, user=manager_a, by=admin_a)
    device.refresh_from_db()
    assert client.post(reverse("two_factor"), {"code": _code(device)}).status_code == 302
