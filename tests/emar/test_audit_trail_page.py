"""The audit trail page reads as changes with names, not raw data (R-SEC-4)."""

from __future__ import annotations

from django.urls import reverse

from emar.services import audit_append


def test_the_trail_shows_names_and_readable_changes(
    client, home_a, manager_a, senior_a, django_assert_max_num_queries
):
    audit_append(
        home=home_a,
        actor=manager_a,
        action="audit.action_set",
        before={"owner": manager_a.pk, "status": "open"},
        after={"owner": senior_a.pk, "status": "done", "due_on": "2026-12-01"},
    )
    client.force_login(manager_a)
    url = reverse("audit_trail", args=[home_a.pk])
    with django_assert_max_num_queries(20):
        body = client.get(url).content.decode()
    assert "{&#x27;" not in body and "{'" not in body  # no raw dicts
    assert (
        f'<dt>Owner</dt><dd><span class="text-muted">{manager_a}</span> → {senior_a}</dd>' in body
    )
    assert "<dt>Status</dt>" in body and "→ done" in body
    assert "<dt>Due on</dt><dd>2026-12-01</dd>" in body
    assert "Audit · action set" in body


def test_the_trail_page_needs_no_more_queries_for_more_people(
    client, home_a, manager_a, django_assert_max_num_queries
):
    from tests.factories import UserFactory

    for _ in range(30):
        user = UserFactory()
        audit_append(home=home_a, actor=manager_a, action="test.write", after={"by": user.pk})
    client.force_login(manager_a)
    with django_assert_max_num_queries(20):
        response = client.get(reverse("audit_trail", args=[home_a.pk]))
    assert response.status_code == 200
