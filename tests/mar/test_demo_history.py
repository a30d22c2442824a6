"""R-RUN-4: the demo has six weeks of realistic MAR history."""

from django.db.models import Exists, OuterRef
from django.utils import timezone

from medications.models import Administration, PrnFollowUp, ScheduledDose


def test_demo_history_has_every_kind_of_record(demo_db):
    records = Administration.objects.filter(home__name="Demo Care Home")
    assert (
        records.filter(outcome="given").count() > 10 * records.filter(outcome="not_given").count()
    )
    assert records.filter(code__code="R").exists()
    assert records.filter(late=True).exclude(late_reason="").exists()
    assert records.filter(line__is_prn=True).exists() and PrnFollowUp.objects.exists()
    cds = records.filter(line__medicine__cd_register=True, outcome="given")
    assert cds.exists() and not cds.filter(witness__isnull=True).exists()
    assert records.filter(corrects__isnull=False).exists()
    gaps = ScheduledDose.objects.filter(
        home__name="Demo Care Home",
        cancelled_at__isnull=True,
        self_administered=False,
        needs_dose_entry=False,
        window_closes__lt=timezone.now(),
    ).exclude(Exists(Administration.objects.filter(dose=OuterRef("pk"), final=True)))
    assert gaps.exists()
    first = ScheduledDose.objects.order_by("local_date").values_list("local_date", flat=True)[0]
    assert (timezone.localdate() - first).days >= 41
