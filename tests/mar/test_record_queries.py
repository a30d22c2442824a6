"""The cost of one tap on the round (SPEC §11, issue 15): the queries of recording a dose."""

from __future__ import annotations

import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from medications import services
from tests.mar.conftest import dose_at
from tests.stock.conftest import receive


def test_print_queries(client, clock, qualified, paracetamol, carer_a, senior_a):
    receive(paracetamol, senior_a, "56")
    doses = [dose_at(paracetamol, "08:00"), dose_at(paracetamol, "20:00")]
    clock("08:05")
    client.force_login(carer_a)
    client.get("/")
    with CaptureQueriesContext(connection) as http:
        r = client.post(
            reverse("medications:dose_record", args=[doses[0].pk]),
            {"idempotency_key": str(uuid.uuid4()), "outcome": "given"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=f"http://testserver/homes/{doses[0].home_id}/round/?unit={doses[0].unit_id}",
        )
    assert r.status_code == 200
    clock("20:05")
    with CaptureQueriesContext(connection) as svc:
        services.administration_record(
            dose=doses[1], by=carer_a, idempotency_key=uuid.uuid4(), outcome="given"
        )
    with open("/tmp/speedq/out.txt", "w") as f:
        for name, ctx in (("HTTP", http), ("service", svc)):
            f.write(f"== {name}: {len(ctx)}\n")
            for q in ctx.captured_queries:
                f.write(q["sql"][:300] + "\n")
