"""URL parameters of the core's URLs, at home A (see tests/emar/test_permission_matrix.py)."""

from emar.models import Membership


def build(*, home, unit, users) -> dict[str, int]:
    return {"membership_id": Membership.objects.get(user=users["inspector"], home=home).pk}
