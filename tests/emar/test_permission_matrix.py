"""R-ORG-3 / R-SEC-1: every URL pattern against every role, from the one permission matrix.

Each view declares its permission with `emar.permissions.requires`; views without one must be
listed below as public or sign-in-only. URL parameters other than `home_id` are filled by
`tests/<app>/url_params.py` (`build(home=, unit=, users=) -> {kwarg: pk}`), objects at home A.

For every URL: anonymous → sign-in page; the outsider (a carer of home B) → 404; each role of
home A → 403 when the matrix denies it, and the view's own answer when it allows it: 200 for a
page, 400 for a form posted empty (bad input is refused, never a 500), or the exception listed
in `ALLOWED_STATUS`. `test_key_permissions_by_hand` checks the important permissions against a
table written by hand, not read from the matrix.
"""

from __future__ import annotations

import importlib
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from emar.permissions import MATRIX

# Pages anyone may open (R-SEC-1: the login page and the health check, plus password reset,
# and the service worker's script, R-OFF-1).
PUBLIC = {
    "login",
    "pin_switch",
    "healthz",
    "healthz_web",
    "service_worker",
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
    "orders.url_params",
)
# One person's own records: everyone else gets 404 (tests/emar/test_notifications.py).
OWN_RECORDS = {"notification_read"}
ROLES = ("carer", "senior", "manager", "inspector", "admin")

# What a view answers a role the matrix allows, when that is not 200 for GET or 400 for an
# empty POST (the harness GETs a URL, and POSTs an empty form when GET is not allowed).
ALLOWED_STATUS: dict[str, int | dict[str, int]] = {
    # POST actions that need no form: done, then back to a page
    "api_token_revoke": 302,
    "code_restore": 302,
    "code_retire": 302,
    "home_switch": 302,
    "medications:homely_authorisation_withdraw": 302,
    "incident_follow_up": 302,
    "membership_end": 302,
    "notifications_read_all": 302,
    "medications:prn_follow_up": 302,
    "shift_end": 302,
    "shift_start": 302,
    "staff_pin_reset": 302,
    "staff_unlock": 302,
    "training_policy_confirm": 302,
    "witness_lock_clear": 302,
    # a line that is not PRN cannot be given as PRN; a report needs its period
    "medications:prn_give": 400,
    "reports_mar_pdf": 400,
    # a unit's MAR PDF is prepared in the background: sent to the print's page
    "medications:unit_mar_pdf": 302,
    # checked by a second person: senior_a transcribed them (R-RX-4), so cannot check them
    "medications:schedule_check": {"senior": 400, "*": 302},
    "medications:variable_dose_check": {"senior": 422, "*": 302},
    # the scan field's instant check answers 400 to an empty scan (R-SCAN-1)
    "medications:scan_check": 400,
}


def allowed_status(name: str, method: str, role: str) -> int:
    expected = ALLOWED_STATUS.get(name, 200 if method == "GET" else 400)
    if isinstance(expected, dict):
        return expected.get(role, expected["*"])
    return expected


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
        module = importlib.import_module(f"tests.{name}")
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
    response.harness_method = "GET"
    if response.status_code == 405:
        response = client.post(url, {})
        response.harness_method = "POST"
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
        response = _request(client, _fill(route, url_params))
        status = response.status_code
        if allowed and status != (want := allowed_status(name, response.harness_method, role)):
            wrong.append(f"{name}: {role} allowed by the matrix, expected {want}, got {status}")
        if not allowed and status != 403:
            wrong.append(f"{name}: {role} denied by the matrix but got {status}")
        client.force_login(persona[role])  # a view may have changed the session (home switch)
    assert wrong == []


def test_allowed_status_names_real_urls():
    assert set(ALLOWED_STATUS) <= {name for name, _route, _callback in ROUTES}


# Written by hand from the product's rules (R-ORG-3), not read from MATRIX: who may do the
# important things. Roles not listed get 403.
KEY_PERMISSIONS = {
    # record a dose (R-MAR-1): every member of staff, never an inspector
    "medications:round": {"carer", "senior", "manager", "admin"},
    "medications:dose_record": {"carer", "senior", "manager", "admin"},
    # a refused record queued offline is discarded by its author, with a reason (R-OFF-2)
    "medications:dose_offline_discard": {"carer", "senior", "manager", "admin"},
    # check a scanned pack (R-SCAN-1): whoever records doses; the home's setting: the manager
    "medications:scan_check": {"carer", "senior", "manager", "admin"},
    "medications:scan_decode": {"carer", "senior", "manager", "admin"},
    "home_scanning_save": {"manager", "admin"},
    "medications:barcode_relink": {"senior", "manager", "admin"},
    # check a transcribed line (R-RX-4): seniors and above
    "medications:line_check": {"senior", "manager", "admin"},
    "medications:awaiting_check": {"senior", "manager", "admin"},
    # sign the monthly audit (R-AUD-2, R-AUD-4): the manager
    "audit_sign": {"manager", "admin"},
    # grant and end inspector access (R-ORG-4)
    "inspector_grant": {"manager", "admin"},
    "membership_end": {"manager", "admin"},
    # manage training (R-TRN-1, R-TRN-2): seniors assess, the manager publishes the policy
    "training_record_add": {"senior", "manager", "admin"},
    "training_assess": {"senior", "manager", "admin"},
    "training_policy_publish": {"manager", "admin"},
    # view stock and the CD register (R-STK-1, R-CD-1): everyone with a role, inspectors too
    "medications:stock_overview": {"carer", "senior", "manager", "inspector", "admin"},
    "medications:cd_register_index": {"carer", "senior", "manager", "inspector", "admin"},
    # exports (R-ORG-4, R-INS-1, R-TRN-4)
    "reports_training_pdf": {"manager", "inspector", "admin"},
    "reports_prn_pdf": {"manager", "inspector", "admin"},
    "training_matrix_csv": {"senior", "manager", "inspector", "admin"},
    "medications:resident_mar_pdf": {"carer", "senior", "manager", "inspector", "admin"},
    # the ordering cycle (R-ORD-1, R-ORD-2): a senior reviews, approves and books goods in;
    # the manager sets the cycle; everyone who sees stock sees the orders and the chase list
    "medications:orders": {"carer", "senior", "manager", "inspector", "admin"},
    "medications:order_chase": {"carer", "senior", "manager", "inspector", "admin"},
    "medications:order_approve": {"senior", "manager", "admin"},
    "medications:goods_in": {"senior", "manager", "admin"},
    "medications:order_cycle": {"manager", "admin"},
}


@pytest.mark.parametrize("role", ROLES)
def test_key_permissions_by_hand(client, url_params, persona, role):
    routes = {name: route for name, route, _callback in ROUTES}
    wrong = []
    for name, roles in KEY_PERMISSIONS.items():
        client.force_login(persona[role])
        response = _request(client, _fill(routes[name], url_params))
        want = allowed_status(name, response.harness_method, role) if role in roles else 403
        if response.status_code != want:
            wrong.append(f"{name}: {role} expected {want}, got {response.status_code}")
    assert wrong == []


def test_witnessing_a_controlled_drug_by_hand(persona, home_a):
    """R-MAR-9: the witness of a CD is any member of staff, never an inspector (no URL of its
    own: the witness signs on the dose form)."""
    from emar.permissions import Perm, has_perm

    may = {role for role in ROLES if has_perm(persona[role], Perm.WITNESS_CD, home_a)}
    assert may == {"carer", "senior", "manager", "admin"}
    assert not has_perm(persona["outsider"], Perm.WITNESS_CD, home_a)
