"""API tokens (R-FHIR-4) and the one mapping of a FHIR MedicationAdministration onto
`administration_record` (R-FHIR-2). Every clinical rule stays in the medications services."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from django.db import transaction
from django.utils import timezone

from emar import permissions
from emar.models import NonAdministrationCode, Scanning, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append
from medications.models import Administration, Outcome, PrescriptionLine, ScheduledDose
from medications.services import (
    ImportedLine,
    administration_record,
    doses_sync,
    pharmacy_home_ids,
    pharmacy_of,
)

from . import selectors
from .models import ApiIdentifier, ApiToken

TOKEN_PREFIX = "emar_"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 366
# Namespace of the idempotency keys derived from a client's identifier (R-FHIR-2).
IDENTIFIER_NAMESPACE = uuid.UUID("5d0c6a52-3f0e-4c59-9d8b-6f6b1e3f2a10")
WITNESS = "witness"
PERFORMER = "performer"


class ApiError(DomainError):
    """A request the API refuses before (or instead of) the services; `code` is stable and
    `status` is the HTTP status (400 malformed, 401 not signed in, 422 unprocessable)."""

    def __init__(self, message: str, *, code: str, status: int = 422) -> None:
        super().__init__(message, code=code)
        self.status = status


# --- Tokens (R-FHIR-4) ---------------------------------------------------------------------------


def caller_home_ids(user: User) -> list[int]:
    """The homes a token's account acts for: its roles' homes, or for a pharmacy's account the
    homes the pharmacy supplies (R-FHIR-5)."""
    pharmacy = pharmacy_of(user)
    if pharmacy is not None:
        return pharmacy_home_ids(pharmacy)
    return list(permissions.home_ids_for(user))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, user: User, days: int = DEFAULT_TOKEN_DAYS, label: str = ""
) -> tuple[ApiToken, str]:
    """A new token acting with `user`'s roles; returns (token, secret). Only the SHA-256 of the
    secret is stored, so the secret is shown this once."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ApiError(
            f"A token lasts between 1 and {MAX_TOKEN_DAYS} days.", code="bad_days", status=400
        )
    if not user.is_active:
        raise ApiError(f"{user.username} is not an active account.", code="user_inactive")
    homes = caller_home_ids(user)
    if not homes and pharmacy_of(user) is not None:
        raise ApiError(
            f"{user.pharmacy} supplies no home yet, so its token could send nothing.",
            code="no_roles",
        )
    if not homes:
        raise ApiError(
            f"{user.username} has no role in any home, so a token could see nothing. Give them "
            "a role first.",
            code="no_roles",
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        label=label.strip()[:100],
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        key_hash=_hash(secret),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    for home_id in homes:
        audit_append(
            home=home_id,
            actor=user,
            action="api.token.created",
            obj=token,
            after={"user": user.username, "expires_at": token.expires_at.isoformat()},
        )
    return token, secret


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    """End a token now. A manager may revoke the tokens of their home's staff (R-FHIR-4)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    homes = set(permissions.home_ids_for(by, Perm.MANAGE_API_TOKENS))
    token_homes = set(token.user.memberships.values_list("home_id", flat=True))
    if pharmacy_of(token.user) is not None:
        token_homes |= set(pharmacy_home_ids(token.user.pharmacy))
    if not homes & token_homes and by.pk != token.user_id:
        raise ApiError("Only a manager of their home can revoke this token.", code="not_allowed")
    if token.revoked_at is not None:
        raise ApiError("This token was already revoked.", code="already_revoked")
    token.revoked_at = timezone.now()
    token.revoked_by = by
    token.save(update_fields=["revoked_at", "revoked_by"])
    for home_id in sorted(homes & token_homes) or sorted(token_homes)[:1]:
        audit_append(
            home=home_id,
            actor=by,
            action="api.token.revoked",
            obj=token,
            after={"user": token.user.username},
        )
    return token


def api_token_authenticate(*, secret: str) -> User:
    """The user a bearer token acts as; ApiError (401) if unknown, revoked or expired."""
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user", "user__pharmacy")
        .filter(key_hash=_hash(secret))
        .first()
        if secret.startswith(TOKEN_PREFIX)
        else None
    )
    if token is None or not token.user.is_active:
        raise ApiError("Unknown API token.", code="token_unknown", status=401)
    if token.revoked_at is not None:
        raise ApiError(
            "This API token was revoked. Ask for a new one.", code="token_revoked", status=401
        )
    if token.expires_at <= now:
        raise ApiError(
            "This API token has expired. Ask for a new one.", code="token_expired", status=401
        )
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(seconds=60):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- MedicationAdministration in (R-FHIR-2) -----------------------------------------------------


@dataclass(frozen=True)
class AdministrationInput:
    """What a posted MedicationAdministration says, in eMAR's terms (parsed by the view with
    the fhir.resources model, resolved here)."""

    identifier_system: str
    identifier_value: str
    request_id: str
    subject_id: str | None
    medication_id: str | None
    effective: dt.datetime | None
    status: str
    status_codes: tuple[str, ...]
    dose_value: Decimal | None
    dose_unit: str
    performers: tuple[tuple[str, str], ...]  # (function code or "", Practitioner id)
    reason: str
    note: str
    site: str


def _id_of(reference: str | None, kind: str) -> str | None:
    if not reference:
        return None
    prefix = f"{kind}/"
    ref = reference.rsplit("/fhir/r4/", 1)[-1]
    return ref[len(prefix) :] if ref.startswith(prefix) else ""


def idempotency_key(system: str, value: str) -> uuid.UUID:
    return uuid.uuid5(IDENTIFIER_NAMESPACE, f"{system}|{value}")


def _scoped_line(by: User, request_id: str) -> PrescriptionLine:
    line = (
        selectors.lines(by)
        .filter(pk=int(request_id) if request_id.isdigit() else -1)
        .select_related("home", "resident", "medicine")
        .first()
    )
    if line is None:
        raise ApiError(
            f"MedicationRequest/{request_id} is not a prescription in your homes. Check the "
            "request reference.",
            code="request_unknown",
        )
    return line


def _dose_for(line: PrescriptionLine, at: dt.datetime) -> ScheduledDose:
    """The scheduled dose of `line` whose window contains `at` (the nearest if windows meet)."""

    def find() -> ScheduledDose | None:
        doses = ScheduledDose.objects.filter(
            line=line, window_opens__lte=at, window_closes__gte=at, cancelled_at__isnull=True
        ).select_related("home", "line")
        return min(doses, key=lambda d: abs(d.due_at - at), default=None)

    dose = find()
    if dose is None:
        day = at.astimezone(line.home.tz).date()
        doses_sync(home=line.home, start=day - dt.timedelta(days=1), end=day)
        dose = find()
    if dose is None:
        raise ApiError(
            f"No dose of {line.medicine.name} is due at "
            f"{at.astimezone(line.home.tz):%d %b %Y %H:%M}: use the time of a scheduled dose "
            "within its window.",
            code="no_dose_at_time",
        )
    return dose


def _witness(by: User, line: PrescriptionLine, performers) -> User | None:
    witness = None
    for function, practitioner_id in performers:
        if function == WITNESS:
            user = selectors.practitioners(by).filter(pk=_int(practitioner_id)).first()
            if user is None:
                raise ApiError(
                    f"The witness Practitioner/{practitioner_id} is not staff of this home.",
                    code="witness_not_staff",
                )
            witness = user
        elif function in ("", PERFORMER) and practitioner_id != str(by.pk):
            raise ApiError(
                "The API records doses as the token's own user: leave the performer out or "
                f"give Practitioner/{by.pk}.",
                code="performer_not_caller",
            )
        elif function not in ("", PERFORMER, WITNESS):
            raise ApiError(
                f"Performer function {function!r} is not supported: use performer or witness.",
                code="performer_function_unsupported",
            )
    return witness


def _int(value: str) -> int:
    return int(value) if value.isdigit() else -1


SITE_MAX = cast(int, Administration._meta.get_field("body_site").max_length)
MAX_QUANTITY = Decimal("99999.999")  # what the record holds (8 digits, 3 decimals)


@transaction.atomic
def administration_from_fhir(*, by: User, data: AdministrationInput) -> tuple[Administration, bool]:
    """Record a posted MedicationAdministration through `administration_record` (R-FHIR-2).

    Returns (record, created). Witness (R-MAR-9): the API cannot confirm a witness's password,
    so a controlled drug needs a witness performer who is staff of the home and passes the CD
    competency gate (the service's checks); the API client attests that this person witnessed
    the dose. Every clinical rule is the service's; this function only maps fields."""
    if not data.identifier_value.strip():
        raise ApiError(
            "Give an identifier (system and value): it makes the call safe to repeat.",
            code="identifier_required",
        )
    if len(data.identifier_system) > 300 or len(data.identifier_value) > 300:
        raise ApiError(
            "The identifier's system and value must each be 300 characters or fewer.",
            code="identifier_too_long",
        )
    if len(data.site) > SITE_MAX:
        raise ApiError(
            f"dosage.site.text is at most {SITE_MAX} characters, e.g. 'Left upper arm'.",
            code="site_too_long",
        )
    key = idempotency_key(data.identifier_system, data.identifier_value)
    existed = Administration.objects.filter(idempotency_key=key).exists()
    line = _scoped_line(by, data.request_id)
    if data.subject_id is not None and data.subject_id != str(line.resident_id):
        raise ApiError(
            f"The subject is not the patient of MedicationRequest/{line.pk}.",
            code="subject_mismatch",
        )
    if data.medication_id is not None and data.medication_id != str(line.medicine_id):
        raise ApiError(
            f"The medication is not the one of MedicationRequest/{line.pk}.",
            code="medication_mismatch",
        )
    if data.effective is None:
        raise ApiError("Give effectiveDateTime with a time zone.", code="effective_required")
    statuses = {"completed": Outcome.GIVEN, "not-done": Outcome.NOT_GIVEN}
    if data.status not in statuses:
        raise ApiError(
            f"Status {data.status!r} cannot be recorded: use completed or not-done.",
            code="status_unsupported",
        )
    outcome = statuses[data.status]
    quantity = data.dose_value
    if quantity is not None and (
        quantity.is_nan()
        or abs(quantity) > MAX_QUANTITY
        or quantity != quantity.quantize(Decimal("0.001"))
    ):
        raise ApiError(
            f"The dose {data.dose_value} cannot be right: the prescribed dose is {line.dose_text}.",
            code="dose_invalid",
        )
    if data.dose_unit and data.dose_unit not in (line.dose_unit, line.get_dose_unit_display()):
        raise ApiError(
            f"The dose unit {data.dose_unit!r} is not the prescribed "
            f"{line.get_dose_unit_display()}.",
            code="dose_unit_mismatch",
        )
    code = None
    if outcome == Outcome.NOT_GIVEN:
        code = NonAdministrationCode.objects.filter(
            home=line.home, code__in=data.status_codes
        ).first()
    witness = _witness(by, line, data.performers)
    dose = None if line.is_prn or existed else _dose_for(line, data.effective)
    record = administration_record(
        by=by,
        idempotency_key=key,
        outcome=outcome,
        dose=dose,
        line=line,
        code=code,
        quantity=quantity,
        administered_at=data.effective,
        note=data.note,
        late_reason=data.note,
        witness=witness,
        prn_reason=data.reason,
        body_site=data.site,
        no_scan_reason=_api_no_scan_reason(line),
    )
    if not existed:
        ApiIdentifier.objects.get_or_create(
            administration=record,
            defaults={"system": data.identifier_system, "value": data.identifier_value},
        )
    return record, not existed


# A record sent by another system (R-FHIR-2) has no pack in this system's hands to scan: in a home
# that requires scanning (R-SCAN-1) it is stored with this reason, so the MAR shows that the pack
# check was the sending system's, as a witness sent through the API is (H-5, H-14).
API_NO_SCAN_REASON = "Recorded through the API: the pack was checked by the sending system"


def _api_no_scan_reason(line) -> str:
    return API_NO_SCAN_REASON if line.home.scanning == Scanning.REQUIRED else ""


# --- MedicationRequest in: the pharmacy import (R-FHIR-5, R-RX-12) -----------------------------

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
DMD = "https://dmd.nhs.uk"
_WEEKDAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD_MINUTES = {"min": 1, "h": 60, "d": 24 * 60}
IMPORTABLE_STATUSES = ("active", "draft")


def _nhs_number(subject) -> str:
    """subject.identifier (system NHS number), or the conditional reference
    Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|NNN."""
    if subject is None:
        return ""
    if subject.identifier is not None:
        if subject.identifier.system != NHS_NUMBER:
            raise ApiError(
                f"subject.identifier.system must be {NHS_NUMBER}.", code="patient_identifier"
            )
        return subject.identifier.value or ""
    prefix = f"Patient?identifier={NHS_NUMBER}|"
    if subject.reference and subject.reference.startswith(prefix):
        return subject.reference.removeprefix(prefix)
    raise ApiError(
        f"Name the patient by NHS number: subject.identifier with system {NHS_NUMBER}.",
        code="patient_identifier",
    )


def _minutes(quantity: Decimal | None, unit: str | None) -> int | None:
    if quantity is None or unit not in _PERIOD_MINUTES:
        return None
    minutes = quantity * _PERIOD_MINUTES[unit]
    return int(minutes) if minutes == minutes.to_integral() and minutes > 0 else None


def medication_request_input(resource, *, raw: dict) -> ImportedLine:
    """What a MedicationRequest (parsed with the fhir.resources R4B model) says, in eMAR's
    terms. Only structure is read here; `medications.services.prescription_import` applies
    every rule (patient, product, dose, unit, route, timing)."""
    if resource.status not in IMPORTABLE_STATUSES:
        raise ApiError(
            f"A MedicationRequest with status {resource.status!r} cannot be imported: send "
            "active prescriptions.",
            code="status_unsupported",
        )
    identifier = (resource.identifier or [None])[0]
    if resource.medicationCodeableConcept is None:
        raise ApiError(
            "Send the medication as medicationCodeableConcept with a dm+d coding "
            f"(system {DMD}) and its display.",
            code="medication_unknown",
        )
    concept = resource.medicationCodeableConcept
    dmd = next((c for c in concept.coding or [] if c.system == DMD and c.code), None)
    name = (dmd.display if dmd and dmd.display else None) or concept.text or ""
    dosages = resource.dosageInstruction or []
    if len(dosages) != 1:
        raise ApiError(
            "Send exactly one dosageInstruction per MedicationRequest (a line has one dosage).",
            code="dosage_invalid",
        )
    dosage = dosages[0]
    rates = dosage.doseAndRate or []
    dose = dose_max = None
    unit = ""
    if len(rates) == 1 and rates[0].doseQuantity is not None:
        dose = rates[0].doseQuantity.value
        unit = rates[0].doseQuantity.code or rates[0].doseQuantity.unit or ""
    elif len(rates) == 1 and rates[0].doseRange is not None:
        low, high = rates[0].doseRange.low, rates[0].doseRange.high
        dose, dose_max = (low.value if low else None), (high.value if high else None)
        unit = (low.code or low.unit or "") if low else ""
        if dose_max is None:
            raise ApiError("A dose range needs its high end.", code="dosage_invalid")
    else:
        raise ApiError(
            "The dosage needs one doseAndRate with doseQuantity (or doseRange).",
            code="dosage_invalid",
        )
    route = ""
    if dosage.route is not None:
        codes = [c.code for c in dosage.route.coding or [] if c.code]
        route = (
            (codes[0] if codes else "")
            or dosage.route.text
            or next((c.display for c in dosage.route.coding or []), "")
            or ""
        )
    prn = bool(dosage.asNeededBoolean) or dosage.asNeededCodeableConcept is not None
    repeat = dosage.timing.repeat if dosage.timing and dosage.timing.repeat else None
    times = tuple(repeat.timeOfDay or []) if repeat else ()
    when = tuple(repeat.when or []) if repeat else ()
    weekdays = tuple(_WEEKDAY_CODES.index(d) for d in repeat.dayOfWeek or []) if repeat else ()
    problem = ""
    every_n = 1
    interval = None
    if repeat is not None and not prn:
        slots = len(times) + len(when)
        if repeat.frequency is not None and slots and repeat.frequency != slots:
            problem = (
                f"The timing says {repeat.frequency} a {repeat.periodUnit or 'period'} but gives "
                f"{slots} times: make them agree."
            )
        elif repeat.periodUnit not in (None, "d", "wk"):
            problem = "A regular line's timing period is in days (d) or weeks (wk)."
        elif repeat.periodUnit == "d" and repeat.period is not None:
            if repeat.period != repeat.period.to_integral() or repeat.period < 1:
                problem = "The timing's period must be a whole number of days."
            else:
                every_n = int(repeat.period)
        elif repeat.periodUnit == "wk" and not weekdays:
            problem = "A weekly timing needs dayOfWeek."
    elif repeat is not None and prn:
        per = _minutes(repeat.period, repeat.periodUnit)
        frequency = repeat.frequency or 1
        interval = per // frequency if per else None
    elif dosage.timing is not None and dosage.timing.code is not None and not prn:
        problem = (
            "timing.code alone cannot be scheduled: give timing.repeat with timeOfDay or when."
        )
    most = None
    ratio = dosage.maxDosePerPeriod
    if ratio is not None and ratio.numerator is not None and ratio.denominator is not None:
        per = _minutes(ratio.denominator.value, ratio.denominator.code or ratio.denominator.unit)
        if per == 24 * 60:
            most = ratio.numerator.value
    period = resource.dispenseRequest.validityPeriod if resource.dispenseRequest else None

    def day(value) -> dt.date | None:
        if value is None:
            return None
        return value.date() if isinstance(value, dt.datetime) else value

    additional = [c.text for c in dosage.additionalInstruction or [] if c.text]
    if dosage.patientInstruction:
        additional.append(dosage.patientInstruction)
    return ImportedLine(
        identifier_system=(identifier.system or "") if identifier else "",
        identifier_value=(identifier.value or "") if identifier else "",
        nhs_number=_nhs_number(resource.subject),
        dmd_code=dmd.code if dmd else "",
        medication_name=name,
        dose=Decimal(str(dose)) if dose is not None else None,
        dose_max=Decimal(str(dose_max)) if dose_max is not None else None,
        dose_unit=unit,
        route=route,
        is_prn=prn,
        times=times,
        when=when,
        every_n_days=every_n,
        weekdays=weekdays,
        prn_min_interval_minutes=interval,
        prn_max_per_24h=Decimal(str(most)) if most is not None else None,
        start_date=day(period.start) if period else None,
        end_date=day(period.end) if period else None,
        indication=" ".join(c.text for c in resource.reasonCode or [] if c.text),
        instructions=" ".join(additional),
        prescriber=(resource.requester.display or "") if resource.requester else "",
        resource=raw,
        timing_problem=problem,
    )
