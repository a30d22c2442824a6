"""Formatting filters available in every template (settings TEMPLATES "builtins")."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def qty(value) -> str:
    """A quantity as people write it: 5.5, 28, 0.25 — never 5.500 (R-STK-1)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number.normalize():f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def wait_words(value) -> str:
    """A wait (timedelta) in plain English: 15 minutes, 1 minute (R-SEC-6)."""
    from datetime import timedelta

    from emar.witness import minutes_words

    if not isinstance(value, timedelta):
        return ""
    return minutes_words(value)
