"""URL kwargs of medications' pages for the permission-matrix harness
(tests/emar/test_permission_matrix.py): the pk of a suitable object at `home`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from emar.models import CareHome, Unit, User
from medications import services
from medications.models import HomelyRemedy, Medicine
from residents.models import AllergyStatus
from tests.medications.factories import line, times
from tests.residents.factories import resident


def build(*, home: CareHome, unit: Unit, users: dict[str, User]) -> dict[str, int]:
    seniors = [users[n] for n in ("senior", "manager", "admin") if n in users]
    enterer, checker = seniors[0], seniors[1]
    person = resident(unit, enterer, allergy_status=AllergyStatus.NONE_KNOWN)
    live = line(person, enterer, checker=checker)
    change = services.schedule_change(line=live, by=enterer, schedule=times("09:00"))
    warfarin = line(
        person,
        enterer,
        checker=checker,
        name="Warfarin 1mg tablets",
        schedule=times("18:00", dose_rule="variable"),
    )
    today = home.local_today()
    entry = services.variable_dose_set(
        line=warfarin,
        by=enterer,
        day=today,
        dose=Decimal(3),
        inr=Decimal("2.5"),
        inr_date=today,
        advised_by="Anticoagulation clinic",
    )
    remedy = HomelyRemedy.objects.create(
        home=home,
        medicine=Medicine.objects.get(name="Senna 7.5mg tablets"),
        indication="Constipation",
        dose=Decimal(1),
        dose_unit="tablet",
        dose_guidance="1 at night",
        min_interval_minutes=1200,
    )
    authorisation = services.homely_authorisation_record(
        resident=person,
        remedy=remedy,
        by=enterer,
        authorised_by_name="Dr A Shah",
        authorised_by_role="gp",
        authorised_on=today,
        review_date=today + dt.timedelta(days=90),
        exclusions="None",
    )
    pharmacy = services.pharmacy_create(name="URL Pharmacy", homes=[home], by=None)
    imported, _ = services.prescription_import(
        pharmacy=pharmacy,
        data=services.ImportedLine(
            identifier_system="urn:test",
            identifier_value="url-1",
            nhs_number=person.nhs_number,
            dmd_code="",
            medication_name="Senna 7.5mg tablets",
            dose=Decimal(2),
            dose_max=None,
            dose_unit="tablet",
            route="oral",
            is_prn=False,
            times=(dt.time(22),),
            prescriber="Dr A Shah",
        ),
    )
    return {
        "import_id": imported.pk,
        "resident_id": person.pk,
        "line_id": live.pk,
        "version_id": change.pk,
        "variable_dose_id": entry.pk,
        "authorisation_id": authorisation.pk,
    }
