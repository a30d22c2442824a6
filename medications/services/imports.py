"""The pharmacy import (R-RX-12, R-FHIR-5): prescription lines sent by a home's supplying
pharmacy arrive "awaiting check"; a senior compares them with the resident's current lines and
checks and accepts, or rejects, each one. Only an accepted line reaches the rounds.

The API parses the FHIR MedicationRequest (fhir_api) into an `ImportedLine`; every rule of the
import is here, and every rule of a line is `line_insert`'s, `line_check`'s and `line_stop`'s.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import slugify

from emar import permissions
from emar.models import CareHome, Round, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append
from residents.models import Resident, ResidentStatus, normalise_nhs_number

from .. import catalogue
from .. import schedule as sched
from ..dmd import verhoeff_valid
from ..models import (
    CdSchedule,
    DoseUnit,
    ImportDecision,
    LineStatus,
    Medicine,
    Pharmacy,
    PharmacyImport,
    PrescriptionLine,
    Route,
    RxSource,
    ScheduleVersion,
)
from .prescriptions import (
    ScheduleInput,
    _active_allergies,
    allergy_matches,
    line_check,
    line_insert,
    line_stop,
)

__all__ = [
    "ImportRow",
    "ImportedLine",
    "pharmacy_create",
    "pharmacy_home_ids",
    "pharmacy_import_accept",
    "pharmacy_import_reject",
    "pharmacy_import_review",
    "pharmacy_imports_waiting",
    "pharmacy_of",
    "prescription_import",
    "prescription_import_many",
]

IMPORT_NAMESPACE = uuid.UUID("8b1f6a3e-2c4d-4f0a-9e61-3d7c2b5a9f14")
MAX_DOSE = Decimal("99999.999")
# A CharField always has its max_length (the stubs type it as optional for every field).
_NAME_MAX = cast(int, Medicine._meta.get_field("name").max_length)
ANY_TEXT = 300
NEW_PRODUCT_NOTE = (
    "Added by a pharmacy import (R-RX-12): confirm the product, its dm+d code, CD schedule "
    "and storage in the catalogue."
)


# --- The pharmacy ------------------------------------------------------------------------------


@transaction.atomic
def pharmacy_create(
    *, name: str, homes: list[CareHome], by: User | None, ods_code: str = ""
) -> Pharmacy:
    """A supplying pharmacy of `homes` with its own account (no role in any home, no password:
    it acts only through API tokens). Running it again for the same name adds the homes."""
    name = " ".join(name.split())
    if not name:
        raise DomainError("Name the pharmacy.", code="pharmacy_name_required")
    pharmacy = Pharmacy.objects.filter(name=name).first()
    if pharmacy is None:
        username = f"pharmacy-{slugify(name)[:120]}"
        account, _ = User.objects.get_or_create(
            username=username,
            defaults={"display_name": name[:150], "password": make_password(None)},
        )
        if account.memberships.exists() or account.admin_of_id:
            raise DomainError(
                f"The account {username} is a staff account, not a pharmacy's.",
                code="pharmacy_account_taken",
            )
        pharmacy = Pharmacy.objects.create(
            name=name, ods_code=ods_code.strip().upper(), account=account
        )
    new = [h for h in homes if not pharmacy.homes.filter(pk=h.pk).exists()]
    pharmacy.homes.add(*new)
    for home in new:
        audit_append(
            home=home,
            actor=by,
            action="pharmacy.linked",
            obj=pharmacy,
            after={"pharmacy": pharmacy.name, "ods_code": pharmacy.ods_code},
        )
    return pharmacy


def pharmacy_of(user: User) -> Pharmacy | None:
    """The pharmacy a user account is, if it is one (select_related("pharmacy") avoids the
    query)."""
    try:
        return user.pharmacy
    except Pharmacy.DoesNotExist:
        return None


def pharmacy_home_ids(pharmacy: Pharmacy) -> list[int]:
    return sorted(pharmacy.homes.values_list("pk", flat=True))


# --- What the pharmacy sent ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedLine:
    """One MedicationRequest in eMAR's terms, before any rule: what fhir_api read from the
    resource (structure only); `prescription_import` resolves and checks it."""

    identifier_system: str
    identifier_value: str
    nhs_number: str
    dmd_code: str  # "" when the medication carries no dm+d coding
    medication_name: str  # the coding's display or the concept's text
    dose: Decimal | None
    dose_max: Decimal | None
    dose_unit: str
    route: str  # text, display or SNOMED code of the route
    is_prn: bool
    times: tuple[dt.time, ...] = ()
    when: tuple[str, ...] = ()  # FHIR EventTiming codes (MORN, NOON, EVE, NIGHT...)
    every_n_days: int = 1
    weekdays: tuple[int, ...] = ()  # 0 = Monday
    prn_min_interval_minutes: int | None = None
    prn_max_per_24h: Decimal | None = None  # maxDosePerPeriod numerator over 24 h, in doses' unit
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    indication: str = ""
    instructions: str = ""
    prescriber: str = ""
    resource: dict[str, Any] = field(default_factory=dict, compare=False)
    timing_problem: str = ""  # a structural problem fhir_api found in the timing


_UNIT_WORDS: dict[str, str] = {
    "tab": DoseUnit.TABLET,
    "tabs": DoseUnit.TABLET,
    "cap": DoseUnit.CAPSULE,
    "caps": DoseUnit.CAPSULE,
    "millilitre": DoseUnit.ML,
    "milligram": DoseUnit.MG,
    "mcg": DoseUnit.MICROGRAM,
    "ug": DoseUnit.MICROGRAM,
    "microgram": DoseUnit.MICROGRAM,
    "[iu]": DoseUnit.UNIT,
    "iu": DoseUnit.UNIT,
    "dose": DoseUnit.PUFF,
}

# SNOMED CT route codes (the UK Core route value set) of the routes eMAR records.
_ROUTE_CODES: dict[str, str] = {
    "26643006": Route.ORAL,
    "37839007": Route.SUBLINGUAL,
    "54471007": Route.BUCCAL,
    "6064005": Route.TOPICAL,
    "45890007": Route.TRANSDERMAL,
    "18679011000001101": Route.INHALED,
    "447694001": Route.INHALED,
    "54485002": Route.EYE,
    "10547007": Route.EAR,
    "46713006": Route.NOSE,
    "37161004": Route.RECTAL,
    "16857009": Route.VAGINAL,
    "34206005": Route.SUBCUTANEOUS,
    "78421000": Route.INTRAMUSCULAR,
    "127490009": Route.ENTERAL_TUBE,
}
_ROUTE_WORDS: dict[str, str] = {
    "by mouth": Route.ORAL,
    "mouth": Route.ORAL,
    "orally": Route.ORAL,
    "cutaneous": Route.TOPICAL,
    "inhalation": Route.INHALED,
    "ocular": Route.EYE,
    "auricular": Route.EAR,
    "otic": Route.EAR,
    "nasal": Route.NOSE,
    "intranasal": Route.NOSE,
    "per rectum": Route.RECTAL,
    "subcut": Route.SUBCUTANEOUS,
    "gastroenteral": Route.ENTERAL_TUBE,
    "peg": Route.ENTERAL_TUBE,
}
# FHIR EventTiming: the round it means, by position among the home's rounds of the day.
_WHEN_ROUND: dict[str, int] = {"MORN": 0, "NOON": 1, "AFT": 1, "EVE": 2, "NIGHT": 3, "HS": 3}


def _dose_unit(text: str) -> str | None:
    word = " ".join(text.lower().split())
    for value, label in DoseUnit.choices:
        if word in (value, label.lower(), label.lower().replace("(s)", "s")):
            return value
    singular = re.sub(r"(\(s\)|\(es\)|\(ies\)|es|s)$", "", word)
    for value, _ in DoseUnit.choices:
        if singular == value or singular == value.rstrip("e"):
            return value
    return _UNIT_WORDS.get(word) or _UNIT_WORDS.get(singular)


def _route(text: str) -> str | None:
    word = " ".join(text.lower().split())
    if word in _ROUTE_CODES:
        return _ROUTE_CODES[word]
    for value, label in Route.choices:
        if word in (value, label.lower()):
            return value
    for phrase, value in _ROUTE_WORDS.items():
        if word == phrase or word.startswith(phrase + " ") or word.endswith(" " + phrase):
            return value
    for value, _ in Route.choices:
        if word.startswith(value):
            return value
    return None


def _dose_value(value: Decimal | None, what: str) -> Decimal:
    try:
        ok = (
            value is not None
            and value.is_finite()
            and Decimal(0) < value <= MAX_DOSE
            and value == value.quantize(Decimal("0.001"))
        )
    except InvalidOperation:
        ok = False
    if value is None or not ok:
        raise DomainError(
            f"The dosage's {what} must be a quantity above 0 and at most {MAX_DOSE}, with at "
            f"most 3 decimals (got {value}).",
            code="dosage_invalid",
        )
    return value


@dataclass(frozen=True)
class _Resolved:
    resident: Resident
    medicine: Medicine | None  # None: a new product to add with the given name
    dose: Decimal
    dose_max: Decimal | None
    dose_unit: str
    route: str
    schedule: ScheduleInput | None
    prn_min_interval_minutes: int | None
    prn_max_doses_24h: int | None
    start_date: dt.date
    end_date: dt.date | None


def _resident(pharmacy: Pharmacy, nhs_number: str) -> Resident:
    number = normalise_nhs_number(nhs_number or "")
    resident = (
        Resident.objects.filter(
            nhs_number=number,
            home__in=pharmacy.homes.all(),
            status=ResidentStatus.RESIDENT,
        )
        .select_related("home")
        .first()
        if number
        else None
    )
    if resident is None:
        # Another home's resident is "unknown" too: the pharmacy learns nothing of them.
        raise DomainError(
            f"No resident with NHS number {nhs_number or '(none given)'} lives in a home "
            f"{pharmacy.name} supplies. Check the number (subject.identifier, system "
            "https://fhir.nhs.uk/Id/nhs-number).",
            code="patient_unknown",
        )
    return resident


def _medicine(data: ImportedLine) -> Medicine | None:
    """The catalogue product for the dm+d code (R-RX-1), or by name when no code is given.
    None when it must be added to the catalogue with the given name."""
    name = " ".join(data.medication_name.split())
    code = data.dmd_code.strip()
    if code:
        medicine = Medicine.objects.filter(dmd_code=code).first()
        if medicine is not None:
            return medicine
        if not name:
            raise DomainError(
                f"The dm+d code {code} is not in the catalogue and the medication has no name "
                "(coding.display or text): send the product's name with it.",
                code="medication_unknown",
            )
        if not (code.isdigit() and 6 <= len(code) <= 18 and verhoeff_valid(code)):
            raise DomainError(
                f"{code} is not a dm+d code: its check digit is wrong.",
                code="dmd_code_invalid",
            )
    elif not name:
        raise DomainError(
            "Say what the medication is: a dm+d coding (system https://dmd.nhs.uk) with its "
            "display, or text.",
            code="medication_unknown",
        )
    same_name = Medicine.objects.filter(name__iexact=name).first()
    if same_name is not None:
        if code and same_name.dmd_code and same_name.dmd_code != code:
            raise DomainError(
                f"The catalogue's {same_name.name} has dm+d code {same_name.dmd_code}, not "
                f"{code}: check the product.",
                code="medication_code_conflict",
            )
        return same_name
    if len(name) > _NAME_MAX:
        raise DomainError("The medication's name is too long.", code="medication_name_too_long")
    return None


def _schedule(home: CareHome, data: ImportedLine) -> ScheduleInput:
    if data.timing_problem:
        raise DomainError(data.timing_problem, code="dosage_invalid")
    rounds = list(Round.objects.filter(home=home).order_by("time"))
    by_time = {r.time: r for r in rounds}
    slots: list[tuple[dt.time, int | None, str]] = []
    for at in data.times:
        rnd = by_time.get(at)
        slots.append((at, rnd.pk if rnd else None, rnd.name if rnd else ""))
    for code in data.when:
        position = _WHEN_ROUND.get(code.upper())
        if position is None or position >= len(rounds):
            raise DomainError(
                f"timing.repeat.when {code!r} is not one of MORN, NOON, EVE, NIGHT: give "
                "timeOfDay instead.",
                code="dosage_invalid",
            )
        rnd = rounds[position]
        slots.append((rnd.time, rnd.pk, rnd.name))
    if not slots:
        raise DomainError(
            "A regular line needs its times: dosageInstruction.timing.repeat.timeOfDay "
            "(e.g. 08:00:00) or when (MORN, NOON, EVE, NIGHT).",
            code="dosage_invalid",
        )
    if len({t for t, _, _ in slots}) != len(slots):
        raise DomainError("The same time is given twice in the timing.", code="dosage_invalid")
    if data.weekdays:
        return ScheduleInput(slots=slots, days=sched.DayRule.WEEKDAYS, weekdays=list(data.weekdays))
    if data.every_n_days > 1:
        return ScheduleInput(
            slots=slots, days=sched.DayRule.EVERY_N_DAYS, every_n=data.every_n_days
        )
    return ScheduleInput(slots=slots)


def _resolve(pharmacy: Pharmacy, data: ImportedLine) -> _Resolved:
    resident = _resident(pharmacy, data.nhs_number)
    medicine = _medicine(data)
    dose = _dose_value(data.dose, "dose")
    dose_max = _dose_value(data.dose_max, "upper dose") if data.dose_max is not None else None
    if dose_max is not None and dose_max <= dose:
        raise DomainError(
            "The dosage's range must go from a lower to a higher dose.", code="dosage_invalid"
        )
    unit = _dose_unit(data.dose_unit)
    if unit is None:
        raise DomainError(
            f"The dose unit {data.dose_unit or '(none)'!r} is not one eMAR records: use one of "
            + ", ".join(v for v, _ in DoseUnit.choices)
            + ".",
            code="dosage_invalid",
        )
    route = _route(data.route)
    if route is None:
        raise DomainError(
            f"The route {data.route or '(none)'!r} is not known: send dosageInstruction.route "
            "with a SNOMED CT route code or its name (e.g. 26643006 Oral).",
            code="dosage_invalid",
        )
    schedule = None
    interval = most = None
    if data.is_prn:
        if data.times or data.when:
            raise DomainError(
                "A when-required (asNeeded) line has no fixed times: leave timeOfDay and when out.",
                code="dosage_invalid",
            )
        interval = data.prn_min_interval_minutes
        if not interval or interval < 1:
            raise DomainError(
                "A when-required line needs the minimum time between doses: "
                "timing.repeat frequency 1 per period (e.g. period 4, periodUnit h).",
                code="dosage_invalid",
            )
        per_dose = dose_max or dose
        total = data.prn_max_per_24h
        if total is None or total <= 0 or total % per_dose != 0:
            raise DomainError(
                "A when-required line needs the most in 24 hours as maxDosePerPeriod "
                f"(numerator a whole number of {per_dose} {unit} doses, denominator 24 h).",
                code="dosage_invalid",
            )
        most = int(total / per_dose)
        if most > 48:
            raise DomainError(
                f"{most} doses in 24 hours cannot be right: check maxDosePerPeriod.",
                code="dosage_invalid",
            )
    else:
        schedule = _schedule(resident.home, data)
    today = resident.home.local_today()
    start = data.start_date or today
    return _Resolved(
        resident=resident,
        medicine=medicine,
        dose=dose,
        dose_max=dose_max,
        dose_unit=unit,
        route=route,
        schedule=schedule,
        prn_min_interval_minutes=interval,
        prn_max_doses_24h=most,
        start_date=max(start, today),
        end_date=data.end_date,
    )


def _new_medicine(name: str, code: str, route: str) -> Medicine:
    """A product the catalogue lacks, added with the pharmacy's name for it. A controlled drug
    must not arrive without its schedule (H-5): it takes the CD schedule, register flag and
    storage of a catalogue product with the same ingredients, if any; the check screen asks
    for the rest to be confirmed."""
    ingredients = catalogue.derive_ingredients(name)
    same = (
        Medicine.objects.filter(ingredients__iexact=ingredients)
        .exclude(cd_schedule=CdSchedule.NONE)
        .order_by("cd_schedule")  # the strictest schedule ("2" first)
        .first()
        if ingredients
        else None
    )
    if same is not None:
        return Medicine.objects.create(
            name=name,
            dmd_code=code,
            code_to_confirm=bool(code),
            code_source=NEW_PRODUCT_NOTE,
            route=route,
            ingredients=ingredients,
            category=same.category,
            cd_schedule=same.cd_schedule,
            cd_register=same.cd_register,
            storage=same.storage,
        )
    return Medicine.objects.create(
        name=name,
        dmd_code=code,
        code_to_confirm=bool(code),
        code_source=NEW_PRODUCT_NOTE,
        route=route,
        ingredients=ingredients,
        category=catalogue.derive_category(route, "", name),
        cd_register=catalogue.register_default("none", ingredients),
        storage=catalogue.derive_storage(False, name),
    )


def _key(pharmacy: Pharmacy, data: ImportedLine) -> uuid.UUID:
    return uuid.uuid5(
        IMPORT_NAMESPACE, f"{pharmacy.pk}|{data.identifier_system}|{data.identifier_value}"
    )


def _existing(pharmacy: Pharmacy, data: ImportedLine) -> PharmacyImport | None:
    return (
        PharmacyImport.objects.filter(
            pharmacy=pharmacy,
            identifier_system=data.identifier_system,
            identifier_value=data.identifier_value,
        )
        .select_related("line")
        .first()
    )


def _import_one(
    pharmacy: Pharmacy, data: ImportedLine, *, batch: uuid.UUID, full_list: bool
) -> tuple[PharmacyImport, bool]:
    if not data.identifier_value.strip():
        raise DomainError(
            "Give the MedicationRequest an identifier (system and value): it makes the call "
            "safe to repeat.",
            code="identifier_required",
        )
    if len(data.identifier_system) > ANY_TEXT or len(data.identifier_value) > ANY_TEXT:
        raise DomainError(
            "The identifier's system and value must each be 300 characters or fewer.",
            code="identifier_too_long",
        )
    existing = _existing(pharmacy, data)
    if existing is not None:
        return existing, False
    resolved = _resolve(pharmacy, data)
    medicine = resolved.medicine
    if medicine is None:
        medicine = _new_medicine(
            " ".join(data.medication_name.split()), data.dmd_code.strip(), resolved.route
        )
    prescriber = " ".join(data.prescriber.split())
    if not prescriber:
        raise DomainError(
            "Name the prescriber (requester.display), as on the prescription.",
            code="prescriber_required",
        )
    try:
        with transaction.atomic():
            line = line_insert(
                resident=resolved.resident,
                medicine=medicine,
                by=pharmacy.account,
                dose=resolved.dose,
                dose_unit=resolved.dose_unit,
                route=resolved.route,
                prescriber=prescriber[:120],
                source=RxSource.PHARMACY_IMPORT,
                source_detail=f"{pharmacy.name}: {data.identifier_value}"[:200],
                start_date=resolved.start_date,
                end_date=resolved.end_date,
                schedule=resolved.schedule,
                is_prn=data.is_prn,
                dose_max=resolved.dose_max,
                indication=data.indication[:200],
                instructions=data.instructions[:300],
                prn_min_interval_minutes=resolved.prn_min_interval_minutes,
                prn_max_doses_24h=resolved.prn_max_doses_24h,
                idempotency_key=_key(pharmacy, data),
                allergy_match_blocks=False,
            )
            item = PharmacyImport.objects.create(
                pharmacy=pharmacy,
                line=line,
                identifier_system=data.identifier_system,
                identifier_value=data.identifier_value,
                batch=batch,
                is_full_list=full_list,
                resource=data.resource,
            )
    except IntegrityError:
        # The same identifier sent twice at once: the database let one through (R-FHIR-5).
        existing = _existing(pharmacy, data)
        if existing is None:
            raise
        return existing, False
    audit_append(
        home=line.home_id,
        actor=pharmacy.account,
        action="prescription.imported",
        obj=line,
        after={
            "pharmacy": pharmacy.name,
            "identifier": f"{data.identifier_system}|{data.identifier_value}",
            "resident": line.resident_id,
            "medicine": medicine.name,
            "dmd_code": medicine.dmd_code,
            "dose": line.dose_text,
            "route": line.route,
            "prn": line.is_prn,
        },
    )
    return item, True


@transaction.atomic
def prescription_import(*, pharmacy: Pharmacy, data: ImportedLine) -> tuple[PharmacyImport, bool]:
    """One MedicationRequest from the pharmacy (R-FHIR-5): a line awaiting check for the
    resident with that NHS number in a home the pharmacy supplies. Returns (import, created);
    the same identifier again returns the first import and creates nothing."""
    return _import_one(pharmacy, data, batch=uuid.uuid4(), full_list=False)


@transaction.atomic
def prescription_import_many(
    *, pharmacy: Pharmacy, items: list[ImportedLine]
) -> list[tuple[PharmacyImport, bool]]:
    """A transaction Bundle: all the lines or none (R-FHIR-5). Per resident the Bundle is the
    pharmacy's whole list, so the check screen shows a current line missing from it as
    "stopped?". An error names the entry it is about."""
    if not items:
        raise DomainError("The Bundle has no MedicationRequest entries.", code="bundle_empty")
    batch = uuid.uuid4()
    results = []
    for number, data in enumerate(items, start=1):
        try:
            results.append(_import_one(pharmacy, data, batch=batch, full_list=True))
        except DomainError as e:
            raise DomainError(f"Entry {number}: {e.message}", code=e.code) from e
    return results


# --- The senior's check (R-RX-12) -----------------------------------------------------------------


def pharmacy_imports_waiting(home: CareHome) -> QuerySet[PharmacyImport]:
    return PharmacyImport.objects.filter(
        line__home=home, decision=ImportDecision.PENDING
    ).select_related("line", "line__resident", "line__medicine", "pharmacy")


def _version(line: PrescriptionLine) -> ScheduleVersion | None:
    versions = sorted(line.versions.all(), key=lambda v: (v.created_at, v.pk))
    live = [v for v in versions if v.effective_from is not None]
    if live:
        return max(live, key=lambda v: (v.effective_from, v.pk))
    return versions[0] if versions else None


def _timing_of(line: PrescriptionLine) -> tuple:
    version = _version(line)
    if version is None:
        return ()
    rule = version.days
    return (
        tuple(sorted(s["time"] for s in version.slots)),
        rule,
        version.every_n if rule == sched.DayRule.EVERY_N_DAYS else None,
        tuple(sorted(version.weekdays)) if rule == sched.DayRule.WEEKDAYS else None,
        version.dose_rule,
    )


def _timing_text(line: PrescriptionLine) -> str:
    if line.is_prn:
        return (
            f"When required: at least {line.prn_min_interval_minutes} minutes apart, at most "
            f"{line.prn_max_doses_24h} doses in 24 hours"
        )
    version = _version(line)
    return version.describe if version else "no schedule"


def _differences(new: PrescriptionLine, old: PrescriptionLine) -> list[str]:
    """What a pharmacy line changes in the current one, in words for the senior."""
    out = []
    if (new.dose, new.dose_max, new.dose_unit) != (old.dose, old.dose_max, old.dose_unit):
        out.append(f"dose {old.dose_text} → {new.dose_text}")
    if new.route != old.route:
        out.append(f"route {old.get_route_display()} → {new.get_route_display()}")
    if new.is_prn != old.is_prn:
        out.append("regular → when required" if new.is_prn else "when required → regular")
    elif new.is_prn and (new.prn_min_interval_minutes, new.prn_max_doses_24h) != (
        old.prn_min_interval_minutes,
        old.prn_max_doses_24h,
    ):
        out.append(
            f"PRN limits {old.prn_min_interval_minutes} min / {old.prn_max_doses_24h} a day → "
            f"{new.prn_min_interval_minutes} min / {new.prn_max_doses_24h} a day"
        )
    elif not new.is_prn and _timing_of(new) != _timing_of(old):
        out.append(f"timing {_timing_text(old)} → {_timing_text(new)}")
    if new.instructions.strip().lower() != old.instructions.strip().lower():
        out.append(f"instructions “{old.instructions or 'none'}” → “{new.instructions or 'none'}”")
    if new.end_date != old.end_date:
        out.append(f"end date {old.end_date or 'none'} → {new.end_date or 'none'}")
    return out


@dataclass
class ImportRow:
    """One row of the check screen: a pharmacy line and the current line it meets, or a
    current line the pharmacy's list no longer has."""

    kind: str  # new, changed, unchanged, stopped
    item: PharmacyImport | None
    current: PrescriptionLine | None
    differences: list[str]
    allergies: list[Any]
    new_product: bool = False

    @property
    def line(self) -> PrescriptionLine | None:
        return self.item.line if self.item else None

    @property
    def timing(self) -> str:
        return _timing_text(self.line) if self.line else ""

    @property
    def current_timing(self) -> str:
        return _timing_text(self.current) if self.current else ""


def _current_lines(resident: Resident) -> list[PrescriptionLine]:
    return list(
        PrescriptionLine.objects.filter(
            resident=resident, status=LineStatus.ACTIVE, stopped_at__isnull=True
        )
        .select_related("medicine")
        .prefetch_related("versions")
        .order_by("medicine__name", "pk")
    )


def _counterpart(
    line: PrescriptionLine, current: list[PrescriptionLine]
) -> PrescriptionLine | None:
    same = [c for c in current if c.medicine_id == line.medicine_id]
    return same[0] if same else None


def pharmacy_import_review(resident: Resident) -> list[ImportRow]:
    """The pending pharmacy lines of a resident beside their current lines (R-RX-12): each
    new, changed (with what differs), unchanged, and each current line missing from the
    pharmacy's latest full list (a transaction Bundle) as stopped, for the senior to decide."""
    pending = list(
        PharmacyImport.objects.filter(line__resident=resident, decision=ImportDecision.PENDING)
        .select_related("line", "line__medicine", "pharmacy")
        .prefetch_related("line__versions")
        .order_by("received_at", "pk")
    )
    current = _current_lines(resident)
    allergies = _active_allergies(resident)
    rows: list[ImportRow] = []
    for item in pending:
        other = _counterpart(item.line, current)
        if other is None:
            kind, diffs = "new", []
        else:
            diffs = _differences(item.line, other)
            kind = "changed" if diffs else "unchanged"
        rows.append(
            ImportRow(
                kind=kind,
                item=item,
                current=other,
                differences=diffs,
                allergies=allergy_matches(item.line.medicine, allergies),
                new_product=item.line.medicine.code_source == NEW_PRODUCT_NOTE,
            )
        )
    full = [i for i in pending if i.is_full_list]
    if full:
        latest = max(full, key=lambda i: (i.received_at, i.pk)).batch
        listed = {i.line.medicine_id for i in pending if i.batch == latest}
        for line in current:
            if line.medicine_id not in listed:
                rows.append(
                    ImportRow(kind="stopped", item=None, current=line, differences=[], allergies=[])
                )
    return rows


def _locked_import(item: PharmacyImport) -> PharmacyImport:
    return (
        PharmacyImport.objects.select_for_update(of=("self",))
        .select_related("line", "line__resident", "line__medicine", "line__home", "pharmacy")
        .get(pk=item.pk)
    )


def _decide(item: PharmacyImport, by: User, decision: str, reason: str = "", replaced=None):
    item.decision, item.decided_by, item.decided_at = decision, by, timezone.now()
    item.reason, item.replaced = reason, replaced
    item.save(update_fields=["decision", "decided_by", "decided_at", "reason", "replaced"])


def _require_checker(by: User, item: PharmacyImport) -> None:
    if not permissions.has_perm(by, Perm.CHECK_PRESCRIPTION, item.line.home_id):
        raise DomainError(
            "Only a senior carer, nurse or manager can check a pharmacy line.",
            code="check_not_senior",
        )


@transaction.atomic
def pharmacy_import_accept(
    *,
    item: PharmacyImport,
    by: User,
    allergy_override_reason: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> PharmacyImport:
    """Check a pharmacy line against the pharmacy's data and accept it (R-RX-12, R-RX-4).

    New: the line is checked (`line_check`) and goes live. Changed: the new line is checked
    and goes live now, and the current line is stopped now (`line_stop`) with the pharmacy's
    line as the reason, so the two never run together. Unchanged: nothing changes on the
    rounds; the pharmacy line is closed as the same as the current one."""
    item = _locked_import(item)
    if item.decision != ImportDecision.PENDING:
        if idempotency_key is not None and item.line.check_key == idempotency_key:
            return item  # the same form sent twice
        if (
            idempotency_key is not None
            and item.decision == ImportDecision.UNCHANGED
            and item.line.stop_key == idempotency_key
        ):
            return item
        raise DomainError(
            f"This line was already {item.get_decision_display().lower()}.",
            code="import_decided",
        )
    _require_checker(by, item)
    line = item.line
    current = _current_lines(line.resident)
    other = _counterpart(line, current)
    now = timezone.now()
    if other is not None and not _differences(line, other):
        line_stop(
            line=line,
            by=by,
            reason=f"Same as the current line {other.pk}: nothing changes.",
            authorised_by=by.get_full_name() or by.username,
            idempotency_key=idempotency_key,
        )
        _decide(item, by, ImportDecision.UNCHANGED, replaced=other)
        action = "prescription.import_unchanged"
    else:
        override = allergy_override_reason.strip()
        if override:
            matches = allergy_matches(line.medicine, _active_allergies(line.resident))
            if matches:
                line.allergy_override_reason, line.allergy_override_by = override, by
                line.save(update_fields=["allergy_override_reason", "allergy_override_by"])
        if other is not None:
            # The replacement starts now, not at midnight: the old line gave today's doses.
            line.versions.filter(checked_at__isnull=True).update(requested_from=now)
        line_check(line=line, by=by, idempotency_key=idempotency_key, via_import=True)
        if other is not None:
            line_stop(
                line=other,
                by=by,
                reason=(
                    f"Replaced by {item.pharmacy.name}'s line {line.pk} "
                    f"({item.identifier_value}), checked at the pharmacy import."
                )[:300],
                authorised_by=line.prescriber,
                at=now,
            )
        _decide(item, by, ImportDecision.ACCEPTED, replaced=other)
        action = "prescription.import_accepted"
    audit_append(
        home=line.home_id,
        actor=by,
        action=action,
        obj=line,
        before={"decision": ImportDecision.PENDING},
        after={
            "decision": item.decision,
            "identifier": f"{item.identifier_system}|{item.identifier_value}",
            "replaced": other.pk if other is not None else None,
        },
    )
    return item


@transaction.atomic
def pharmacy_import_reject(
    *, item: PharmacyImport, by: User, reason: str, idempotency_key: uuid.UUID | None = None
) -> PharmacyImport:
    """Reject a pharmacy line with a reason (R-RX-12): it never goes live; the line is kept,
    stopped, with the reason, and the pharmacy's data stays on record."""
    item = _locked_import(item)
    if item.decision != ImportDecision.PENDING:
        if idempotency_key is not None and item.line.stop_key == idempotency_key:
            return item
        raise DomainError(
            f"This line was already {item.get_decision_display().lower()}.",
            code="import_decided",
        )
    _require_checker(by, item)
    reason = " ".join(reason.split())
    if not reason:
        raise DomainError("Say why the pharmacy's line is rejected.", code="reason_required")
    line_stop(
        line=item.line,
        by=by,
        reason=f"Rejected at the pharmacy import check: {reason}"[:300],
        authorised_by=by.get_full_name() or by.username,
        idempotency_key=idempotency_key,
    )
    _decide(item, by, ImportDecision.REJECTED, reason=reason[:300])
    audit_append(
        home=item.line.home_id,
        actor=by,
        action="prescription.import_rejected",
        obj=item.line,
        before={"decision": ImportDecision.PENDING},
        after={
            "decision": ImportDecision.REJECTED,
            "reason": item.reason,
            "identifier": f"{item.identifier_system}|{item.identifier_value}",
        },
    )
    return item
