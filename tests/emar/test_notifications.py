"""Shifts (who is on duty, R-ALR-1) and the notification centre (R-ALR-4, R-ALR-5)."""

import threading

import pytest
from django.db import connection
from django.urls import reverse

from emar import permissions, selectors, services
from emar.models import TEXT_MAX, Notification, Shift


def _notify(home, users, **extra):
    return services.notify(
        recipients=users,
        home=home,
        kind="dose_due",
        subject="dose:1",
        window="2026-11-25T08:00",
        title="Morning round: 12 doses due in Oak",
        link="/",
        **extra,
    )


def test_a_notification_is_sent_once_however_often_it_is_raised(home_a, carer_a, senior_a):
    assert _notify(home_a, [carer_a, senior_a]) == 2
    assert _notify(home_a, [carer_a, senior_a]) == 0
    assert _notify(home_a, [carer_a, carer_a]) == 0
    assert Notification.objects.count() == 2


def test_a_long_body_is_shortened_to_the_databases_bound(home_a, carer_a):
    """R-REL-1: the body's database check (2,000 characters) never makes raising one fail;
    the notification links to the record, which holds the whole text."""
    assert _notify(home_a, [carer_a], body="Incident: " + "x" * 5000) == 1
    body = Notification.objects.get().body
    assert len(body) == TEXT_MAX and body.startswith("Incident: x") and body.endswith("…")


def test_another_window_is_a_new_notification(home_a, carer_a):
    _notify(home_a, [carer_a])
    services.notify(
        recipients=[carer_a],
        home=home_a,
        kind="dose_due",
        subject="dose:1",
        window="2026-11-26T08:00",
        title="Again tomorrow",
    )
    assert Notification.objects.filter(recipient=carer_a).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_raising_the_same_notification_at_once_send_one(postgres, home_a, carer_a):
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait()
            _notify(home_a, [carer_a])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Notification.objects.filter(recipient=carer_a).count() == 1


def test_email_goes_once_to_those_who_asked_for_it(
    home_a, carer_a, senior_a, mailoutbox, django_capture_on_commit_callbacks
):
    carer_a.email_notifications = True
    carer_a.save()
    with django_capture_on_commit_callbacks(execute=True):
        _notify(home_a, [carer_a, senior_a])
    with django_capture_on_commit_callbacks(execute=True):
        _notify(home_a, [carer_a, senior_a])
    assert [m.to for m in mailoutbox] == [[carer_a.email]]
    n = Notification.objects.get(recipient=carer_a)
    assert n.emailed_at is not None
    assert services.notification_email_send(notification_id=n.pk) is False
    assert len(mailoutbox) == 1


def test_badge_counts_unread_in_one_query(client, home_a, carer_a, django_assert_num_queries):
    _notify(home_a, [carer_a])
    services.notify(recipients=[carer_a], home=home_a, kind="k", subject="s", title="Second")
    client.force_login(carer_a)
    client.get(reverse("dashboard"))
    # session, user, roles, count
    with django_assert_num_queries(4):
        response = client.get(reverse("notification_badge"), HTTP_X_EMAR_POLL="1")
    assert ">2<" in response.content.decode()


def test_marking_read_opens_the_link_and_clears_the_badge(client, home_a, carer_a):
    _notify(home_a, [carer_a])
    n = Notification.objects.get()
    client.force_login(carer_a)
    response = client.post(reverse("notification_read", args=[n.pk]))
    assert response.status_code == 302 and response["Location"] == "/"
    assert selectors.unread_count(carer_a) == 0


def test_mark_all_read(client, home_a, carer_a):
    _notify(home_a, [carer_a])
    services.notify(recipients=[carer_a], home=home_a, kind="k", subject="s", title="Second")
    client.force_login(carer_a)
    client.post(reverse("notifications_read_all"))
    assert selectors.unread_count(carer_a) == 0


def test_someone_elses_notification_is_404(client, home_a, carer_a, senior_a):
    _notify(home_a, [carer_a])
    client.force_login(senior_a)
    n = Notification.objects.get()
    assert client.post(reverse("notification_read", args=[n.pk])).status_code == 404
    assert client.get(reverse("notifications")).content.decode().count("Morning round") == 0


def test_notifications_of_a_home_no_longer_worked_in_are_hidden(home_a, inspector_a):
    _notify(home_a, [inspector_a])
    assert selectors.unread_count(inspector_a) == 1
    services.membership_end(
        membership=inspector_a.memberships.get(),
        by=None,  # type: ignore[arg-type]
    )
    permissions.forget(inspector_a)  # a new request would compute the roles afresh
    assert selectors.unread_count(inspector_a) == 0


def test_starting_a_shift_puts_you_on_the_unit(client, home_a, unit_a, carer_a, senior_a):
    client.force_login(carer_a)
    response = client.post(reverse("shift_start", args=[home_a.pk]), {"unit": unit_a.pk})
    assert response.status_code == 302
    services.shift_start(user=senior_a, home=home_a, unit=None)
    assert set(selectors.on_shift(home_a, unit_a)) == {carer_a, senior_a}
    client.post(reverse("shift_end"))
    assert set(selectors.on_shift(home_a, unit_a)) == {senior_a}
    assert Shift.objects.get(user=carer_a).ended_at is not None


def test_one_open_shift_per_person(home_a, unit_a, carer_a):
    services.shift_start(user=carer_a, home=home_a, unit=unit_a)
    services.shift_start(user=carer_a, home=home_a, unit=None)
    assert Shift.objects.filter(user=carer_a, ended_at__isnull=True).count() == 1


def test_shift_in_another_homes_unit_is_refused(client, home_a, unit_b, carer_a):
    client.force_login(carer_a)
    response = client.post(reverse("shift_start", args=[home_a.pk]), {"unit": unit_b.pk})
    assert response.status_code == 400
    response = client.post(reverse("shift_start", args=[home_a.pk]), {"unit": "oak"})
    assert response.status_code == 400
    assert not Shift.objects.exists()


def test_inspector_cannot_start_a_shift(client, home_a, unit_a, inspector_a):
    client.force_login(inspector_a)
    assert (
        client.post(reverse("shift_start", args=[home_a.pk]), {"unit": unit_a.pk}).status_code
        == 403
    )
    with pytest.raises(services.DomainError) as e:
        services.shift_start(user=inspector_a, home=home_a, unit=unit_a)
    assert e.value.code == "not_staff"


def test_staff_whose_role_ended_are_not_on_shift(home_a, unit_a, carer_a, manager_a):
    services.shift_start(user=carer_a, home=home_a, unit=unit_a)
    services.membership_end(membership=carer_a.memberships.get(), by=manager_a)
    assert list(selectors.on_shift(home_a, unit_a)) == []
