"""URL parameters of the core's URLs, at home A (see tests/emar/test_permission_matrix.py)."""

from emar.models import Membership, Notification


def build(*, home, unit, users) -> dict[str, int]:
    notification = Notification.objects.create(
        recipient=users["outsider"], home=home, kind="test", subject="x", title="Someone else's"
    )
    return {
        "membership_id": Membership.objects.get(user=users["inspector"], home=home).pk,
        "notification_id": notification.pk,
    }
