"""The round's fast URLs and times (SPEC §11) draw exactly what `reverse` and `|time:"H:i"`
draw: the page's HTML did not change when they replaced them."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.template import Context, Template
from django.urls import clear_script_prefix, reverse, set_script_prefix
from django.utils import timezone

from emar.urls_by_id import url_by_id

NAMES = [
    ("medications:dose_record", (7,)),
    ("medications:correct", (123456,)),
    ("medications:scan_check", (1,)),
    ("medications:downtime_mar", (3, 45)),
    ("resident_photo", (9,)),
]


@pytest.mark.parametrize(("name", "ids"), NAMES)
def test_a_url_by_id_is_the_reversed_url(name, ids):
    assert url_by_id(name, *ids) == reverse(name, args=ids)


def test_a_url_by_id_follows_the_script_prefix():
    set_script_prefix("/care/")
    try:
        assert url_by_id("medications:dose_record", 7) == "/care/doses/7/record/"
        assert url_by_id("medications:dose_record", 7) == reverse(
            "medications:dose_record", args=[7]
        )
    finally:
        clear_script_prefix()
    assert url_by_id("medications:dose_record", 7) == "/doses/7/record/"


@pytest.mark.parametrize("bad", ["7/../../admin", "07", 7.5, True, None])
def test_an_id_that_is_not_an_integer_is_refused_never_drawn(bad):
    with pytest.raises((ValueError, TypeError)):
        url_by_id("medications:dose_record", bad)


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 7, 1, 7, 5, tzinfo=dt.UTC),  # 08:05 in British Summer Time
        dt.datetime(2026, 12, 1, 23, 59, tzinfo=dt.UTC),
        dt.time(6, 0),
        None,
    ],
)
def test_hhmm_shows_what_the_time_filter_shows(value):
    with timezone.override(zoneinfo.ZoneInfo("Europe/London")):
        context = Context({"v": value})
        fast = Template("{{ v|hhmm }}").render(context)
        django = Template('{{ v|time:"H:i" }}').render(context)
    assert fast == django
