"""R-ORG-3 / R-SEC-1: every URL pattern against every role, from the one permission matrix.

Each view declares its permission with `emar.permissions.requires`; views without one must be
listed below as public or sign-in-only. URL parameters other than `home_id` are filled by
`tests/<app>/url_params.py` (`build(home=, unit=, users=) -> {kwarg: pk}`), objects at home A.

For every URL: anonymous → sign-in page; the outsider (a carer of home B) → 404; each role of
home A → 403 when the matrix denies it, and anything but 403/404/500 when it allows it.
"""

from __future__ import annotations

import importlib
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from emar.permissions import MATRIX

# Pages anyone may open (R-SEC-1: the login page and the health check, plus password reset).
PUBLIC = {
    "login",
    "pin_switch",
    "healthz",
    "healthz_web",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}
# Pages for any signed-in user, whatever their role.
SIGNED_IN = {
    "dashboard",
    "pin_set",
    "two_factor",
    "logout",
    "password_change",
    "password_change_done",
    # one's own notifications and shift (tests/emar/test_notifications.py)
    "notifications",
    "notification_badge",
    "notification_read",
    "notifications_read_all",
    "shift_end",
}
PARAM_MODULES = (
    "emar.url_params",
    "residents.url_params",
    "medications.url_params",
    "training.url_params",
    "audits.url_params",
    "mar.url_params",
    "mar.round_url_params",
    "stock.url_params",
    "fhir_api.url_params",
)
# One person's own records: everyone else gets 404 (tests/emar/test_notifications.py).
OWN_RECORDS = {"notification_read"}
ROLES = ("carer", "senior", "manager", "inspector", "admin")


def _walk(patterns, prefix="", namespace=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.app_name == "admin":
                continue  # Django's own admin: superusers only, checked by Django
            if p.app_name == "fhir":
                continue  # bearer tokens, not sessions: tests/fhir_api/ (R-FHIR-4)
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), namespace + (p.name or ""), p.callback


ROUTES = sorted(
    {(name, route, callback) for route, name, callback in _walk(get_resolver().url_patterns)},
    key=lambda r: r[0],
)


def _kwarg_names(route: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", route)


@pytest.fixture
def url_params(home_a, unit_a, persona, carer_a):
    values = {"home_id": home_a.pk}
    for name in PARAM_MODULES:
        try:
            module = importlib.import_module(f"tests.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"tests.{name}" and not f"tests.{name}".startswith(e.name or "-"):
                raise
            continue
        values.update(module.build(home=home_a, unit=unit_a, users=persona))
    return values


def _fill(route: str, values: dict) -> str:
    def sub(match):
        name = match.group(1)
        if name in ("uidb64", "token"):
            return "x"
        if name not in values:
            raise AssertionError(
                f"URL {route!r} needs {name!r}: add it to tests/<app>/url_params.py"
            )
        return str(values[name])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", sub, route)


def _request(client, url: str):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return response


def test_every_view_declares_a_permission_or_is_listed():
    undeclared = [
        name
        for name, _route, callback in ROUTES
        if not getattr(callback, "emar_perm", None) and name not in PUBLIC | SIGNED_IN
    ]
    assert undeclared == [], f"views without @requires(Perm.X): {undeclared}"


def test_every_permission_in_the_matrix_names_real_roles():
    for perm, roles in MATRIX.items():
        assert roles, perm
        assert roles <= {*ROLES}, perm


def test_anonymous_is_sent_to_login(client, url_params):
    wrong = []
    for name, route, _callback in ROUTES:
        if name in PUBLIC:
            continue
        response = _request(client, _fill(route, url_params))
        if response.status_code != 302 or not response["Location"].startswith("/login/"):
            wrong.append(f"{name}: {response.status_code}")
    assert wrong == []


def test_outsider_gets_404(client, url_params, persona):
    client.force_login(persona["outsider"])
    wrong = []
    for name, route, _callback in ROUTES:
        if name in PUBLIC | SIGNED_IN:
            continue
        status = _request(client, _fill(route, url_params)).status_code
        if status != 404:
            wrong.append(f"{name}: {status}")
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_says(client, url_params, persona, role):
    client.force_login(persona[role])
    wrong = []
    for name, route, callback in ROUTES:
        if name in PUBLIC | OWN_RECORDS or name == "logout":
            continue
        perm = getattr(callback, "emar_perm", None)
        allowed = perm is None or role in MATRIX[perm]
        status = _request(client, _fill(route, url_params)).status_code
        if allowed and status in (403, 404, 500):
            wrong.append(f"{name}: {role} allowed by the matrix but got {status}")
        if not allowed and status != 403:
            wrong.append(f"{name}: {role} denied by the matrix but got {status}")
        client.force_login(persona[role])  # a view may have changed the session (home switch)
    assert wrong == []
