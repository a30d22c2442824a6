"""The demo has a resident in hospital (R-RES-6, R-RUN-4)."""

from __future__ import annotations

from residents.models import Absence


def test_the_demo_has_a_resident_in_hospital_and_seeding_again_adds_nothing(demo_db):
    from demo import away as away_demo
    from demo import organisation as emar_demo

    walter = Absence.objects.get(returned_at__isnull=True, resident__home=demo_db).resident
    assert walter.full_name == "Walter Henry Bishop"
    ctx = emar_demo.DemoContext(password=None)
    emar_demo.seed(ctx)
    away_demo.seed(ctx)  # again: nothing more
    assert Absence.objects.filter(resident=walter).count() == 1
