"""The scale benchmark's generator (SPEC §11, `manage.py bench_generate`): a small run makes the
homes, their doses and one record per closed dose, and every audit chain still verifies."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from emar.models import CareHome
from emar.services import audit_verify
from medications.models import Administration, ScheduledDose

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres"), pytest.mark.django_db]


def test_a_small_run_makes_homes_history_and_a_chain_that_verifies():
    out = io.StringIO()
    call_command("bench_generate", homes=2, residents=3, days=2, prefix="t", stdout=out)
    assert CareHome.objects.filter(name__startswith="T").count() == 2, out.getvalue()
    doses = ScheduledDose.objects.filter(line__home__name__startswith="T")
    records = Administration.objects.filter(line__home__name__startswith="T")
    # eight doses a day per resident (08:00, 08:00+20:00, four rounds, 22:00), days + today
    assert doses.count() >= 2 * 3 * 8 * 2
    assert 0 < records.count() <= doses.count()
    assert list(audit_verify()) == []
