"""Add a medicine as a newcomer meets it (issue: blank start date, every schedule type's fields
at once, two fields labelled "Dose")."""

from __future__ import annotations

import re
from collections import Counter

from django.urls import reverse

from medications.forms.prescriptions import LineForm
from medications.models import PrescriptionLine
from tests.medications.test_views import _line_data


def _input(page: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert tag, f"no input {name}"
    return tag.group(0)


def test_the_start_date_is_today_in_the_date_pickers_format_and_submits(
    client, senior_a, home_a, resident_a
):
    client.force_login(senior_a)
    page = client.get(reverse("medications:line_new", args=[resident_a.pk])).content.decode()
    start = _input(page, "start_date")
    shown = re.search(r'value="([^"]*)"', start)
    assert 'type="date"' in start
    assert shown and shown.group(1) == home_a.local_today().isoformat()  # 2026-12-02, not 02/12
    # What the browser sends back: the default as rendered, untouched.
    response = client.post(
        reverse("medications:line_new", args=[resident_a.pk]),
        _line_data(home_a, start_date=shown.group(1)),
    )
    assert response.status_code == 302
    assert PrescriptionLine.objects.get().start_date == home_a.local_today()


def test_every_date_picker_of_the_product_renders_iso(home_a):
    from emar.forms import InspectorGrantForm  # no format of its own: the shared bounds give it

    form = InspectorGrantForm(home=home_a, initial={"expires_on": home_a.local_today()})
    assert f'value="{home_a.local_today().isoformat()}"' in str(form["expires_on"])


def test_each_field_of_add_a_medicine_has_its_own_label(home_a):
    form = LineForm(home=home_a)
    labels = Counter(
        str(form[name].label).strip().lower()
        for name, field in form.fields.items()
        if not field.widget.is_hidden
    )
    assert [label for label, n in labels.items() if n > 1] == []
    assert form["dose"].label == "Amount per dose"
    assert form["dose_rule"].label == "Dose pattern"


def test_schedule_type_fields_are_marked_for_their_type(client, senior_a, resident_a):
    client.force_login(senior_a)
    page = client.get(reverse("medications:line_new", args=[resident_a.pk])).content.decode()
    assert 'data-show-when="days=every_n_days"' in _input(page, "every_n")
    assert 'data-show-when="days=monthly"' in _input(page, "month_day")
    assert 'data-show-when="days=cyclic"' in _input(page, "cycle_on")
    assert 'data-show-when="dose_rule=tapering"' in _input(page, "taper")
    assert "emar/show-when.js" in page
