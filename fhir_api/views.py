"""The FHIR R4 endpoints under /fhir/r4/ (R-FHIR-1..4): authenticate the bearer token, parse
with the fhir.resources models, call the selectors and services, answer with FHIR JSON.

Every authenticated call is written to the home's access log (R-INS-1) like a reports page;
the write itself is also on the audit trail through `administration_record` (R-SEC-4)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from decimal import Decimal

from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from pydantic import ValidationError

from audits.services import access_log
from emar.services import DomainError
from medications.models import PrescriptionLine
from medications.services import pharmacy_of, prescription_import, prescription_import_many
from training.services import TrainingGateError

from . import resources, selectors, services

FHIR_JSON = "application/fhir+json; charset=utf-8"
MAX_BODY = 1024 * 1024  # 1 MB: a MedicationAdministration is a few hundred bytes
DEFAULT_COUNT = 50
MAX_COUNT = 200
FORBIDDEN_CODES = {"not_allowed"}


def _json(resource, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(resource.model_dump_json(), status=status, content_type=FHIR_JSON)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _outcome(
    message: str, status: int, *, code: str = "processing", detail: str | None = None
) -> HttpResponse:
    response = _json(resources.operation_outcome(message, code=code, detail=detail), status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="eMAR FHIR API"'
    return response


class BadRequest(Exception):
    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.status, self.code = status, code


def api(methods: tuple[str, ...]) -> Callable:
    """Bearer-token authentication (R-FHIR-4), method check, errors as OperationOutcome and the
    access log. The view gets `user` and returns (response, home ids it showed)."""

    def decorator(view: Callable) -> Callable:
        @csrf_exempt
        @functools.wraps(view)
        def wrapped(request, **kwargs):
            if request.method not in methods:
                return _outcome(
                    f"{request.method} is not supported here; use {' or '.join(methods)}.",
                    405,
                    code="not-supported",
                )
            header = request.headers.get("authorization", "")
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                return _outcome(
                    "Send the API token as 'Authorization: Bearer TOKEN' "
                    "(python manage.py api_token USERNAME makes one).",
                    401,
                    code="login",
                    detail="token_missing",
                )
            try:
                user = services.api_token_authenticate(secret=secret.strip())
            except services.ApiError as e:
                return _outcome(e.message, e.status, code="login", detail=e.code)
            homes: set[int] = set()
            try:
                response, homes = view(request, user=user, **kwargs)
            except Http404:
                response = _outcome(
                    "No such resource in your homes.", 404, code="not-found", detail="not_found"
                )
            except BadRequest as e:
                response = _outcome(str(e), e.status, code=e.code)
            except TrainingGateError as e:
                response = _outcome(e.message, 403, code="forbidden", detail=e.code)
            except services.ApiError as e:
                response = _outcome(e.message, e.status, code="processing", detail=e.code)
            except DomainError as e:
                status = 403 if e.code in FORBIDDEN_CODES else 422
                response = _outcome(e.message, status, code="business-rule", detail=e.code)
            _log(request, user, response, homes)
            return response

        return wrapped

    return decorator


def _log(request, user, response, homes: set[int]) -> None:
    """One access-log row per home the call showed or touched; a call that showed nothing is
    logged against each of the caller's homes (R-INS-1, R-FHIR-4)."""
    what = f"API {request.method} {request.path.removeprefix('/fhir/r4/')} → {response.status_code}"
    for home_id in sorted(homes) or services.caller_home_ids(user):
        access_log(
            home=home_id,
            user=user,
            action="api",
            what=what,
            path=request.get_full_path(),
            object_type="fhir",
        )


def _base(request) -> str:
    return request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("metadata")


# --- metadata --------------------------------------------------------------------------------

PARAM_TYPES = {"identifier": "token", "patient": "reference", "effective-time": "date"}
SEARCHES = {
    "Patient": ["identifier"],
    "Practitioner": [],
    "AllergyIntolerance": ["patient"],
    "MedicationRequest": ["patient"],
    "MedicationAdministration": ["patient", "effective-time"],
    "SupplyRequest": ["home"],
    "Medication": [],
}


@csrf_exempt
def metadata(request):
    """The CapabilityStatement (R-FHIR-4): public, so a client can discover the API."""
    if request.method != "GET":
        return _outcome("Use GET.", 405, code="not-supported")
    rest_resources = []
    for kind, params in SEARCHES.items():
        interactions = [{"code": "read"}]
        if kind != "Medication":
            interactions.append({"code": "search-type"})
        if kind in ("MedicationAdministration", "MedicationRequest"):
            interactions.append({"code": "create"})
        rest_resources.append(
            {
                "type": kind,
                "interaction": interactions,
                "searchParam": [
                    {
                        "name": p,
                        "type": "date"
                        if p == "effective-time"
                        else "token"
                        if p == "identifier"
                        else "reference",
                    }
                    for p in params
                ]
                + [{"name": "_count", "type": "number"}]
                or None,
            }
        )
    statement = CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": timezone.now().date().isoformat(),
            "kind": "instance",
            "software": {"name": "eMAR"},
            "implementation": {"description": "eMAR FHIR R4 API", "url": _base(request)},
            "fhirVersion": "4.3.0",
            "format": ["application/fhir+json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "service": [{"text": "Bearer token (python manage.py api_token USERNAME)"}],
                        "description": "Every call but this one needs Authorization: Bearer TOKEN.",
                    },
                    "resource": rest_resources,
                    "interaction": [
                        {
                            "code": "transaction",
                            "documentation": "A supplying pharmacy's Bundle of "
                            "MedicationRequests, all or nothing (R-FHIR-5).",
                        }
                    ],
                }
            ],
        }
    )
    return _json(statement)


# --- searches and reads ----------------------------------------------------------------------


def _count(request) -> tuple[int, int]:
    try:
        count = int(request.GET.get("_count", DEFAULT_COUNT))
        offset = int(request.GET.get("_offset", 0))
    except ValueError:
        raise BadRequest("_count and _offset must be whole numbers.") from None
    if not 1 <= count <= MAX_COUNT or offset < 0:
        raise BadRequest(f"_count must be 1 to {MAX_COUNT} and _offset 0 or more.")
    return count, offset


def _page(request, kind: str, qs: QuerySet, build: Callable, home_of: Callable):
    count, offset = _count(request)
    total = qs.count()
    items = list(qs[offset : offset + count])
    base = _base(request)
    params = request.GET.copy()
    params["_count"] = str(count)
    params["_offset"] = str(offset)
    self_url = f"{base}{kind}?{params.urlencode()}"
    next_url = None
    if offset + count < total:
        params["_offset"] = str(offset + count)
        next_url = f"{base}{kind}?{params.urlencode()}"
    bundle = resources.searchset(
        [build(i) for i in items], base=base, total=total, self_url=self_url, next_url=next_url
    )
    return _json(bundle), {home_of(i) for i in items if home_of(i) is not None}


def _reference_id(value: str, kind: str) -> int:
    value = value.removeprefix(f"{kind}/")
    if not value.isdigit():
        raise BadRequest(f"{value!r} is not a {kind} id.")
    return int(value)


def _only(request, allowed: set[str]) -> None:
    unknown = set(request.GET) - allowed - {"_count", "_offset", "_format"}
    if unknown:
        raise BadRequest(
            f"Search parameter {', '.join(sorted(unknown))} is not supported; "
            f"use {', '.join(sorted(allowed)) or 'none'}.",
            code="not-supported",
        )


def _patient_param(request) -> int:
    if "patient" not in request.GET:
        raise BadRequest("Give patient=ID.", code="required")
    return _reference_id(request.GET["patient"], "Patient")


_PREFIXES = {"ge": "gte", "gt": "gt", "le": "lte", "lt": "lt", "eq": None}


def _effective_filters(values: list[str], tz) -> dict:
    """effective-time=geYYYY-MM-DD (also gt, le, lt, eq or none); a date is the patient's home's
    local day, a dateTime must carry its offset."""
    filters: dict = {}
    for raw in values:
        prefix = raw[:2] if raw[:2] in _PREFIXES else "eq"
        text = raw[2:] if raw[:2] in _PREFIXES else raw
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
                end = start + dt.timedelta(days=1)
            else:
                start = dt.datetime.fromisoformat(text)
                if start.tzinfo is None:
                    raise ValueError
                end = start
        except ValueError:
            raise BadRequest(
                f"effective-time {raw!r}: use geYYYY-MM-DD or a dateTime with its time zone."
            ) from None
        if prefix in ("ge",):
            filters["administered_at__gte"] = start
        elif prefix == "gt":
            filters["administered_at__gte" if len(text) == 10 else "administered_at__gt"] = (
                end if len(text) == 10 else start
            )
        elif prefix == "lt":
            filters["administered_at__lt"] = start
        elif prefix == "le":
            filters["administered_at__lt" if len(text) == 10 else "administered_at__lte"] = end
        else:
            filters["administered_at__gte"] = start
            filters["administered_at__lt" if len(text) == 10 else "administered_at__lte"] = end
    return filters


def search_patient(request, user):
    _only(request, {"identifier"})
    qs = selectors.patients(user)
    if "identifier" in request.GET:
        system, bar, value = request.GET["identifier"].rpartition("|")
        if not bar or system != resources.NHS_NUMBER:
            raise BadRequest(f"Search by identifier={resources.NHS_NUMBER}|NHS number.")
        qs = qs.filter(nhs_number=value.replace(" ", ""))
    return _page(request, "Patient", qs, resources.patient, lambda r: r.home_id)


def search_practitioner(request, user):
    _only(request, set())
    return _page(
        request,
        "Practitioner",
        selectors.practitioners(user),
        resources.practitioner,
        lambda u: None,
    )


def search_allergy(request, user):
    _only(request, {"patient"})
    qs = selectors.allergies(user).filter(resident_id=_patient_param(request))
    return _page(request, "AllergyIntolerance", qs, resources.allergy, lambda a: a.resident.home_id)


def search_request(request, user):
    _only(request, {"patient"})
    qs = selectors.lines(user).filter(resident_id=_patient_param(request))
    return _page(
        request, "MedicationRequest", qs, resources.medication_request, lambda x: x.home_id
    )


def search_administration(request, user):
    _only(request, {"patient", "effective-time"})
    patient = selectors.patients(user).filter(pk=_patient_param(request)).first()
    qs = selectors.administrations(user).filter(resident=patient)
    if patient is not None and "effective-time" in request.GET:
        qs = qs.filter(**_effective_filters(request.GET.getlist("effective-time"), patient.home.tz))
    return _page(
        request,
        "MedicationAdministration",
        qs,
        resources.medication_administration,
        lambda x: x.home_id,
    )


def search_supply_request(request, user):
    """Approved medicines orders, one SupplyRequest per item (R-ORD-1). A supplying pharmacy's
    token reads the orders of the homes it supplies; `home=ID` of any other home is a 403."""
    _only(request, {"home"})
    qs = selectors.supply_requests(user)
    if "home" in request.GET:
        raw = request.GET["home"]
        if not raw.isdigit():
            raise BadRequest("home must be a home's id.")
        if int(raw) not in selectors.order_home_ids(user):
            raise services.ApiError(
                "This token cannot read that home's orders.", code="not_your_home", status=403
            )
        qs = qs.filter(order__home_id=int(raw))
    return _page(request, "SupplyRequest", qs, resources.supply_request, lambda i: i.order.home_id)


READS: dict[str, tuple[Callable, Callable, Callable]] = {
    # type: (scoped queryset for the user, builder, home of the object)
    "Patient": (selectors.patients, resources.patient, lambda r: r.home_id),
    "Practitioner": (selectors.practitioners, resources.practitioner, lambda u: None),
    "AllergyIntolerance": (selectors.allergies, resources.allergy, lambda a: a.resident.home_id),
    "Medication": (lambda user: selectors.medicines(), resources.medication, lambda m: None),
    "MedicationRequest": (selectors.lines, resources.medication_request, lambda x: x.home_id),
    "MedicationAdministration": (
        selectors.administrations,
        resources.medication_administration,
        lambda x: x.home_id,
    ),
    "SupplyRequest": (
        selectors.supply_requests,
        resources.supply_request,
        lambda i: i.order.home_id,
    ),
}
# What a pharmacy's token may read: its homes' approved orders (R-ORD-1).
PHARMACY_READS = {"SupplyRequest"}
SEARCH_VIEWS = {
    "Patient": search_patient,
    "Practitioner": search_practitioner,
    "AllergyIntolerance": search_allergy,
    "MedicationRequest": search_request,
    "MedicationAdministration": search_administration,
    "SupplyRequest": search_supply_request,
}


PHARMACY_ONLY = (
    "A pharmacy's token can only send prescriptions (POST MedicationRequest, or a transaction "
    "Bundle of them to the base URL) and read its homes' approved orders (GET SupplyRequest)."
)


def _refuse_pharmacy(user) -> None:
    """A pharmacy's token sends MedicationRequests and reads nothing (R-FHIR-5)."""
    if pharmacy_of(user) is not None:
        raise services.ApiError(PHARMACY_ONLY, code="pharmacy_cannot_read", status=403)


@api(methods=("GET", "POST"))
def resource_type(request, user, kind: str):
    if request.method == "POST":
        if kind == "MedicationRequest":
            return create_request(request, user)
        _refuse_pharmacy(user)
        if kind != "MedicationAdministration":
            raise BadRequest(
                f"{kind} cannot be created through this API.", status=405, code="not-supported"
            )
        return create_administration(request, user)
    if kind not in PHARMACY_READS:
        _refuse_pharmacy(user)
    if kind not in SEARCH_VIEWS:
        if kind in READS:
            raise BadRequest(
                f"Search of {kind} is not supported; read {kind}/ID.", code="not-supported"
            )
        raise Http404
    return SEARCH_VIEWS[kind](request, user)


@api(methods=("GET",))
def resource_read(request, user, kind: str, pk: str):
    if kind not in PHARMACY_READS:
        _refuse_pharmacy(user)
    if kind not in READS or not pk.isdigit():
        raise Http404
    queryset, build, home_of = READS[kind]
    obj = queryset(user).filter(pk=int(pk)).first()
    if obj is None:
        raise Http404
    home = home_of(obj)
    return _json(build(obj)), {home} if home is not None else set()


# --- create (R-FHIR-2) -----------------------------------------------------------------------


def _body(request) -> dict:
    content_type = request.content_type or ""
    if content_type not in ("application/fhir+json", "application/json"):
        raise BadRequest(
            "Send the resource as application/fhir+json.", status=415, code="not-supported"
        )
    try:
        length = int(request.headers.get("content-length") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise BadRequest("The body is over 1 MB.", status=413, code="too-costly")
    raw = request.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BadRequest("The body is over 1 MB.", status=413, code="too-costly")
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not JSON.", code="structure") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be one JSON object (a FHIR resource).", code="structure")
    return data


def _parse_administration(data: dict) -> services.AdministrationInput:
    """The fhir.resources model checks the structure; a malformed resource is 400."""
    if data.get("resourceType") != "MedicationAdministration":
        raise BadRequest(
            f"Expected a MedicationAdministration, got {str(data.get('resourceType'))[:40]!r}.",
            code="structure",
        )
    try:
        resource = MedicationAdministration.model_validate(data)
    except (ValidationError, ValueError, TypeError) as e:
        first = str(e).splitlines()
        raise BadRequest(
            "The MedicationAdministration is not valid FHIR R4: " + "; ".join(first[:3])[:400],
            code="structure",
        ) from None
    identifier = (resource.identifier or [None])[0]
    effective = resource.effectiveDateTime
    if isinstance(effective, dt.datetime):
        if effective.tzinfo is None:
            raise BadRequest("effectiveDateTime needs its time zone, e.g. 2026-11-25T08:05:00Z.")
    elif effective is not None:
        raise BadRequest("effectiveDateTime needs a time, not only a date.")
    dose = resource.dosage.dose if resource.dosage else None
    performers = tuple(
        (
            (p.function.coding[0].code if p.function and p.function.coding else "") or "",
            services._id_of(p.actor.reference, "Practitioner") or "",
        )
        for p in resource.performer or []
    )
    codes = tuple(
        c.code for reason in resource.statusReason or [] for c in reason.coding or [] if c.code
    )
    return services.AdministrationInput(
        identifier_system=(identifier.system or "") if identifier else "",
        identifier_value=(identifier.value or "") if identifier else "",
        request_id=services._id_of(
            resource.request.reference if resource.request else None, "MedicationRequest"
        )
        or "",
        subject_id=services._id_of(resource.subject.reference, "Patient"),
        medication_id=services._id_of(
            resource.medicationReference.reference if resource.medicationReference else None,
            "Medication",
        ),
        effective=effective,
        status=resource.status,
        status_codes=codes,
        dose_value=Decimal(str(dose.value))
        if dose is not None and dose.value is not None
        else None,
        dose_unit=(dose.code or dose.unit or "") if dose is not None else "",
        performers=performers,
        reason=" ".join(c.text for c in resource.reasonCode or [] if c.text),
        note=" ".join(n.text for n in resource.note or [] if n.text),
        site=(resource.dosage.site.text or "") if resource.dosage and resource.dosage.site else "",
    )


def create_administration(request, user):
    data = _parse_administration(_body(request))
    if not data.request_id:
        raise services.ApiError(
            "Give request: the MedicationRequest this dose is for.", code="request_required"
        )
    record, created = services.administration_from_fhir(by=user, data=data)
    record = selectors.administrations(user).get(pk=record.pk)
    location = f"{_base(request)}MedicationAdministration/{record.pk}"
    return (
        _json(
            resources.medication_administration(record),
            201 if created else 200,
            {"Location": location},
        ),
        {record.home_id},
    )


# --- The pharmacy import (R-FHIR-5, R-RX-12) --------------------------------------------------


def _pharmacy(user):
    pharmacy = pharmacy_of(user)
    if pharmacy is None:
        raise services.ApiError(
            "Only a home's supplying pharmacy sends MedicationRequests: this token is a staff "
            "member's. Prescriptions typed in the home are entered on the screens.",
            code="pharmacy_only",
            status=403,
        )
    return pharmacy


def _model(model, data: dict, kind: str):
    try:
        return model.model_validate(data)
    except (ValidationError, ValueError, TypeError) as e:
        first = str(e).splitlines()
        raise BadRequest(
            f"The {kind} is not valid FHIR R4: " + "; ".join(first[:3])[:400], code="structure"
        ) from None


def _request_input(data: dict, where: str = "") -> services.ImportedLine:
    if not isinstance(data, dict) or data.get("resourceType") != "MedicationRequest":
        got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise BadRequest(
            f"{where}Expected a MedicationRequest, got {str(got)[:40]!r}.", code="structure"
        )
    resource = _model(MedicationRequest, data, f"{where}MedicationRequest")
    try:
        # Kept as the pharmacy sent it, in JSON the database can store (no Decimals).
        stored = json.loads(resource.model_dump_json())
        return services.medication_request_input(resource, raw=stored)
    except services.ApiError as e:
        raise services.ApiError(f"{where}{e.message}", code=e.code, status=e.status) from e


def _request_out(pk: int):
    line = (
        PrescriptionLine.objects.select_related("medicine", "pharmacy_import")
        .prefetch_related("versions", "protocols")
        .get(pk=pk)
    )
    return resources.medication_request(line)


def create_request(request, user):
    """POST MedicationRequest from the supplying pharmacy: a line awaiting check (R-FHIR-5)."""
    pharmacy = _pharmacy(user)
    data = _request_input(_body(request))
    item, created = prescription_import(pharmacy=pharmacy, data=data)
    location = f"{_base(request)}MedicationRequest/{item.line_id}"
    return (
        _json(_request_out(item.line_id), 201 if created else 200, {"Location": location}),
        {item.line.home_id},
    )


@api(methods=("POST",))
def bundle_transaction(request, user):
    """A transaction Bundle of MedicationRequests from the pharmacy: all or nothing
    (R-FHIR-5). Per resident the Bundle is the pharmacy's whole list."""
    pharmacy = _pharmacy(user)
    data = _body(request)
    if data.get("resourceType") != "Bundle":
        raise BadRequest(
            "POST to the base URL takes a transaction Bundle of MedicationRequests.",
            code="structure",
        )
    bundle = _model(Bundle, data, "Bundle")
    if bundle.type != "transaction":
        raise services.ApiError(
            f"Send a Bundle of type transaction, not {bundle.type!r}.", code="bundle_type"
        )
    entries = data.get("entry") or []
    items = []
    for number, (entry, raw) in enumerate(zip(bundle.entry or [], entries, strict=True), 1):
        where = f"Entry {number}: "
        if (
            entry.request is None
            or entry.request.method != "POST"
            or (entry.request.url.rstrip("/") != "MedicationRequest")
        ):
            raise services.ApiError(
                f"{where}each entry must be request POST MedicationRequest.",
                code="bundle_entry_unsupported",
            )
        items.append(_request_input(raw.get("resource"), where))
    results = prescription_import_many(pharmacy=pharmacy, items=items)
    base = _base(request)
    response = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {
                    "fullUrl": f"{base}MedicationRequest/{item.line_id}",
                    "resource": _request_out(item.line_id),
                    "response": {
                        "status": "201 Created" if created else "200 OK",
                        "location": f"MedicationRequest/{item.line_id}",
                    },
                }
                for item, created in results
            ],
        }
    )
    return _json(response), {item.line.home_id for item, _ in results}
