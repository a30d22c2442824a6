"""Our side of the permission-matrix harness contract: every URL of residents and medications,
with kwargs from the url_params modules, answers each role as the matrix says."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, get_resolver, reverse

from emar.permissions import MATRIX
from tests.medications import url_params as medication_params
from tests.residents import url_params as resident_params

APPS = ("residents.views", "medications.views.prescriptions")


def _patterns():
    for p in get_resolver().url_patterns:
        namespace = f"{p.namespace}:" if getattr(p, "namespace", None) else ""
        for inner in getattr(p, "url_patterns", [p]):
            if isinstance(inner, URLPattern) and inner.callback.__module__ in APPS:
                yield namespace, inner


@pytest.mark.parametrize("role", ["carer", "senior", "manager", "inspector", "admin", "outsider"])
def test_every_page_answers_each_role_as_the_matrix_says(
    client, persona, home_a, unit_a, senior2_a, role
):
    users = {**persona, "senior2": senior2_a}
    kwargs = {"home_id": home_a.pk}
    kwargs |= resident_params.build(home=home_a, unit=unit_a, users=users)
    kwargs |= medication_params.build(home=home_a, unit=unit_a, users=users)
    client.force_login(persona[role])
    for namespace, pattern in _patterns():
        names = pattern.pattern.converters.keys()
        url = reverse(namespace + pattern.name, kwargs={k: kwargs[k] for k in names})
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url, {})
        perm = pattern.callback.emar_perm
        allowed = role != "outsider" and role in {str(r) for r in MATRIX[perm]}
        if role == "outsider":
            assert response.status_code == 404, url
        elif allowed:
            assert response.status_code not in (403, 404, 500), (url, response.status_code)
        else:
            assert response.status_code == 403, (url, role, response.status_code)
