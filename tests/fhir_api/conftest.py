"""Fixtures for the FHIR API (R-FHIR-1..4): the MAR fixtures (a resident at home A with live
lines, a frozen clock on DAY, qualified staff), tokens and a client that speaks FHIR JSON."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fhir_api import services as api_services
from tests.mar.conftest import (  # noqa: F401  (fixtures)
    DAY,
    at_local,
    clock,
    dose_at,
    make_line,
    paracetamol,
    prn_protocol,
    qualified,
    resident_a,
)


def token_for(user, **kw) -> str:
    return api_services.api_token_create(user=user, **kw)[1]


def validated(body: dict):
    """R-FHIR-3: the resource (and every resource of a Bundle) validates against the R4B
    models of fhir.resources; returns the model."""
    model = get_fhir_model_class(body["resourceType"]).model_validate(body)
    for entry in body.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return model


class Api:
    def __init__(self, client, secret: str | None) -> None:
        self.client, self.secret = client, secret

    def _auth(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"} if self.secret else {}

    def get(self, path: str, **params):
        response = self.client.get(f"/fhir/r4/{path}", params, **self._auth())
        response.body = json.loads(response.content)
        validated(response.body)
        return response

    def post(self, body, path: str = "MedicationAdministration", raw: bytes | None = None, **kw):
        data = raw if raw is not None else json.dumps(body, default=str)
        response = self.client.post(
            f"/fhir/r4/{path}",
            data=data,
            content_type=kw.pop("content_type", "application/fhir+json"),
            **self._auth(),
            **kw,
        )
        response.body = json.loads(response.content)
        validated(response.body)
        return response


@pytest.fixture
def api_as(client):
    def make(user, **kw) -> Api:
        return Api(client, token_for(user, **kw) if user is not None else None)

    return make


@pytest.fixture
def prn(make_line, senior_a):  # noqa: F811  (the imported fixture)
    live = make_line("Paracetamol 500mg tablets", prn=True, dose=Decimal(1), dose_max=Decimal(2))
    prn_protocol(live, senior_a, interval=240, max_24h=2)
    return live


@pytest.fixture
def oxycodone(make_line):  # noqa: F811
    return make_line("Oxycodone 10mg capsules", dose_unit="capsule")


def administration(line, at, *, ident: str = "dose-1", status: str = "completed", **extra):
    body = {
        "resourceType": "MedicationAdministration",
        "identifier": [{"system": "https://example.org/ehr", "value": ident}],
        "status": status,
        "medicationReference": {"reference": f"Medication/{line.medicine_id}"},
        "subject": {"reference": f"Patient/{line.resident_id}"},
        "request": {"reference": f"MedicationRequest/{line.pk}"},
        "effectiveDateTime": at.isoformat(),
    }
    body.update(extra)
    return body


def issue_code(response) -> str:
    return response.body["issue"][0]["details"]["coding"][0]["code"]
