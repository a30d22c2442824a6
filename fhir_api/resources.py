"""eMAR records as FHIR R4 resources (R-FHIR-1), built with the `fhir.resources` R4B models so
what the API returns is valid by construction (R-FHIR-3). No rule lives here: only mapping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.html import escape
from fhir.resources.R4B.allergyintolerance import (
    AllergyIntolerance,
    AllergyIntoleranceReaction,
)
from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.dosage import Dosage, DosageDoseAndRate
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import (
    MedicationAdministration,
    MedicationAdministrationDosage,
    MedicationAdministrationPerformer,
)
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.range import Range
from fhir.resources.R4B.ratio import Ratio
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.supplyrequest import SupplyRequest
from fhir.resources.R4B.timing import Timing, TimingRepeat

from emar.models import User
from medications import schedule as sched
from medications.models import (
    Administration,
    LineStatus,
    Medicine,
    OrderItem,
    Outcome,
    PrescriptionLine,
)
from residents.models import Allergy, AllergySeverity, Resident, ResidentStatus

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
DMD = "https://dmd.nhs.uk"
UCUM = "http://unitsofmeasure.org"
PERFORM_FUNCTION = "http://terminology.hl7.org/CodeSystem/med-admin-perform-function"
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ISSUE_DETAILS = "urn:emar:error-code"  # the services' stable error codes (R-FHIR-4)
IDENTIFIER_URN = "urn:ietf:rfc:3986"


def home_code_system(home_id: int) -> str:
    """A home's non-administration codes (R-MAR-6) are its own, so each home is its own
    code system."""
    return f"urn:emar:home:{home_id}:non-administration-code"


def _ref(kind: str, pk, display: str | None = None) -> Reference:
    return Reference(reference=f"{kind}/{pk}", display=display or None)


def _num(value: Decimal) -> Decimal:
    return value.normalize() if value == value.to_integral() else value


def _quantity(value: Decimal, line: PrescriptionLine) -> Quantity:
    return Quantity(value=_num(value), unit=line.get_dose_unit_display(), code=line.dose_unit)


def patient(resident: Resident) -> Patient:
    identifiers = (
        [Identifier(system=NHS_NUMBER, value=resident.nhs_number)] if resident.nhs_number else None
    )
    name = HumanName(use="official", text=resident.full_name)
    names = [name]
    if resident.preferred_name:
        names.append(HumanName(use="usual", text=resident.preferred_name))
    return Patient(
        id=str(resident.pk),
        identifier=identifiers,
        active=resident.status == ResidentStatus.RESIDENT,
        name=names,
        birthDate=resident.date_of_birth,
        managingOrganization=Reference(display=resident.home.name),
    )


def practitioner(user: User) -> Practitioner:
    name = HumanName(
        text=str(user),
        family=user.last_name or None,
        given=[user.first_name] if user.first_name else None,
    )
    return Practitioner(id=str(user.pk), active=user.is_active, name=[name])


_SEVERITY = {
    AllergySeverity.MILD: "mild",
    AllergySeverity.MODERATE: "moderate",
    AllergySeverity.SEVERE: "severe",
    AllergySeverity.LIFE_THREATENING: "severe",
}


def allergy(item: Allergy) -> AllergyIntolerance:
    active = item.removed_at is None
    reaction = None
    if item.reaction:
        reaction = [
            AllergyIntoleranceReaction(
                manifestation=[CodeableConcept(text=item.reaction)],
                severity=_SEVERITY.get(item.severity),
            )
        ]
    return AllergyIntolerance(
        id=str(item.pk),
        clinicalStatus=CodeableConcept(
            coding=[
                Coding(
                    system=CLINICAL_STATUS,
                    code="active" if active else "inactive",
                    display="Active" if active else "Inactive",
                )
            ]
        ),
        criticality="high" if item.severity == AllergySeverity.LIFE_THREATENING else None,
        code=CodeableConcept(text=item.substance),
        patient=_ref("Patient", item.resident_id),
        recordedDate=item.recorded_at,
        reaction=reaction,
    )


def medication_code(medicine: Medicine) -> CodeableConcept:
    """dm+d coding when the product has a code; text only otherwise, never a made-up code."""
    coding = (
        [Coding(system=DMD, code=medicine.dmd_code, display=medicine.name)]
        if medicine.dmd_code
        else None
    )
    return CodeableConcept(coding=coding, text=medicine.name)


def medication(medicine: Medicine) -> Medication:
    return Medication(
        id=str(medicine.pk),
        code=medication_code(medicine),
        status="active" if medicine.active else "inactive",
        form=CodeableConcept(text=medicine.form) if medicine.form else None,
    )


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _timing(line: PrescriptionLine) -> Timing | None:
    versions = getattr(line, "effective_versions", None)
    if versions is None:
        versions = list(
            line.versions.filter(effective_from__isnull=False).order_by("-effective_from", "-pk")
        )
    if not versions:
        return None
    version = versions[0]
    times = sorted(dt.time.fromisoformat(s["time"]) for s in version.slots)
    rule = sched.DayRule(version.days)
    repeat = TimingRepeat(timeOfDay=times or None)
    if rule == sched.DayRule.DAILY:
        repeat.frequency, repeat.period, repeat.periodUnit = len(times) or 1, Decimal(1), "d"
    elif rule == sched.DayRule.EVERY_N_DAYS:
        repeat.frequency, repeat.period, repeat.periodUnit = (
            len(times) or 1,
            Decimal(version.every_n),
            "d",
        )
    elif rule == sched.DayRule.WEEKDAYS:
        repeat.dayOfWeek = [_WEEKDAYS[d] for d in sorted(version.weekdays)]
    return Timing(repeat=repeat, code=CodeableConcept(text=version.describe))


def _prn_limits(line: PrescriptionLine) -> tuple[Ratio | None, str]:
    protocols = getattr(line, "latest_protocols", None)
    if protocols is None:
        protocols = list(line.protocols.order_by("-written_at", "-pk"))
    if not protocols:
        return None, "When required. No PRN protocol yet, so it cannot be given."
    protocol = protocols[0]
    most = line.dose_max if line.dose_max is not None else line.dose
    ratio = Ratio(
        numerator=_quantity(most * protocol.max_doses_24h, line),
        denominator=Quantity(value=Decimal(24), unit="h", system=UCUM, code="h"),
    )
    text = (
        f"When required for {protocol.indication}: at least {protocol.min_interval_minutes} "
        f"minutes between doses, at most {protocol.max_doses_24h} doses in 24 hours."
    )
    return ratio, text


def medication_request(line: PrescriptionLine) -> MedicationRequest:
    if line.status == LineStatus.AWAITING_CHECK:
        status = "draft"
    elif line.status == LineStatus.STOPPED or line.stopped_at is not None:
        status = "stopped"
    else:
        status = "active"
    dose_and_rate = DosageDoseAndRate(
        doseRange=Range(low=_quantity(line.dose, line), high=_quantity(line.dose_max, line))
        if line.dose_max is not None
        else None,
        doseQuantity=_quantity(line.dose, line) if line.dose_max is None else None,
    )
    text = [f"{line.dose_text} {line.get_route_display().lower()}"]
    max_per_period = None
    if line.is_prn:
        max_per_period, limits = _prn_limits(line)
        text.append(limits)
    if line.instructions:
        text.append(line.instructions)
    dosage = Dosage(
        text=". ".join(text),
        timing=None if line.is_prn else _timing(line),
        asNeededBoolean=line.is_prn,
        route=CodeableConcept(text=line.get_route_display()),
        doseAndRate=[dose_and_rate],
        maxDosePerPeriod=max_per_period,
    )
    imported = getattr(line, "pharmacy_import", None)
    identifiers = (
        [Identifier(system=imported.identifier_system or None, value=imported.identifier_value)]
        if imported is not None
        else None
    )
    return MedicationRequest(
        id=str(line.pk),
        identifier=identifiers,
        status=status,
        intent="order",
        medicationReference=_ref("Medication", line.medicine_id, line.medicine.name),
        subject=_ref("Patient", line.resident_id),
        authoredOn=line.entered_at,
        requester=Reference(display=line.prescriber),
        reasonCode=[CodeableConcept(text=line.indication)] if line.indication else None,
        dosageInstruction=[dosage],
    )


def _function(code: str) -> CodeableConcept:
    return CodeableConcept(
        coding=[Coding(system=PERFORM_FUNCTION, code=code, display=code.capitalize())]
    )


def medication_administration(record: Administration) -> MedicationAdministration:
    line = record.line
    identifiers = [Identifier(system=IDENTIFIER_URN, value=f"urn:uuid:{record.idempotency_key}")]
    client = getattr(record, "api_identifier", None)
    if client is not None:
        identifiers.insert(0, Identifier(system=client.system or None, value=client.value))
    if hasattr(record, "corrected_by"):
        status = "entered-in-error"
    elif record.outcome == Outcome.GIVEN:
        status = "completed"
    else:
        status = "not-done"
    status_reason = None
    if record.code_id:
        status_reason = [
            CodeableConcept(
                coding=[
                    Coding(
                        system=home_code_system(record.home_id),
                        code=record.code.code,
                        display=record.code.label,
                    )
                ],
                text=record.code.label,
            )
        ]
    performers = [
        MedicationAdministrationPerformer(
            function=_function("performer"),
            actor=_ref("Practitioner", record.recorded_by_id, str(record.recorded_by)),
        )
    ]
    if record.witness_id:
        performers.append(
            MedicationAdministrationPerformer(
                function=_function("witness"),
                actor=_ref("Practitioner", record.witness_id, str(record.witness)),
            )
        )
    dosage = None
    if record.quantity is not None or record.body_site:
        dosage = MedicationAdministrationDosage(
            dose=_quantity(record.quantity, line) if record.quantity is not None else None,
            site=CodeableConcept(text=record.body_site) if record.body_site else None,
            route=CodeableConcept(text=line.get_route_display()),
        )
    notes = [n for n in (record.note, record.late_reason if record.late else "") if n]
    return MedicationAdministration(
        id=str(record.pk),
        identifier=identifiers,
        status=status,
        statusReason=status_reason,
        medicationReference=_ref("Medication", line.medicine_id),
        subject=_ref("Patient", record.resident_id),
        request=_ref("MedicationRequest", record.line_id),
        effectiveDateTime=record.administered_at,
        performer=performers,
        reasonCode=[CodeableConcept(text=record.prn_reason)] if record.prn_reason else None,
        note=[{"text": n} for n in notes] or None,
        dosage=dosage,
    )


def operation_outcome(
    message: str, *, code: str = "processing", detail: str | None = None, severity: str = "error"
) -> OperationOutcome:
    """One issue; `details.coding[0].code` carries the service's error code (R-FHIR-4)."""
    details = CodeableConcept(
        coding=[Coding(system=ISSUE_DETAILS, code=detail)] if detail else None, text=message
    )
    return OperationOutcome(
        issue=[
            OperationOutcomeIssue(
                severity=severity, code=code, details=details, diagnostics=message
            )
        ]
    )


def searchset(
    resources: list, *, base: str, total: int, self_url: str, next_url: str | None
) -> Bundle:
    links = [BundleLink(relation="self", url=self_url)]
    if next_url:
        links.append(BundleLink(relation="next", url=next_url))
    return Bundle(
        type="searchset",
        total=total,
        link=links,
        entry=[
            BundleEntry(
                fullUrl=f"{base}{r.get_resource_type()}/{r.id}",
                resource=r,
                search=BundleEntrySearch(mode="match"),
            )
            for r in resources
        ]
        or None,
    )


ORDER_SYSTEM = "urn:emar:medicine-order"


def supply_request(item: OrderItem) -> SupplyRequest:
    """One item of an approved medicines order (R-ORD-1): the medicine (dm+d), the quantity,
    the resident it is for (deliverTo), the home that asks and the pharmacy that supplies, the
    order number as identifier and the reason as text."""
    order, line = item.order, item.line
    reason = item.get_basis_display() + (f": {item.reason}" if item.reason else "")
    return SupplyRequest(
        id=str(item.pk),
        identifier=[
            Identifier(system=ORDER_SYSTEM, value=order.number),
            Identifier(system=f"{ORDER_SYSTEM}:item", value=f"{order.number}/{item.pk}"),
        ],
        status="active",
        category=CodeableConcept(text="Medicines order for the 28-day cycle"),
        itemCodeableConcept=medication_code(item.medicine),
        quantity=_quantity(item.quantity, line),
        occurrencePeriod={
            "start": order.cycle_start.isoformat(),
            "end": order.cycle_end.isoformat(),
        },
        authoredOn=order.approved_at,
        requester=_ref(
            "Practitioner", order.approved_by_id, order.approved_by.get_full_name() or None
        )
        if order.approved_by_id and order.approved_by
        else None,
        supplier=[Reference(display=order.pharmacy.name)] if order.pharmacy else None,
        reasonCode=[CodeableConcept(text=reason)],
        deliverTo=_ref("Patient", item.resident_id, item.resident.full_name),
        text={
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(order.home.name)}: '
            f"{escape(item.medicine.name)} x {_num(item.quantity)} for "
            f"{escape(item.resident.full_name)}</div>",
        },
    )
