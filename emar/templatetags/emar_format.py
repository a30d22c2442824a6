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


@register.filter
def hhmm(value) -> str:
    """A time as 14:05, in the current time zone for an aware datetime: what `|time:"H:i"`
    shows, without the format lookups that cost the round screen a tenth of its time for a
    few hundred rows (SPEC §11)."""
    from datetime import datetime

    from django.utils import timezone

    if value is None or value == "":
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    try:
        return f"{value:%H:%M}"
    except (TypeError, ValueError):
        return ""


@register.simple_tag
def id_url(name: str, *ids) -> str:
    """`{% url name id ... %}` for URLs whose arguments are integer ids, from the pattern
    reversed once per process: a whole-day round draws about 900 of them (SPEC §11)."""
    from emar.urls_by_id import url_by_id

    return url_by_id(name, *ids)
