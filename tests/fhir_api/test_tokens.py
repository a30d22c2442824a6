"""R-FHIR-4: tokens made on the command line, stored hashed, expiring, listed and revoked by a
manager of the home."""

from __future__ import annotations

import datetime as dt
import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from emar.models import AuditEvent
from fhir_api import services
from fhir_api.models import ApiToken

from .conftest import Api, issue_code


def test_api_token_command_prints_a_secret_stored_only_as_a_hash(client, carer_a, resident_a):
    out, err = StringIO(), StringIO()
    call_command("api_token", carer_a.username, "--days", "7", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert secret.startswith("emar_") and len(secret) > 40
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.key_hash, token.prefix}
    assert secret.startswith(token.prefix)
    assert (token.expires_at - token.created_at) == dt.timedelta(days=7)
    assert "not shown again" in err.getvalue()
    api = Api(client, secret)
    assert api.get("Patient").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert AuditEvent.objects.filter(action="api.token.created").exists()


def test_api_token_command_refuses_unknown_users_and_bad_days(carer_a, db):
    with pytest.raises(CommandError, match="No user"):
        call_command("api_token", "nobody", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="between 1 and"):
        call_command("api_token", carer_a.username, "--days", "0", stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_a_token_expires(client, carer_a, time_machine):
    secret = services.api_token_create(user=carer_a, days=1)[1]
    api = Api(client, secret)
    assert api.get("Patient").status_code == 200
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(days=1, seconds=1))
    response = api.get("Patient")
    assert response.status_code == 401
    assert issue_code(response) == "token_expired"


def test_manager_lists_and_revokes_their_homes_tokens(client, manager_a, carer_a, carer_b, home_a):
    token, secret = services.api_token_create(user=carer_a, label="Pharmacy system")
    other, _ = services.api_token_create(user=carer_b)
    client.force_login(manager_a)
    page = client.get(f"/homes/{home_a.pk}/api-tokens/")
    assert page.status_code == 200
    assert token.prefix in page.text and "Pharmacy system" in page.text
    assert other.prefix not in page.text  # another home's staff
    assert secret not in page.text
    assert client.post(f"/homes/{home_a.pk}/api-tokens/{other.pk}/revoke/").status_code == 404
    response = client.post(f"/homes/{home_a.pk}/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_by == manager_a and token.revoked_at is not None
    revoked = Api(client, secret).get("Patient")
    assert revoked.status_code == 401 and issue_code(revoked) == "token_revoked"
    again = client.post(f"/homes/{home_a.pk}/api-tokens/{token.pk}/revoke/", follow=True)
    assert "already revoked" in again.text
    other.refresh_from_db()
    assert other.revoked_at is None


def test_a_carer_cannot_open_the_token_screen(client, carer_a, home_a):
    client.force_login(carer_a)
    assert client.get(f"/homes/{home_a.pk}/api-tokens/").status_code == 403


def test_no_token_for_someone_without_a_role(db):
    from tests.factories import UserFactory

    with pytest.raises(services.ApiError) as e:
        services.api_token_create(user=UserFactory())
    assert e.value.code == "no_roles"
