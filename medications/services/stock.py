"""Stock, the CD register and medicine storage (R-STK-1..6, R-CD-1..3, H-5).

Every writer locks the line's `Stock` row (select_for_update) before it appends a movement, so
the running balance never loses an update when two people move the same stock at once; the
database adds a unique (line, seq) and "balance after = before + change" on top.

The administration service calls `stock_on_administration` in its own transaction, so a dose and
its register entry are written together or not at all (R-MAR-9, R-CD-2).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict
from uuid import UUID

from django.db import transaction
from django.db.models import Count, DecimalField, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from emar import permissions
from emar import selectors as core_selectors
from emar.models import CareHome, Role, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append, idempotent, notify

from .. import selectors
from ..models import (
    Administration,
    DiscrepancyKind,
    HomelyMovementKind,
    HomelyRemedy,
    HomelyRemedyDose,
    HomelyRemedyMovement,
    HomelyRemedyStock,
    LineStatus,
    LocationKind,
    Medicine,
    MovementKind,
    Outcome,
    PrescriptionLine,
    ScheduledDose,
    Stock,
    StockCheck,
    StockDiscrepancy,
    StockMovement,
    StorageLocation,
    TemperatureReading,
)

__all__ = [
    "CD_INFORM",
    "CdRegisterPage",
    "Forecast",
    "RegisterEntry",
    "StockError",
    "StockLevel",
    "StockResult",
    "cd_register_entries",
    "cd_register_pages",
    "homely_stock_on_give",
    "homely_stock_receive",
    "stock_check",
    "stock_correct",
    "stock_dispose",
    "stock_forecast",
    "stock_levels",
    "stock_on_administration",
    "stock_on_correction",
    "stock_receive",
    "stock_reorder_list",
    "stock_transfer",
    "storage_location_create",
    "temperature_month",
    "temperature_record",
]

LOW_DAYS = 7  # R-STK-4: default reorder threshold
CYCLE_DAYS = 28
MAX_QUANTITY = Decimal("100000")

# R-CD-3: who must be told about a CD discrepancy.
CD_INFORM = (
    "the controlled drugs accountable officer (CDAO) for the area",
    "the police, where theft or diversion is suspected",
    "CQC (a statutory notification)",
)


class StockError(DomainError):
    """A stock rule refused the action; `code` is stable (tests and views use it)."""


@dataclass
class StockResult:
    movement: StockMovement | None
    warning: str = ""
    discrepancy: StockDiscrepancy | None = None


# --- helpers -------------------------------------------------------------------------------------


def _people(home: CareHome, roles: tuple[str, ...]) -> list[User]:
    return list(core_selectors.staff_of_home(home, roles))


def _managers(home: CareHome) -> list[User]:
    return _people(home, (Role.MANAGER,)) or _people(home, (Role.SENIOR,))


def _unit(line: PrescriptionLine) -> str:
    return line.get_dose_unit_display()


def _num(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def _locked_stock(line: PrescriptionLine, *, line_locked: bool = False) -> Stock:
    """The line's balance row, created on first use, locked for this transaction.

    The line row is locked first, as the administration service does: a movement's foreign key
    to the line needs a share lock on it, so taking the locks in the other order deadlocks
    against a dose being recorded at the same moment. `line_locked`: the caller already holds
    that lock (`administration_record`), so the common case is one query."""
    if not line_locked:
        PrescriptionLine.objects.select_for_update().filter(pk=line.pk).values_list("pk").first()
    if stock := Stock.objects.select_for_update().filter(line_id=line.pk).first():
        return stock
    Stock.objects.get_or_create(
        line_id=line.pk, defaults={"home_id": line.home_id, "resident_id": line.resident_id}
    )
    return Stock.objects.select_for_update().get(line_id=line.pk)


def _move(
    *,
    stock: Stock,
    line: PrescriptionLine,
    kind: str,
    change: Decimal,
    by: User,
    at: dt.datetime,
    **fields,
) -> StockMovement:
    """Append one movement to a locked stock row and move its balance."""
    now = timezone.now()
    before = stock.balance
    stock.seq += 1
    stock.balance = before + change
    stock.updated_at = now
    movement = StockMovement.objects.create(
        home_id=line.home_id,
        resident_id=line.resident_id,
        line=line,
        seq=stock.seq,
        kind=kind,
        change=change,
        balance_before=before,
        balance_after=stock.balance,
        at=at,
        recorded_at=now,
        by=by,
        **fields,
    )
    stock.save(update_fields=["seq", "balance", "updated_at"])
    return movement


def _require_manager(by: User, home: CareHome) -> None:
    if not permissions.has_perm(by, Perm.MANAGE_STOCK, home):
        raise StockError("Your role cannot manage stock in this home.", code="not_allowed")


def _check_quantity(quantity: Decimal | None) -> Decimal:
    if quantity is None or quantity <= 0:
        raise StockError("The quantity must be more than zero.", code="quantity_not_positive")
    if quantity >= MAX_QUANTITY:
        raise StockError("That quantity is too large.", code="quantity_too_large")
    return quantity


def _check_witness(
    *, home: CareHome, by: User, witness: User | None, needed: bool, what: str
) -> None:
    """A second, different member of staff of the home (R-CD-2, R-CD-3, R-STK-5)."""
    if witness is None:
        if needed:
            raise StockError(
                f"{what} needs a second member of staff as witness.", code="witness_required"
            )
        return
    if witness.pk == by.pk:
        raise StockError("The witness must be a different person.", code="witness_same_person")
    if not permissions.has_perm(witness, Perm.WITNESS_CD, home):
        raise StockError(f"{witness} is not staff of this home.", code="witness_not_staff")


def _check_at(home: CareHome, at: dt.datetime | None) -> dt.datetime:
    now = timezone.now()
    at = at or now
    if at > now + dt.timedelta(minutes=1):
        raise StockError("The date cannot be in the future.", code="future_time")
    if at < now - dt.timedelta(days=31):
        raise StockError("Entries more than a month back are made as a correction.", code="too_old")
    return at


def _audit(movement: StockMovement, by: User, **extra) -> None:
    audit_append(
        home=movement.home_id,
        actor=by,
        action=f"stock.{movement.kind}",
        record=movement,
        after={
            "line": movement.line_id,
            "seq": movement.seq,
            "change": movement.change,
            "balance_after": movement.balance_after,
            "witness": movement.witness_id,
            **extra,
        },
    )


# --- receipts, disposals, checks and corrections (R-STK-1, R-STK-3, R-STK-5, R-CD-2) ------------


@idempotent(StockMovement, scope=lambda line, **_: {"line_id": line.pk})
@transaction.atomic
def stock_receive(
    *,
    line: PrescriptionLine,
    by: User,
    quantity: Decimal,
    pharmacy: str = "",
    at: dt.datetime | None = None,
    batch: str = "",
    expiry: dt.date | None = None,
    witness: User | None = None,
    carried_forward: bool = False,
    note: str = "",
    idempotency_key: UUID | None = None,
) -> StockMovement:
    """Book stock in: a receipt from the pharmacy (supplier, batch, expiry) or what is carried
    forward from the last cycle (R-STK-1). A register CD needs a witness (R-CD-2)."""
    home = line.home
    _require_manager(by, home)
    quantity = _check_quantity(quantity)
    at = _check_at(home, at)
    if line.status == LineStatus.STOPPED:
        raise StockError("This line is stopped: return its stock instead.", code="line_stopped")
    pharmacy = pharmacy.strip()
    if not carried_forward and not pharmacy:
        raise StockError("Say which pharmacy or supplier it came from.", code="supplier_required")
    if expiry is not None and expiry < at.astimezone(home.tz).date():
        raise StockError("This stock is past its expiry date: do not book it in.", code="expired")
    _check_witness(
        home=home,
        by=by,
        witness=witness,
        needed=line.medicine.cd_register,
        what="Booking in a controlled drug",
    )
    stock = _locked_stock(line)
    movement = _move(
        stock=stock,
        line=line,
        kind=MovementKind.CARRIED_FORWARD if carried_forward else MovementKind.RECEIVED,
        change=quantity,
        by=by,
        at=at,
        witness=witness,
        pharmacy=pharmacy[:200],
        batch=batch.strip()[:60],
        expiry=expiry,
        reason=note.strip(),
        idempotency_key=idempotency_key,
    )
    _audit(movement, by, pharmacy=movement.pharmacy, batch=movement.batch, expiry=expiry)
    return movement


@idempotent(StockMovement, scope=lambda line, **_: {"line_id": line.pk})
@transaction.atomic
def stock_dispose(
    *,
    line: PrescriptionLine,
    by: User,
    kind: str,
    quantity: Decimal,
    reason: str,
    witness: User | None,
    destination: str = "",
    receipt_ref: str = "",
    at: dt.datetime | None = None,
    idempotency_key: UUID | None = None,
) -> StockMovement:
    """Return stock to the pharmacy or destroy it, with the reason, destination, pharmacy
    receipt reference, who and a witness (R-STK-5). Never more than the ledger holds: count
    it first (a stock check) when the ledger is wrong."""
    home = line.home
    _require_manager(by, home)
    if kind not in (MovementKind.RETURNED, MovementKind.DESTROYED):
        raise StockError("Choose returned or destroyed.", code="bad_kind")
    quantity = _check_quantity(quantity)
    at = _check_at(home, at)
    if not reason.strip():
        raise StockError("Say why it is returned or destroyed.", code="reason_required")
    if kind == MovementKind.RETURNED and not destination.strip():
        raise StockError("Say where it was returned to.", code="destination_required")
    _check_witness(home=home, by=by, witness=witness, needed=True, what="A return or disposal")
    stock = _locked_stock(line)
    if quantity > stock.balance:
        raise StockError(
            f"The ledger holds {_num(stock.balance)} {_unit(line)}: count the stock first "
            "(stock check) if there is more.",
            code="more_than_in_stock",
        )
    movement = _move(
        stock=stock,
        line=line,
        kind=kind,
        change=-quantity,
        by=by,
        at=at,
        witness=witness,
        reason=reason.strip(),
        destination=destination.strip()[:200],
        receipt_ref=receipt_ref.strip()[:100],
        idempotency_key=idempotency_key,
    )
    _audit(movement, by, reason=movement.reason, destination=movement.destination)
    return movement


def _transfer_scope(from_line, **_):
    return {"line_id": from_line.pk}


@idempotent(StockMovement, scope=_transfer_scope)
@transaction.atomic
def stock_transfer(
    *,
    from_line: PrescriptionLine,
    to_line: PrescriptionLine,
    by: User,
    witness: User | None = None,
    at: dt.datetime | None = None,
    idempotency_key: UUID | None = None,
) -> StockMovement:
    """The supply follows the medicine (R-STK-8): when a line is replaced by a new one for the
    same product (a dose change), the whole balance moves to the new line by a transfer entry
    on both ledgers (and so on the CD register, with a witness for a CD), never by a pretend
    return or destruction. Returns the entry on the old line."""
    home = from_line.home
    _require_manager(by, home)
    at = _check_at(home, at)
    if from_line.pk == to_line.pk:
        raise StockError("Choose the new line to move the supply to.", code="same_line")
    if from_line.resident_id != to_line.resident_id:
        raise StockError(
            "A resident's supply can only move to another line of the same resident.",
            code="other_resident",
        )
    if from_line.medicine_id != to_line.medicine_id:
        raise StockError(
            "The new line is for another product: return or destroy this supply instead.",
            code="other_product",
        )
    if to_line.status == LineStatus.STOPPED:
        raise StockError("The new line is stopped.", code="line_stopped")
    _check_witness(
        home=home,
        by=by,
        witness=witness,
        needed=from_line.medicine.cd_register,
        what="Moving a controlled drug to a new line",
    )
    # Both rows locked in the same order whoever transfers, so two transfers cannot deadlock.
    first, second = sorted((from_line, to_line), key=lambda ln: ln.pk)
    stocks = {first.pk: _locked_stock(first), second.pk: _locked_stock(second)}
    source = stocks[from_line.pk]
    if source.balance <= 0:
        raise StockError(
            f"The previous line holds {_num(source.balance)} {_unit(from_line)}: nothing to move.",
            code="nothing_to_transfer",
        )
    quantity = source.balance
    reason = f"Dose change: supply moves to the new line ({to_line.dose_text})"
    out = _move(
        stock=source,
        line=from_line,
        kind=MovementKind.TRANSFER_OUT,
        change=-quantity,
        by=by,
        at=at,
        witness=witness,
        reason=reason,
        transfer_line=to_line,
        idempotency_key=idempotency_key,
    )
    into = _move(
        stock=stocks[to_line.pk],
        line=to_line,
        kind=MovementKind.TRANSFER_IN,
        change=quantity,
        by=by,
        at=at,
        witness=witness,
        reason=f"Dose change: supply from the previous line ({from_line.dose_text})",
        transfer_line=from_line,
    )
    _audit(out, by, to_line=to_line.pk)
    _audit(into, by, from_line=from_line.pk)
    return out


@idempotent(StockCheck, scope=lambda line, **_: {"line_id": line.pk})
@transaction.atomic
def stock_check(
    *,
    line: PrescriptionLine,
    by: User,
    counted: Decimal,
    witness: User | None = None,
    note: str = "",
    theft_suspected: bool = False,
    idempotency_key: UUID | None = None,
) -> StockCheck:
    """Count the stock against the ledger (R-STK-3). Two people for a CD (R-CD-3). The count
    is an entry on the ledger (an adjustment, zero when it agrees); a difference records a
    discrepancy and tells the manager — for a CD, who must be informed."""
    home = line.home
    _require_manager(by, home)
    if counted is None or counted < 0 or counted >= MAX_QUANTITY:
        raise StockError("Enter the number counted (0 or more).", code="bad_count")
    is_cd = line.medicine.cd_register
    _check_witness(home=home, by=by, witness=witness, needed=is_cd, what="A CD stock check")
    stock = _locked_stock(line)
    expected = stock.balance
    difference = counted - expected
    words = f"Stock check: counted {_num(counted)}, expected {_num(expected)}"
    if note.strip():
        words += f". {note.strip()}"
    movement = _move(
        stock=stock,
        line=line,
        kind=MovementKind.ADJUSTED,
        change=difference,
        by=by,
        at=timezone.now(),
        witness=witness,
        reason=words,
    )
    check = StockCheck.objects.create(
        home=home,
        line=line,
        movement=movement,
        expected=expected,
        counted=counted,
        at=movement.at,
        by=by,
        witness=witness,
        note=note.strip(),
        idempotency_key=idempotency_key,
    )
    _audit(movement, by, counted=counted, expected=expected)
    if difference:
        discrepancy = StockDiscrepancy.objects.create(
            home=home,
            resident_id=line.resident_id,
            line=line,
            kind=DiscrepancyKind.COUNT,
            controlled_drug=is_cd,
            expected=expected,
            found=counted,
            movement=movement,
            check_record=check,
            theft_suspected=theft_suspected,
            note=note.strip(),
            raised_by=by,
        )
        _tell_manager(discrepancy, line)
    return check


@idempotent(StockMovement, scope=lambda movement, **_: {"corrects_id": movement.pk})
@transaction.atomic
def stock_correct(
    *,
    movement: StockMovement,
    by: User,
    change: Decimal,
    reason: str,
    witness: User | None = None,
    idempotency_key: UUID | None = None,
) -> StockMovement:
    """A dated, signed correcting entry for a wrong entry (R-CD-2): the original stays."""
    line = movement.line
    home = line.home
    _require_manager(by, home)
    if not reason.strip():
        raise StockError("Say what was wrong with the entry.", code="reason_required")
    if change is None or change == 0 or abs(change) >= MAX_QUANTITY:
        raise StockError("Enter how much the entry was out by (+ or −).", code="bad_change")
    _check_witness(
        home=home,
        by=by,
        witness=witness,
        needed=line.medicine.cd_register,
        what="Correcting a CD register entry",
    )
    stock = _locked_stock(line)
    correction = _move(
        stock=stock,
        line=line,
        kind=MovementKind.ADJUSTED,
        change=change,
        by=by,
        at=timezone.now(),
        witness=witness,
        reason=f"Correction of entry {movement.seq} ({movement.at.astimezone(home.tz):%d %b %Y}): "
        f"{reason.strip()}",
        corrects=movement,
        idempotency_key=idempotency_key,
    )
    _audit(correction, by, corrects=movement.pk, reason=reason.strip())
    return correction


def _tell_manager(discrepancy: StockDiscrepancy, line: PrescriptionLine) -> None:
    home = line.home
    title = (
        f"{'CD ' if discrepancy.controlled_drug else ''}stock discrepancy: "
        f"{line.medicine.name} for {line.resident}"
    )
    if discrepancy.kind == DiscrepancyKind.COUNT:
        body = (
            f"Counted {_num(discrepancy.found)} {_unit(line)}, the ledger expected "
            f"{_num(discrepancy.expected)}. Investigate and record it as an incident."
        )
    else:
        body = (
            f"A dose was recorded when the ledger held {_num(discrepancy.found)} "
            f"{_unit(line)}: count the stock and book in any supply not recorded."
        )
    if discrepancy.controlled_drug:
        body += " This is a controlled drug: inform " + "; ".join(CD_INFORM) + "."
    notify(
        recipients=_managers(home),
        home=home,
        kind=f"stock_{discrepancy.kind}",
        subject=f"line:{line.pk}",
        window=str(discrepancy.pk)
        if discrepancy.kind == DiscrepancyKind.COUNT
        else home.local_today().isoformat(),
        title=title,
        body=body,
        link=reverse("medications:stock_line", args=[line.pk]),
        urgent=True,
    )


# --- the MAR moves stock (R-STK-1, R-STK-2, R-MAR-6 codes D and U) ------------------------------


def stock_effect(record: Administration) -> tuple[str | None, Decimal]:
    """What a MAR record does to stock: (movement kind, signed change)."""
    if record.outcome == Outcome.GIVEN and record.quantity:
        return MovementKind.ADMINISTERED, -record.quantity
    if record.code is not None and record.code.destroys_dose:
        return MovementKind.DESTROYED, -_prepared(record)
    return None, Decimal(0)


def _prepared(record: Administration) -> Decimal:
    """The dose that was prepared (and then destroyed, code D)."""
    if record.dose is not None and record.dose.dose is not None:
        return record.dose.dose
    return record.line.dose


def stock_on_administration(*, record: Administration) -> StockResult:
    """Called by `administration_record` in its transaction, right after the record is saved.

    Given → an administered movement; code D → the prepared dose destroyed; code U → a stock
    alert to the seniors and manager, once per line per day. A dose the ledger cannot cover
    still records (the resident had it) but records a discrepancy and warns (R-STK-2).
    """
    line = record.line
    code = record.code
    kind, change = stock_effect(record)
    if code is not None and code.raises_stock_alert:
        _stock_alert(line)
    if kind is None:
        return StockResult(None)
    stock = _locked_stock(line, line_locked=True)  # administration_record locked the line
    movement = _move(
        stock=stock,
        line=line,
        kind=kind,
        change=change,
        by=record.recorded_by,
        at=record.administered_at,
        witness=record.witness,
        administration=record,
        reason=f"Code {code.code}: {code.label}" if code is not None else "",
    )
    if movement.balance_after >= 0:
        return StockResult(movement)
    discrepancy = StockDiscrepancy.objects.create(
        home_id=line.home_id,
        resident_id=line.resident_id,
        line=line,
        kind=DiscrepancyKind.NEGATIVE_BALANCE,
        controlled_drug=line.medicine.cd_register,
        expected=-change,
        found=movement.balance_before,
        movement=movement,
        raised_by=record.recorded_by,
    )
    _tell_manager(discrepancy, line)
    warning = (
        f"Stock of {line.medicine.name} is now {_num(movement.balance_after)} {_unit(line)}: "
        "the ledger did not hold this dose. A discrepancy is recorded — count the stock and "
        "book in any supply that was not recorded."
    )
    record.stock_warning = warning  # the caller may show it
    return StockResult(movement, warning, discrepancy)


def _stock_alert(line: PrescriptionLine) -> None:
    home = line.home
    notify(
        recipients=_people(home, (Role.SENIOR, Role.MANAGER)),
        home=home,
        kind="stock_alert",
        subject=f"line:{line.pk}",
        window=home.local_today().isoformat(),
        title=f"Out of stock: {line.medicine.name} for {line.resident}",
        body="A dose was not given because it was unavailable (code U). Order it from the "
        "pharmacy today and tell the prescriber if a dose will be missed.",
        link=reverse("medications:stock_line", args=[line.pk]),
        urgent=True,
    )


def stock_on_correction(*, original: Administration, record: Administration) -> StockResult:
    """A MAR correction (R-MAR-4) moves the difference between what the two records did to
    stock, as an adjustment with the correction's reason."""
    _, before = stock_effect(original)
    _, after = stock_effect(record)
    change = after - before
    if not change:
        return StockResult(None)
    line = record.line
    stock = _locked_stock(line)
    movement = _move(
        stock=stock,
        line=line,
        kind=MovementKind.ADJUSTED,
        change=change,
        by=record.recorded_by,
        at=record.recorded_at,
        witness=record.witness,
        administration=record,
        reason=f"MAR correction: {record.correction_reason}",
    )
    return StockResult(movement)


# --- the home's supply of homely remedies (R-MAR-11) ---------------------------------------------


def _locked_homely_stock(remedy: HomelyRemedy) -> HomelyRemedyStock:
    """The remedy's balance row, created on first use, locked for this transaction."""
    HomelyRemedyStock.objects.get_or_create(
        remedy_id=remedy.pk, defaults={"home_id": remedy.home_id}
    )
    return HomelyRemedyStock.objects.select_for_update().get(remedy_id=remedy.pk)


def _homely_move(
    *, stock: HomelyRemedyStock, kind: str, change: Decimal, by: User, at: dt.datetime, **fields
) -> HomelyRemedyMovement:
    """Append one movement to a locked homely remedy stock row and move its balance."""
    now = timezone.now()
    before = stock.balance
    stock.seq += 1
    stock.balance = before + change
    stock.updated_at = now
    movement = HomelyRemedyMovement.objects.create(
        home_id=stock.home_id,
        remedy_id=stock.remedy_id,
        seq=stock.seq,
        kind=kind,
        change=change,
        balance_before=before,
        balance_after=stock.balance,
        at=at,
        recorded_at=now,
        by=by,
        **fields,
    )
    stock.save(update_fields=["seq", "balance", "updated_at"])
    return movement


@idempotent(HomelyRemedyMovement, scope=lambda remedy, **_: {"remedy_id": remedy.pk})
@transaction.atomic
def homely_stock_receive(
    *,
    remedy: HomelyRemedy,
    by: User,
    quantity: Decimal,
    note: str = "",
    idempotency_key: UUID | None = None,
) -> HomelyRemedyMovement:
    """Book the home's own supply of a homely remedy in (R-MAR-11)."""
    home = remedy.home
    _require_manager(by, home)
    quantity = _check_quantity(quantity)
    stock = _locked_homely_stock(remedy)
    movement = _homely_move(
        stock=stock,
        kind=HomelyMovementKind.RECEIVED,
        change=quantity,
        by=by,
        at=timezone.now(),
        note=note.strip(),
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=home,
        actor=by,
        action="stock.homely_received",
        record=movement,
        after={
            "remedy": remedy.medicine.name,
            "seq": movement.seq,
            "change": movement.change,
            "balance_after": movement.balance_after,
            "note": movement.note,
        },
    )
    return movement


def homely_stock_on_give(*, dose: HomelyRemedyDose) -> str:
    """Called by `homely_remedy_give` in its transaction: the dose leaves the home's supply.
    A dose the ledger cannot cover still records (the resident had it), the balance goes
    negative on the ledger, the manager is told and the warning is returned (as R-STK-2 does
    for a line)."""
    remedy = dose.remedy
    stock = _locked_homely_stock(remedy)
    movement = _homely_move(
        stock=stock,
        kind=HomelyMovementKind.GIVEN,
        change=-dose.quantity,
        by=dose.recorded_by,
        at=dose.administered_at,
        dose=dose,
    )
    if movement.balance_after >= 0:
        return ""
    home = remedy.home
    notify(
        recipients=_managers(home),
        home=home,
        kind="stock_negative_balance",
        subject=f"homely_remedy:{remedy.pk}",
        window=home.local_today().isoformat(),
        title=f"Homely remedy stock discrepancy: {remedy.medicine.name}",
        body=f"A dose was recorded when the ledger held {_num(movement.balance_before)} "
        f"{remedy.get_dose_unit_display()}: count the stock and book in any supply not recorded.",
        link=reverse("medications:homely_stock", args=[home.pk]),
        urgent=True,
    )
    return (
        f"Stock of {remedy.medicine.name} (homely remedy) is now "
        f"{_num(movement.balance_after)} {remedy.get_dose_unit_display()}: the ledger did not "
        "hold this dose. Count the stock and book in any supply that was not recorded."
    )


# --- balances and forecasts (R-STK-2, R-STK-4) ---------------------------------------------------


@dataclass(frozen=True)
class StockLevel:
    balance: Decimal
    per_day: Decimal | None  # from the recent schedule; None for PRN / nothing scheduled
    booked: bool  # any stock was ever booked in

    @property
    def days_left(self) -> int | None:
        if not self.per_day:
            return None
        return max(0, math.floor(self.balance / self.per_day))

    @property
    def out(self) -> bool:
        return self.balance <= 0

    @property
    def low(self) -> bool:
        return self.out or (self.days_left is not None and self.days_left < LOW_DAYS)


def stock_levels(*, line_ids: list[int], today: dt.date) -> dict[int, StockLevel]:
    """Balance and daily use of many lines in two indexed queries (the round screen, R-STK-2).

    Daily use is what was scheduled over the last 7 days (index `dose_line_day`)."""
    if not line_ids:
        return {}
    balances = dict(Stock.objects.filter(line_id__in=line_ids).values_list("line_id", "balance"))
    used = {
        row["line_id"]: row
        for row in ScheduledDose.objects.filter(
            line_id__in=line_ids,
            local_date__gt=today - dt.timedelta(days=7),
            local_date__lte=today,
            cancelled_at__isnull=True,
        )
        .values("line_id")
        .annotate(
            s=Sum(Coalesce("dose", "line__dose"), output_field=DecimalField()),
            n=Count("local_date", distinct=True),
        )
    }
    levels = {}
    for pk in line_ids:
        balance = balances.get(pk)
        row = used.get(pk)
        per_day = (
            (Decimal(row["s"]) / row["n"]).quantize(Decimal("0.001"))
            if row and row["s"] and row["n"]
            else None
        )
        levels[pk] = StockLevel(
            balance=balance if balance is not None else Decimal(0),
            per_day=per_day,
            booked=balance is not None,
        )
    return levels


@dataclass
class Forecast:
    line: PrescriptionLine
    balance: Decimal
    need_cycle: Decimal  # scheduled over the next 28 days
    runs_out: dt.date | None  # the first day a scheduled dose is not covered
    days_left: int | None  # None: lasts the whole cycle, or PRN

    @property
    def per_day(self) -> Decimal:
        return (self.need_cycle / CYCLE_DAYS).quantize(Decimal("0.01"))

    @property
    def to_order(self) -> Decimal:
        """Enough for the next 28-day cycle, in whole units."""
        short = self.need_cycle - max(self.balance, Decimal(0))
        return Decimal(math.ceil(short)) if short > 0 else Decimal(0)

    @property
    def low(self) -> bool:
        if self.line.is_prn:
            return self.balance <= 0
        return self.days_left is not None


def stock_forecast(
    *, home: CareHome, now: dt.datetime | None = None, days: int = CYCLE_DAYS
) -> list[Forecast]:
    """Days of stock left for each live line, walking its schedule for the next `days` days
    (R-STK-4): the date the first scheduled dose is not covered by the balance."""
    now = now or timezone.now()
    today = now.astimezone(home.tz).date()
    due = selectors.doses_due(home=home, start=today, end=today + dt.timedelta(days=days - 1))
    by_line: dict[int, list] = {}
    lines: dict[int, PrescriptionLine] = {}
    for d in due:
        if d.at < now:
            continue  # already given (and moved) or missed today
        by_line.setdefault(d.line.pk, []).append(d)
        lines[d.line.pk] = d.line
    for line in selectors.prn_lines(home=home):
        lines.setdefault(line.pk, line)
    balances = dict(Stock.objects.filter(line_id__in=lines).values_list("line_id", "balance"))
    result = []
    for pk, line in lines.items():
        balance = balances.get(pk, Decimal(0))
        remaining, runs_out, need = balance, None, Decimal(0)
        for d in by_line.get(pk, []):
            q = d.dose if d.dose is not None else (line.dose_max or line.dose)
            need += q
            remaining -= q
            if remaining < 0 and runs_out is None:
                runs_out = d.local_date
        result.append(
            Forecast(
                line=line,
                balance=balance,
                need_cycle=need,
                runs_out=runs_out,
                days_left=(runs_out - today).days if runs_out else None,
            )
        )
    result.sort(
        key=lambda f: (f.line.resident.room, f.line.resident.full_name, f.line.medicine.name)
    )
    return result


def stock_reorder_list(
    *, home: CareHome, threshold: int = LOW_DAYS, now: dt.datetime | None = None
) -> list[Forecast]:
    """Lines to order for the next cycle: fewer than `threshold` days left, or a PRN line with
    none left (R-STK-4)."""
    return [
        f
        for f in stock_forecast(home=home, now=now)
        if (f.line.is_prn and f.balance <= 0)
        or (f.days_left is not None and f.days_left < threshold)
    ]


# --- the CD register (R-CD-1, R-CD-2) ----------------------------------------------------------


@dataclass
class RegisterEntry:
    movement: StockMovement
    what: str
    detail: str
    balance: Decimal  # running balance of the page (all lines of the product)

    @property
    def entered_late(self) -> bool:
        """Written up more than an hour after the event: the register shows when."""
        return self.movement.recorded_at - self.movement.at > dt.timedelta(hours=1)


class CdRegisterPage(TypedDict):
    """One resident's page of the CD register for one product (the values `cd_register_pages`
    reads)."""

    resident_id: int
    resident__full_name: str
    resident__room: str
    line__medicine_id: int
    line__medicine__name: str
    balance: Decimal  # the sum of the resident's ledgers of the product
    entries: int


def cd_register_pages(*, home: CareHome) -> list[CdRegisterPage]:
    """One page per resident per register product, with its current balance."""
    rows = (
        Stock.objects.filter(home=home, line__medicine__cd_register=True)
        .values(
            "resident_id",
            "resident__full_name",
            "resident__room",
            "line__medicine_id",
            "line__medicine__name",
        )
        .annotate(balance=Sum("balance"), entries=Sum("seq"))
        .order_by("resident__full_name", "line__medicine__name")
    )
    return list(rows)


def _describe(m: StockMovement, tz) -> tuple[str, str]:
    if m.kind == MovementKind.CARRIED_FORWARD:
        return "Carried forward", m.reason
    if m.kind == MovementKind.RECEIVED:
        detail = f"From {m.pharmacy}"
        if m.batch:
            detail += f"; batch {m.batch}"
        if m.expiry:
            detail += f"; expires {m.expiry:%d %b %Y}"
        return "Received", detail
    if m.kind == MovementKind.ADMINISTERED:
        a = m.administration
        if a is not None and a.dose is not None:
            return "Administered", f"{a.dose.local_time:%H:%M} dose"
        return "Administered", "PRN dose" if a is not None and a.line.is_prn else ""
    if m.kind == MovementKind.DESTROYED:
        return "Destroyed", " ".join(x for x in (m.reason, m.destination) if x)
    if m.kind == MovementKind.TRANSFER_OUT:
        return "Transferred", f"To the new line: {m.reason}"
    if m.kind == MovementKind.TRANSFER_IN:
        return "Transferred", f"From the previous line: {m.reason}"
    if m.kind == MovementKind.RETURNED:
        ref = f" (receipt {m.receipt_ref})" if m.receipt_ref else ""
        return "Returned", f"To {m.destination}{ref}: {m.reason}"
    if hasattr(m, "stock_check"):
        c = m.stock_check
        if c.counted == c.expected:
            return "Check", f"Counted {_num(c.counted)}: correct"
        return "Check — discrepancy", f"Counted {_num(c.counted)}, expected {_num(c.expected)}"
    return "Correction", m.reason


def cd_register_entries(*, resident, medicine: Medicine) -> list[RegisterEntry]:
    """The page for one resident and one product: every entry in the order it was written,
    with the running balance (R-CD-1, R-CD-2)."""
    movements = (
        StockMovement.objects.filter(resident=resident, line__medicine=medicine)
        .select_related(
            "by",
            "witness",
            "resident",
            "administration",
            "administration__dose",
            "administration__line",
            "stock_check",
            "corrects",
        )
        .order_by("recorded_at", "pk")
    )
    tz = resident.home.tz
    entries, running = [], Decimal(0)
    for m in movements:
        running += m.change
        what, detail = _describe(m, tz)
        entries.append(RegisterEntry(m, what, detail, running))
    return entries


# --- medicine storage temperatures (R-STK-6) ----------------------------------------------------


@transaction.atomic
def storage_location_create(*, home: CareHome, by: User, name: str, kind: str) -> StorageLocation:
    _require_manager(by, home)
    name = name.strip()
    if not name or kind not in LocationKind.values:
        raise StockError("Give the fridge or room a name and a kind.", code="bad_location")
    if StorageLocation.objects.filter(home=home, name__iexact=name).exists():
        raise StockError("There is already a location with that name.", code="duplicate")
    location = StorageLocation.objects.create(home=home, name=name[:100], kind=kind)
    audit_append(
        home=home,
        actor=by,
        action="storage.location_created",
        obj=location,
        after={"name": location.name, "kind": kind},
    )
    return location


@idempotent(TemperatureReading, scope=lambda location, **_: {"location_id": location.pk})
@transaction.atomic
def temperature_record(
    *,
    location: StorageLocation,
    by: User,
    current: Decimal,
    minimum: Decimal,
    maximum: Decimal,
    reset_confirmed: bool,
    action_taken: str = "",
    taken_at: dt.datetime | None = None,
    idempotency_key: UUID | None = None,
) -> TemperatureReading:
    """A daily reading (R-STK-6). A fridge outside 2 to 8 °C or a room above 25 °C cannot be saved
    without the action taken; the manager is told about an excursion, once a day per place."""
    home = location.home
    _require_manager(by, home)
    taken_at = _check_at(home, taken_at)
    for value in (current, minimum, maximum):
        if value is None or not (Decimal(-30) <= value <= Decimal(60)):
            raise StockError("Enter temperatures in °C between −30 and 60.", code="bad_reading")
    if not (minimum <= current <= maximum):
        raise StockError(
            "The minimum must be at or below the current reading, and the maximum at or above.",
            code="bad_range",
        )
    if not reset_confirmed:
        raise StockError(
            "Reset the thermometer's minimum and maximum after reading, and confirm it.",
            code="reset_required",
        )
    reading = TemperatureReading(
        home=home,
        location=location,
        kind=location.kind,
        local_date=taken_at.astimezone(home.tz).date(),
        taken_at=taken_at,
        current=current,
        minimum=minimum,
        maximum=maximum,
        reset_confirmed=True,
        action_taken=action_taken.strip(),
        by=by,
        idempotency_key=idempotency_key,
    )
    if reading.out_of_range and not reading.action_taken:
        limits = "2–8 °C" if location.kind == LocationKind.FRIDGE else "25 °C or below"
        raise StockError(
            f"Out of range ({limits}): say what action was taken (e.g. medicines moved, "
            "pharmacist asked whether they are still usable, engineer called).",
            code="action_required",
        )
    reading.save()
    audit_append(
        home=home,
        actor=by,
        action="storage.temperature",
        record=reading,
        after={
            "location": location.name,
            "current": current,
            "min": minimum,
            "max": maximum,
            "action": reading.action_taken,
        },
    )
    if reading.out_of_range:
        notify(
            recipients=_managers(home),
            home=home,
            kind="temperature_excursion",
            subject=f"location:{location.pk}",
            window=reading.local_date.isoformat(),
            title=f"{location.name}: temperature out of range",
            body=f"Current {current} °C, min {minimum} °C, max {maximum} °C. "
            f"Action taken: {reading.action_taken}",
            link=f"{reverse('medications:temperatures', args=[home.pk])}?location={location.pk}",
            urgent=True,
        )
    return reading


def temperature_month(*, location: StorageLocation, year: int, month: int) -> list[dict]:
    """Each day of a month with its readings (a missing day shows as missing)."""
    first = dt.date(year, month, 1)
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    readings: dict[dt.date, list[TemperatureReading]] = {}
    for r in TemperatureReading.objects.filter(
        location=location, local_date__range=(first, last)
    ).select_related("by"):
        readings.setdefault(r.local_date, []).append(r)
    return [
        {
            "day": first + dt.timedelta(days=i),
            "readings": readings.get(first + dt.timedelta(days=i), []),
        }
        for i in range((last - first).days + 1)
    ]
