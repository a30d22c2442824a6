"""URL kwargs of the MAR chart's pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py); `resident_id` comes from tests/medications/url_params.py."""

from __future__ import annotations

from emar.models import CareHome, Unit, User


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    return {"unit_id": unit.pk}
