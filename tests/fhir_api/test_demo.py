"""R-RUN-4, R-FHIR-5: seed_demo gives Demo Care Home a supplying pharmacy with lines waiting
for a senior's check, and prints the pharmacy's token with a curl command that works."""

from __future__ import annotations

import re
import shlex
from io import StringIO

from django.core.management import call_command

from emar.models import CareHome
from medications import services
from medications.models import PharmacyImport


def test_the_demo_pharmacy_has_lines_waiting_and_a_working_curl(db, client):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    printed = out.getvalue()
    home = CareHome.objects.get(name="Demo Care Home")
    waiting = services.pharmacy_imports_waiting(home)
    assert waiting.exists()
    resident = waiting.first().line.resident
    kinds = {row.kind for row in services.pharmacy_import_review(resident)}
    assert {"changed", "new"} <= kinds
    curl = printed[printed.index("curl -X POST") :]
    token = re.search(r"Bearer (emar_[^\s'\"]+)", curl).group(1)
    body = shlex.split(curl.split("-d ", 1)[1].splitlines()[0])[0]
    response = client.post(
        "/fhir/r4/MedicationRequest",
        data=body,
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201, response.content
    assert PharmacyImport.objects.filter(identifier_value="try-1").exists()
