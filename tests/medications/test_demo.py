"""The demo data of residents and medications (R-RUN-4): the realistic mix, idempotent."""

from __future__ import annotations

from demo import organisation as emar_demo
from demo import prescriptions as medications_demo
from demo import residents as residents_demo
from medications import selectors
from medications.models import LineStatus, PrescriptionLine
from residents.models import AllergyStatus, Resident


def _seed():
    ctx = emar_demo.DemoContext(password=None)
    emar_demo.seed(ctx)
    residents_demo.seed(ctx)
    medications_demo.seed(ctx)
    return ctx


def test_demo_has_the_realistic_mix_and_running_it_twice_duplicates_nothing(demo_db):
    counts = (Resident.objects.count(), PrescriptionLine.objects.count())
    ctx = _seed()  # a second run over the shared demo
    assert (Resident.objects.count(), PrescriptionLine.objects.count()) == counts
    home = ctx.home
    assert home == demo_db
    assert 28 <= Resident.objects.filter(home=home).count() <= 32
    assert Resident.objects.filter(home=ctx.riverside).exists()
    live = PrescriptionLine.objects.filter(home=home, status=LineStatus.ACTIVE)
    assert live.filter(medicine__cd_register=True).exists()
    assert live.filter(time_sensitive=True, medicine__name__startswith="Co-careldopa").exists()
    assert live.filter(dose_unit="patch").exists()
    assert live.filter(covert_plans__isnull=False).exists()
    assert live.filter(self_admin_assessments__self_administers=True).exists()
    assert live.filter(versions__dose_rule="variable").exists()
    assert live.filter(is_prn=True, protocols__isnull=False).exists()
    unknown = Resident.objects.get(home=home, allergy_status=AllergyStatus.UNKNOWN)
    assert unknown.lines.get().status == LineStatus.AWAITING_CHECK
    today = home.local_today()
    assert len(selectors.doses_due(home=home, start=today, end=today)) > 30
    for person in Resident.objects.all():
        Resident._meta.get_field("nhs_number").run_validators(person.nhs_number)
        assert person.nhs_number.startswith("999")


def test_the_demo_has_an_allergy_reported_after_a_prn_line_went_live(demo_db):
    """R-RX-11: Arthur's morphine PRN is flagged by the morphine allergy reported later; Doug's
    oxycodone PRN is not matched with his morphine allergy (no made-up equivalence) but his
    allergy is on the banner."""
    from medications.models import LineAllergyMatch

    _seed()  # a second run reports nothing twice
    match = LineAllergyMatch.objects.select_related("line__medicine", "allergy").get(
        line__home=demo_db
    )
    assert match.line.is_prn and match.line.status == LineStatus.ACTIVE
    assert match.line.medicine.name.startswith("Morphine") and match.allergy.substance == "Morphine"
    assert match.line.resident.full_name == "Arthur Leonard Hughes"
    assert match.notified_at is not None
    doug = Resident.objects.get(full_name="Douglas Roy Francis")
    assert doug.lines.filter(is_prn=True, medicine__name__startswith="Oxycodone").exists()
