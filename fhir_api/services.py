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
from emar.models import NonAdministrationCode, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append
from medications.models import Administration, Outcome, PrescriptionLine, ScheduledDose
from medications.services import administration_record, doses_sync

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
    homes = permissions.home_ids_for(user)
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
        ApiToken.objects.select_related("user").filter(key_hash=_hash(secret)).first()
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
    )
    if not existed:
        ApiIdentifier.objects.get_or_create(
            administration=record,
            defaults={"system": data.identifier_system, "value": data.identifier_value},
        )
    return record, not existed
