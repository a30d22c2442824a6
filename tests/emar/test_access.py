"""Sign-in, lockout, idle logout, home scoping and inspector access (R-SEC-1, R-SEC-2, R-ORG-2,
R-ORG-4)."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from emar import permissions, services
from emar.models import AuditEvent, Membership, Role
from tests.factories import TEST_PASSWORD


def _login(client, username, password=TEST_PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_staff_member_signs_in_and_sees_their_home(client, carer_a, home_a):
    response = _login(client, "carer_a")
    assert response.status_code == 302
    page = client.get(reverse("dashboard")).content.decode()
    assert "Home A" in page
    assert "Carer" in page


def test_wrong_password_is_refused_with_a_message(client, carer_a):
    response = _login(client, "carer_a", "nope")
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_account_locks_after_repeated_failures(client, carer_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "carer_a", "wrong")
    response = _login(client, "carer_a")  # even the right password is refused now
    assert response.status_code == 429
    assert "locked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_account_not_per_tablet(client, carer_a, senior_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "carer_a", "wrong")
    assert _login(client, "senior_a").status_code == 302


def test_idle_session_is_signed_out(client, carer_a, settings):
    _login(client, "carer_a")
    assert client.get(reverse("dashboard")).status_code == 200
    later = timezone.now() + dt.timedelta(minutes=settings.IDLE_LOGOUT_MINUTES + 1)
    with time_machine.travel(later, tick=False):
        response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert client.get(reverse("dashboard")).status_code == 302


def test_activity_keeps_the_session(client, carer_a, settings):
    _login(client, "carer_a")
    start = timezone.now()
    for minutes in (5, 10, 15, 20):
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            assert client.get(reverse("dashboard")).status_code == 200


def test_background_polling_does_not_keep_an_idle_tablet_signed_in(client, carer_a, settings):
    _login(client, "carer_a")
    client.get(reverse("dashboard"))
    start = timezone.now()
    for minutes in (4, 8):
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            client.get(reverse("dashboard"), HTTP_X_EMAR_POLL="1")
    with time_machine.travel(start + dt.timedelta(minutes=11), tick=False):
        assert client.get(reverse("dashboard")).status_code == 302


def test_provider_admin_sees_every_home_of_their_provider_only(admin_a, home_a, home_b):
    assert list(permissions.homes_for(admin_a)) == [home_a]
    assert permissions.role_in(admin_a, home_a) == permissions.ADMIN


def test_home_switcher_only_offers_own_homes(client, admin_a, home_a, home_b):
    client.force_login(admin_a)
    assert client.post(reverse("home_switch", args=[home_b.pk])).status_code == 404


def test_switching_home_changes_the_dashboard(client, provider_a, home_a, carer_a):
    from tests.factories import HomeFactory

    second = HomeFactory(provider=provider_a, name="Second Home")
    Membership.objects.create(user=carer_a, home=second, role=Role.SENIOR)
    client.force_login(carer_a)
    client.post(reverse("home_switch", args=[second.pk]))
    page = client.get(reverse("dashboard")).content.decode()
    assert "Second Home" in page and "Senior" in page


def test_inspector_access_ends_on_its_expiry(client, inspector_a, home_a):
    client.force_login(inspector_a)
    assert client.get(reverse("dashboard")).status_code == 200
    expiry = Membership.objects.get(user=inspector_a).expires_at
    with time_machine.travel(expiry + dt.timedelta(seconds=1), tick=False):
        client.force_login(inspector_a)
        assert client.get(reverse("dashboard")).status_code == 403
        assert permissions.homes_for(inspector_a).count() == 0


def test_manager_grants_inspector_access_until_a_date(client, manager_a, home_a):
    from tests.factories import UserFactory

    UserFactory(username="cqc_inspector")
    client.force_login(manager_a)
    until = timezone.localdate() + dt.timedelta(days=14)
    response = client.post(
        reverse("inspector_grant", args=[home_a.pk]),
        {"username": "cqc_inspector", "expires_on": until.isoformat()},
    )
    assert response.status_code == 302
    m = Membership.objects.get(user__username="cqc_inspector")
    assert m.role == Role.INSPECTOR
    assert m.expires_at.astimezone(home_a.tz).date() == until
    assert AuditEvent.objects.filter(action="membership.set", actor=manager_a).exists()


@pytest.mark.parametrize(
    ("username", "days", "error"),
    [
        ("nobody", 14, "no active account"),
        ("cqc", 0, "after today"),
        ("cqc", 400, "a year at most"),
        ("carer_a", 14, "staff of this home"),
    ],
)
def test_inspector_grant_refuses_bad_input(
    client, manager_a, carer_a, home_a, username, days, error
):
    from tests.factories import UserFactory

    UserFactory(username="cqc")
    client.force_login(manager_a)
    until = timezone.localdate() + dt.timedelta(days=days)
    response = client.post(
        reverse("inspector_grant", args=[home_a.pk]),
        {"username": username, "expires_on": until.isoformat()},
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert Membership.objects.get(user=carer_a).role == Role.CARER
    assert not Membership.objects.filter(user__username="cqc").exists()


def test_a_carer_of_another_home_cannot_be_granted_inspector_access(
    client, manager_a, home_a, carer_b
):
    """R-SEC-7: a staff account of any home is refused, or it could read every resident here."""
    client.force_login(manager_a)
    response = client.post(
        reverse("inspector_grant", args=[home_a.pk]),
        {
            "username": carer_b.username,
            "expires_on": (timezone.localdate() + dt.timedelta(days=14)).isoformat(),
        },
    )
    assert response.status_code == 400
    assert "staff account, not an inspector" in response.content.decode()
    assert not Membership.objects.filter(user=carer_b, home=home_a).exists()
    assert permissions.homes_for(carer_b).filter(pk=home_a.pk).count() == 0


def test_a_provider_admin_cannot_be_granted_inspector_access(home_a, manager_a, admin_a):
    with pytest.raises(services.DomainError) as e:
        services.membership_set(
            user=admin_a,
            home=home_a,
            role=Role.INSPECTOR,
            by=manager_a,
            expires_at=timezone.now() + dt.timedelta(days=7),
        )
    assert e.value.code == "not_an_inspector"


def test_an_inspector_account_cannot_be_given_a_staff_role(home_b, inspector_a):
    with pytest.raises(services.DomainError) as e:
        services.membership_set(user=inspector_a, home=home_b, role=Role.CARER, by=None)
    assert e.value.code == "inspector_account"
    assert not Membership.objects.filter(user=inspector_a, home=home_b).exists()


def test_an_inspector_can_be_granted_a_second_home(home_b, inspector_a):
    m = services.membership_set(
        user=inspector_a,
        home=home_b,
        role=Role.INSPECTOR,
        by=None,
        expires_at=timezone.now() + dt.timedelta(days=7),
    )
    assert m.role == Role.INSPECTOR


def test_manager_ends_inspector_access_early(client, manager_a, inspector_a, home_a):
    client.force_login(manager_a)
    m = Membership.objects.get(user=inspector_a)
    assert client.post(reverse("membership_end", args=[m.pk])).status_code == 302
    m.refresh_from_db()
    assert not m.active
    client.force_login(inspector_a)
    assert client.get(reverse("dashboard")).status_code == 403


def test_inspector_cannot_grant_access(client, inspector_a, home_a):
    client.force_login(inspector_a)
    response = client.post(
        reverse("inspector_grant", args=[home_a.pk]),
        {"username": "inspector_a", "expires_on": "2099-01-01"},
    )
    assert response.status_code == 403


def test_security_headers_are_set(client):
    response = client.get(reverse("login"))
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_password_reset_sends_an_email(client, carer_a, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": carer_a.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/password/reset/" in mailoutbox[0].body


def test_dashboard_staff_count_leaves_out_ended_and_expired_access(
    client, home_a, manager_a, carer_a, senior_a, inspector_a
):
    client.force_login(manager_a)
    before = client.get(reverse("dashboard")).content.decode()
    assert "4 people have a role here now" in before
    services.membership_end(membership=Membership.objects.get(user=carer_a), by=manager_a)
    expiry = Membership.objects.get(user=inspector_a).expires_at
    with time_machine.travel(expiry + dt.timedelta(seconds=1), tick=False):
        client.force_login(manager_a)
        after = client.get(reverse("dashboard")).content.decode()
    assert "2 people have a role here now" in after
