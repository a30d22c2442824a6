"""URL kwargs of the API token screen for the permission-matrix harness
(tests/emar/test_permission_matrix.py)."""

from __future__ import annotations

from emar.models import CareHome, Unit, User
from fhir_api import services


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    token, _secret = services.api_token_create(user=users["carer"])
    return {"token_id": token.pk}
