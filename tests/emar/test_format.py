"""Quantities read as people write them (R-STK-1): 5.5, not 5.500."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template

from emar.templatetags.emar_format import qty


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("5.500"), "5.5"),
        (Decimal("28.000"), "28"),
        (Decimal("0.250"), "0.25"),
        (Decimal("-2.000"), "-2"),
        (Decimal("100"), "100"),
        (Decimal("1E+2"), "100"),
        (7, "7"),
        (None, ""),
        ("n/a", "n/a"),
    ],
)
def test_a_quantity_has_no_trailing_zeros(value, shown):
    assert qty(value) == shown


def test_every_template_can_use_it_without_loading_a_library():
    assert Template("{{ q|qty }} tablets").render(Context({"q": Decimal("5.500")})) == "5.5 tablets"
