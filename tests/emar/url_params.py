"""URL parameters of the core's URLs, at home A (see tests/emar/test_permission_matrix.py)."""

import datetime as dt

from django.utils import timezone

from emar.models import Membership, Notification, WitnessThrottle


def build(*, home, unit, users) -> dict[str, int]:
    notification = Notification.objects.create(
        recipient=users["outsider"], home=home, kind="test", subject="x", title="Someone else's"
    )
    throttle = WitnessThrottle.objects.create(
        device="tablet-1",
        username=users["senior"].username,
        witness=users["senior"],
        home=home,
        failures=3,
        last_failure_at=timezone.now(),
        locked_until=timezone.now() + dt.timedelta(minutes=15),
    )
    return {
        "membership_id": Membership.objects.get(user=users["inspector"], home=home).pk,
        "notification_id": notification.pk,
        "member_id": users["carer"].pk,
        "throttle_id": throttle.pk,
        "round_id": home.rounds.order_by("time").first().pk,
        # "H" is on a past record (tests/mar/round_url_params.py), so deleting it is refused.
        "code_id": home.codes.get(code="H").pk,
    }
