"""R-REL-1: hostile input in every field of every state-changing form, and in query strings,
gives a page or a 4xx, never a 500 and never a half-written record.

Forms are discovered, not listed: every page of the URL conf (filled by the permission-matrix
harness, tests/emar/test_permission_matrix.py) is opened by a role the matrix allows, and every
`<form method="post">` on it is collected with its fields and their defaults. Each field of
each form is then sent with each hostile value in turn, the others keeping their defaults.
Every POST runs in a savepoint that is rolled back, so each case starts from the same rows.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import Resolver404, resolve, reverse

from audits import services as audit_services
from emar.permissions import MATRIX
from medications import services as med_services
from residents import documents as residents_documents
from tests.emar.test_permission_matrix import PUBLIC, ROUTES, _fill, url_params  # noqa: F401
from tests.mar.conftest import prn_protocol
from tests.medications.factories import line
from tests.residents.factories import resident
from tests.training.factories import PDF, qualify
from training import services as training_services

# Which hostile values each kind of input gets (every kind gets the NUL byte, the 40-digit
# number, the empty value and script); the megabyte goes where text is typed.
KINDS = {
    "date": ("year1", "year9999", "negative"),
    "datetime-local": ("year1", "year9999", "negative"),
    "time": ("year1", "negative"),
    "number": ("negative", "year1"),
    "select": ("negative", "emoji"),
    "checkbox": ("negative",),
    "radio": ("negative",),
}
TEXT_VALUES = ("megabyte", "emoji", "negative", "year1", "year9999")
ALWAYS = ("nul", "digits40", "empty", "script")
HOSTILE = {
    "nul": "a\x00b",
    "megabyte": "x" * 1_000_000,
    "digits40": "9" * 40,
    "negative": "-1",
    "year1": "0001-01-01",
    "year9999": "9999-12-31",
    "emoji": "💊🙂",
    "script": "<script>alert(1)</script>",
    "empty": "",
}
# Rows a refused request may still write by design: the sign-in lockout counts wrong
# passwords (R-SEC-2), a lockout tells the person locked out, and wrong witness passwords are
# counted per tablet (R-SEC-6).
MAY_CHANGE = {
    "axes_accessattempt",
    "axes_accessfailurelog",
    "axes_accesslog",
    "emar_notification",
    "emar_witnessthrottle",
}
SKIP_FIELDS = {"csrfmiddlewaretoken"}
# Forms that only sign out or switch the home: no input to fuzz.
NO_INPUT = {"logout", "home_switch", "shift_end", "notifications_read_all", "notification_read"}
PREFERRED_ROLES = ("senior", "manager", "admin", "carer", "inspector")
# A field no form has, for forms whose only input is their button.
UNEXPECTED = "unexpected"
# Forms reached only when the page has state (a draft audit, stock on the ledger, a published
# policy, an allergy, an open reconciliation, another person's access), with the everyday
# ones: each must be found and fuzzed.
MUST_REACH = {
    "resident_admit",
    "line_new",
    "dose_record",
    "prn_give",
    "incident_new",
    "audit_checklist",
    "audit_sign",
    "audit_action_add",
    "audit_action_update",
    "stock_correct",
    "training_policy_publish",
    "training_policy_confirm",
    "allergy_remove",
    "reconciliation_complete",
    "membership_end",
    # a resident's documents (R-RES-7): the upload, a withdrawal, a link to a line
    "resident_documents",
    "document_withdraw",
    "line_documents",
    # the ordering cycle (R-ORD-1, R-ORD-2): settings, prepare now, goods in, follow-ups
    "order_cycle",
    "order_prepare",
    "goods_in",
    "delivery_discrepancy_follow_up",
}


class _Forms(HTMLParser):
    """Every POST form of a page: action, and fields with the value a browser would send."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if (a.get("method") or "get").lower() == "post":
                self._form = {"action": a.get("action") or "", "fields": {}, "kinds": {}}
                self.forms.append(self._form)
            return
        form = self._form
        if form is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            form["kinds"][name] = kind
            if kind in ("checkbox", "radio"):
                if name not in form["fields"] or "checked" in a:
                    form["fields"][name] = a.get("value", "on") if "checked" in a else ""
                return
            form["fields"][name] = a.get("value", "")
        elif tag == "select":
            self._select = name
            form["kinds"][name] = "select"
            form["fields"].setdefault(name, None)
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if form["fields"].get(self._select) is None or "selected" in a:
                form["fields"][self._select] = value
        elif tag == "textarea":
            self._textarea = name
            form["kinds"][name] = "textarea"
            form["fields"][name] = ""

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _role_for(callback) -> str | None:
    perm = getattr(callback, "emar_perm", None)
    if perm is None:
        return "senior"
    return next((r for r in PREFERRED_ROLES if r in MATRIX[perm]), None)


def _tables() -> list[str]:
    names = []
    for label in ("emar", "residents", "medications", "training", "audits", "axes"):
        for model in apps.get_app_config(label).get_models():
            if model._meta.managed and not model._meta.proxy:
                names.append(model._meta.db_table)
    return sorted(set(names) - MAY_CHANGE)


def _row_counts(tables: list[str]) -> dict[str, int]:
    q = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {q(t)})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def _more_pages(home, unit, persona) -> list[tuple[str, str]]:
    """Pages whose forms the harness's objects do not show: a draft audit with an action, a
    PRN line, a resident with an allergy, stock on the ledger, a published policy nobody has
    confirmed, and the manager's own pages."""
    senior, manager = persona["senior"], persona["manager"]
    month = home.local_today().replace(day=1) - dt.timedelta(days=1)
    audit = audit_services.audit_prepare(home=home, month=month, by=manager)
    audit_services.action_add(
        audit=audit,
        by=manager,
        description="Count the CD cupboard weekly",
        owner=senior,
        due_on=home.local_today() + dt.timedelta(days=14),
    )
    person = resident(unit, senior, allergies=("Penicillin",))
    prn = line(person, senior, checker=manager, prn=True, name="Ibuprofen 200mg tablets")
    prn_protocol(prn, senior)
    med_services.stock_receive(line=prn, by=senior, quantity=Decimal(28), pharmacy="Boots")
    training_services.policy_publish(
        home=home,
        by=manager,
        version="1.0",
        review_on=home.local_today() + dt.timedelta(days=365),
        document=SimpleUploadedFile("policy.pdf", PDF),
    )
    residents_documents.document_upload(
        resident=person,
        by=senior,
        kind="discharge_letter",
        title="Discharge letter",
        upload=SimpleUploadedFile("letter.pdf", PDF),
    )
    return [
        ("senior", reverse("resident_documents", args=[person.pk])),
        ("manager", reverse("audit_detail", args=[audit.pk])),
        ("manager", reverse("audit_checklist", args=[audit.pk])),
        ("senior", reverse("medications:prn_give", args=[prn.pk])),
        ("senior", reverse("medications:resident_profile", args=[person.pk])),
        ("senior", reverse("resident_allergies", args=[person.pk])),
        ("senior", reverse("medications:stock_line", args=[prn.pk])),
        ("manager", reverse("training_policy", args=[home.pk])),
        ("senior", reverse("training_mine", args=[home.pk])),
        ("manager", reverse("staff", args=[home.pk])),
    ]


@pytest.fixture
def site(client, url_params, persona, home_a, unit_a):  # noqa: F811
    """The discovered forms: {url name: (role, action path, default fields, input kinds)}."""
    for role in ("carer", "senior", "manager"):
        qualify(persona[role], home_a)
    found: dict[str, tuple[str | None, str, dict, dict]] = {}
    pages = []
    for name, route, callback in ROUTES:
        role = None if name in PUBLIC else _role_for(callback)
        if name not in PUBLIC and role is None:
            continue
        pages.append((role, _fill(route, url_params)))
    for role, url in pages + _more_pages(home_a, unit_a, persona):
        client.logout()
        if role is not None:
            client.force_login(persona[role])
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        for form in parser.forms:
            action = urlsplit(form["action"] or url).path
            try:
                match = resolve(action)
            except Resolver404:
                continue
            target = match.url_name
            fields = {k: v or "" for k, v in form["fields"].items() if k not in SKIP_FIELDS}
            if target in NO_INPUT:
                continue
            target_role = None if target in PUBLIC else _role_for(match.func)
            known = found.get(target)
            if known is None or len(fields) > len(known[2]):
                found[target] = (target_role, action, fields, form["kinds"])
    client.logout()
    return found


def _cases(fields: dict, kinds: dict):
    """(field, label, data) for each hostile value in each field; a form with no input of its
    own (a confirm button) gets the bare POST and each value in a field it does not expect."""
    if not fields:
        yield "(none)", "bare", {}
        for label, value in HOSTILE.items():
            yield UNEXPECTED, label, {UNEXPECTED: value}
        return
    for field in fields:
        for label in ALWAYS + KINDS.get(kinds.get(field, "text"), TEXT_VALUES):
            yield field, label, {**fields, field: HOSTILE[label]}


def _post_each(client, persona, role, action, fields, kinds, tables) -> tuple[list[str], int]:
    """(what went wrong, how many cases were posted)."""
    wrong, posted = [], 0
    client.logout()
    if role is not None:
        client.force_login(persona[role])
    before = _row_counts(tables)  # every case is rolled back: the same rows before each
    for field, label, data in _cases(fields, kinds):
        posted += 1
        with transaction.atomic():
            try:
                response = client.post(action, data)
                status = response.status_code
            except Exception as e:
                wrong.append(f"{action} {field}={label}: {type(e).__name__}: {e}"[:300])
                transaction.set_rollback(True)
                continue
            if status >= 500:
                wrong.append(f"{action} {field}={label}: {status}")
            elif 400 <= status < 500:
                after = _row_counts(tables)
                changed = {t for t in tables if before[t] != after[t]}
                if changed:
                    wrong.append(f"{action} {field}={label}: {status} but wrote {changed}")
            transaction.set_rollback(True)
    return wrong, posted


def test_every_post_form_survives_hostile_values(client, site, persona):
    tables = _tables()
    wrong, fuzzed = [], {}
    only = os.environ.get("EMAR_FUZZ_ONLY", "").split(",")  # e.g. resident_admit,line_new
    for target, (role, action, fields, kinds) in sorted(site.items()):
        if only != [""] and target not in only:
            continue
        problems, fuzzed[target] = _post_each(client, persona, role, action, fields, kinds, tables)
        wrong += problems
    assert wrong == []
    # The forms that need state to appear were reached, and each was sent hostile values.
    expected = MUST_REACH if only == [""] else MUST_REACH & set(only)
    missing = {name for name in expected if fuzzed.get(name, 0) == 0}
    assert missing == set(), f"forms never fuzzed: {sorted(missing)}; found {sorted(fuzzed)}"


QUERY_PARAMS = (
    "q",
    "start",
    "end",
    "days",
    "unit",
    "date",
    "round",
    "month",
    "left",
    "next",
    "status",
    "staff",
    "home",
)


def test_every_page_survives_hostile_query_strings(client, url_params, persona, home_a):  # noqa: F811
    wrong = []
    for name, route, callback in ROUTES:
        role = None if name in PUBLIC else _role_for(callback)
        if (name not in PUBLIC and role is None) or name == "logout":
            continue
        url = _fill(route, url_params)
        for label, value in HOSTILE.items():
            if label == "megabyte":
                value = "x" * 10_000  # a URL this long is already refused by servers
            client.logout()
            if role is not None:
                client.force_login(persona[role])
            query = urlencode({p: value for p in QUERY_PARAMS})
            try:
                status = client.get(f"{url}?{query}").status_code
            except Exception as e:
                wrong.append(f"{name} ?{label}: {type(e).__name__}: {e}"[:300])
                continue
            if name == "healthz" and status == 503:
                continue  # the health check's own answer: no worker or beat runs in this test
            if status >= 500:
                wrong.append(f"{name} ?{label}: {status}")
    assert wrong == []
