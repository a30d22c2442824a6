"""R-ORG-3: the main menu shows a link exactly when the permission matrix lets the caller open it.

The menu templates ask `home_perms.<permission>` (emar.context_processors), never the role. The
generated test renders the menu for every role and compares each link with the permission its
view declares; the hand-written table below pins the key links independently of the matrix.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import resolve, reverse

from emar.permissions import MATRIX, HomePerms, Perm

ROLES = ("carer", "senior", "manager", "inspector", "admin")

# Every link the menu may show for home A: url name -> (path args are the home's pk).
MENU_LINKS = (
    "staff",
    "home_settings",
    "audit_trail",
    "training_mine",
    "training_matrix",
    "medications:round",
    "medications:resident_list",
    "medications:awaiting_check",
    "medications:stock_overview",
    "medications:stock_reorder",
    "medications:opened_list",
    "medications:orders",
    "medications:cd_register_index",
    "medications:temperatures",
    "audit_list",
    "incident_new",
    "incident_list",
    "reports_area",
)


class _Links(HTMLParser):
    """The hrefs inside <nav aria-label="Main">."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and (self.depth or attrs.get("aria-label") == "Main"):
            self.depth += 1
        elif self.depth and tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "nav" and self.depth:
            self.depth -= 1


def menu_of(client, user) -> set[str]:
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    parser = _Links()
    parser.feed(response.content.decode())
    assert parser.hrefs, "the main menu rendered no links"
    return set(parser.hrefs)


@pytest.mark.parametrize("role", ROLES)
def test_menu_follows_the_matrix(client, persona, home_a, role):
    shown = menu_of(client, persona[role])
    wrong = []
    for name in MENU_LINKS:
        url = reverse(name, args=[home_a.pk])
        perm = resolve(url).func.emar_perm
        allowed = role in MATRIX[perm]
        if allowed != (url in shown):
            wrong.append(f"{name} ({perm}): allowed={allowed} shown={url in shown}")
    assert wrong == []
    # Nothing in the menu for home A that the list above does not know about.
    unknown = {h for h in shown if h.startswith(f"/homes/{home_a.pk}/")} - {
        reverse(n, args=[home_a.pk]) for n in MENU_LINKS
    }
    assert unknown == set()


# Hand-written, independent of MATRIX: who sees the key links (R-ORG-3).
EXPECTED = {
    "medications:round": {"carer", "senior", "manager", "admin"},
    "medications:awaiting_check": {"senior", "manager", "admin"},
    "medications:stock_overview": {"carer", "senior", "manager", "inspector", "admin"},
    "audit_list": {"manager", "admin"},
    "staff": {"manager", "admin"},
    "reports_area": {"manager", "inspector", "admin"},
}


@pytest.mark.parametrize("role", ROLES)
def test_key_links_by_hand(client, persona, home_a, role):
    shown = menu_of(client, persona[role])
    for name, roles in EXPECTED.items():
        assert (reverse(name, args=[home_a.pk]) in shown) == (role in roles), (name, role)


def test_outsider_sees_no_links_of_another_home(client, persona, home_a):
    shown = menu_of(client, persona["outsider"])
    assert not {h for h in shown if h.startswith(f"/homes/{home_a.pk}/")}


def test_home_perms_reads_like_djangos_perms():
    perms = HomePerms(frozenset({Perm.VIEW_STOCK}))
    assert perms.view_stock is True
    assert perms.manage_stock is False
    assert "view_stock" in perms
    assert "manage_stock" not in perms
    with pytest.raises(AttributeError):
        _ = perms.no_such_permission
