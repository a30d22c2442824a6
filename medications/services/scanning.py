"""Pack barcodes: GS1 parsing, linking a GTIN to the catalogue, and the check at the round
(R-SCAN-1, H-14).

Keyboard-wedge scanners type the barcode's content and Enter; a camera frame is decoded to the
same text. `scan_parse` reads it with `biip` (a maintained GS1 library, never a hand-written
parser): a GS1 element string from a DataMatrix (FNC1 / GS separators, a symbology prefix such
as `]d2`, or the printed form with parentheses) or a plain EAN-13 / GTIN. A GTIN with a wrong
check digit, or text that is not a barcode, is refused with a `ScanError`.

At booking in (`scan_for_receipt`) an unknown GTIN is linked to the line's product, once, with
who and when; a GTIN already linked to another product refuses the receipt. At the round
(`scan_check_dose`, called by `administration_record`) a pack linked to another product blocks
"Given" with "This is Amlodipine 10 mg; the line is Amlodipine 5 mg"; an expired pack is
recorded with a warning; a home that requires scanning needs a matching scan or a reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from biip import ParseConfig, ParseError, parse
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from django.db import IntegrityError, transaction

from emar import permissions
from emar.models import CareHome, Scanning, User
from emar.permissions import Perm
from emar.services import DomainError, audit_append

from ..models import (
    Administration,
    DoseScan,
    Medicine,
    PrescriptionLine,
    ProductBarcode,
    StockMovement,
)
from .stock import stock_receive

__all__ = [
    "PackCheck",
    "PackScan",
    "ReceiptScan",
    "ScanError",
    "ScanVerdict",
    "barcode_current",
    "barcode_relink",
    "dose_scan_record",
    "scan_check_dose",
    "scan_for_receipt",
    "scan_parse",
    "scan_verdict",
    "stock_receive_scanned",
]

MAX_CODE = 200  # a GS1 DataMatrix on a pack holds well under this
MAX_REASON = 300
GS = "\x1d"
# Scanners that cannot send the GS control character are often set to send one of these.
_SEPARATORS = [GS, "|", "^"]
_CONFIG = ParseConfig(separator_chars=_SEPARATORS)


class ScanError(DomainError):
    """A scan was refused; `code` is stable: scan_empty, scan_too_long, scan_not_a_barcode,
    scan_check_digit, scan_wrong_product, scan_not_linked, scan_required, scan_batch_differs,
    scan_reason_too_long, not_allowed."""


@dataclass(frozen=True)
class PackScan:
    """What a pack's barcode says."""

    code: str  # as scanned, tidied (no symbology prefix, no trailing Enter)
    gtin: str  # always 14 digits: an EAN-13 gets a leading zero
    batch: str = ""
    expiry: dt.date | None = None
    serial: str = ""

    def expired(self, today: dt.date) -> bool:
        return self.expiry is not None and self.expiry < today


@dataclass(frozen=True)
class ReceiptScan:
    scan: PackScan
    link: ProductBarcode
    linked_now: bool  # this receipt linked the GTIN to the product


@dataclass(frozen=True)
class PackCheck:
    """The outcome of the round's check, to be written with the dose (`dose_scan_record`)."""

    scan: PackScan | None
    link: ProductBarcode | None
    expired: bool
    no_scan_reason: str

    def audit(self) -> dict[str, Any]:
        s = self.scan
        return {
            "scan_gtin": s.gtin if s else "",
            "scan_batch": s.batch if s else "",
            "scan_expiry": s.expiry if s else None,
            "scan_serial": s.serial if s else "",
            "scan_expired": self.expired,
            "no_scan_reason": self.no_scan_reason,
        }


@dataclass(frozen=True)
class ScanVerdict:
    """What the scan field shows before anything is saved: ok, warning or error."""

    level: str
    message: str
    scan: PackScan | None = None

    def as_json(self) -> dict[str, Any]:
        s = self.scan
        return {
            "level": self.level,
            "message": self.message,
            "gtin": s.gtin if s else "",
            "batch": s.batch if s else "",
            "expiry": s.expiry.isoformat() if s and s.expiry else "",
            "serial": s.serial if s else "",
        }


# --- Parsing -------------------------------------------------------------------------------------


def _tidy(code: str) -> str:
    code = code.strip().strip("\r\n")
    for prefix in ("]d2", "]C1", "]Q3", "]E0", "]e0"):  # AIM symbology identifiers
        if code.startswith(prefix):
            return code[len(prefix) :]
    return code


def _gtin14(value: str) -> str:
    try:
        return Gtin.parse(value).as_gtin_14()
    except ParseError as e:
        if "check digit" in str(e):
            raise ScanError(
                f"The barcode's product number {value} has a wrong check digit: it was misread. "
                "Scan it again or type it carefully.",
                code="scan_check_digit",
            ) from None
        raise _not_a_barcode() from None


def _not_a_barcode() -> ScanError:
    return ScanError(
        "That is not a medicine pack's barcode (a GS1 DataMatrix or EAN-13): scan the pack's "
        "barcode.",
        code="scan_not_a_barcode",
    )


def scan_parse(*, code: str) -> PackScan:
    """Read a scanned barcode's text (R-SCAN-1): GTIN, batch, expiry and serial."""
    if len(code) > MAX_CODE:
        raise ScanError("That scan is too long for a pack's barcode.", code="scan_too_long")
    code = _tidy(code)
    if not code:
        raise ScanError("Nothing was scanned.", code="scan_empty")
    if code.startswith("("):
        try:
            message = GS1Message.parse_hri(code)
        except ParseError:
            raise _not_a_barcode() from None
        return _from_message(code, message)
    if code.isdigit() and len(code) in (8, 12, 13, 14):
        return PackScan(code=code, gtin=_gtin14(code))
    try:
        result = parse(code, config=_CONFIG)
    except ParseError:
        raise _not_a_barcode() from None
    if result.gs1_message is None:
        raise _not_a_barcode()
    return _from_message(code, result.gs1_message)


def _from_message(code: str, message: GS1Message) -> PackScan:
    strings = message.element_strings
    gtin = strings.get(ai="01")
    if gtin is None:
        raise ScanError(
            "That barcode has no product number (GTIN): scan the barcode on the pack itself.",
            code="scan_not_a_barcode",
        )
    expiry = strings.get(ai="17")
    batch = strings.get(ai="10")
    serial = strings.get(ai="21")
    return PackScan(
        code=code,
        gtin=_gtin14(gtin.value),
        batch=batch.value if batch else "",
        expiry=expiry.date if expiry else None,
        serial=serial.value if serial else "",
    )


# --- Links between GTINs and the catalogue ------------------------------------------------------


def barcode_current(*, gtin: str) -> ProductBarcode | None:
    """The link in force for a GTIN: the newest of its chain (none replaces it)."""
    return (
        ProductBarcode.objects.filter(gtin=gtin, replaced_by__isnull=True)
        .select_related("medicine")
        .first()
    )


def _wrong_product(linked: Medicine, product: Medicine) -> str:
    return f"This is {linked.name}; the line is {product.name}."


def _link(*, gtin: str, product: Medicine, by: User, home: CareHome) -> tuple[ProductBarcode, bool]:
    if link := barcode_current(gtin=gtin):
        return link, False
    try:
        with transaction.atomic():
            link = ProductBarcode.objects.create(gtin=gtin, medicine=product, linked_by=by)
    except IntegrityError:  # someone linked it at the same moment: theirs is the link
        found = barcode_current(gtin=gtin)
        if found is None:
            raise
        return found, False
    audit_append(
        home=home,
        actor=by,
        action="stock.barcode_link",
        record=link,
        after={"gtin": gtin, "medicine": product.pk},
    )
    return link, True


@transaction.atomic
def scan_for_receipt(*, product: Medicine, code: str, by: User, home: CareHome) -> ReceiptScan:
    """A pack scanned at booking in (R-SCAN-1): its GTIN is linked to the product the first
    time (who, when); a GTIN linked to another product refuses the receipt. The goods-in
    screen calls this as the stock line screen does, inside the receipt's transaction."""
    if not permissions.has_perm(by, Perm.MANAGE_STOCK, home):
        raise ScanError("Your role cannot book stock in for this home.", code="not_allowed")
    scan = scan_parse(code=code)
    link, linked_now = _link(gtin=scan.gtin, product=product, by=by, home=home)
    if link.medicine_id != product.pk:
        raise ScanError(
            _wrong_product(link.medicine, product)
            + " Check the pack against the delivery; if the barcode link is wrong, a senior "
            "corrects it.",
            code="scan_wrong_product",
        )
    return ReceiptScan(scan=scan, link=link, linked_now=linked_now)


@transaction.atomic
def barcode_relink(
    *, gtin: str, product: Medicine, by: User, home: CareHome, reason: str
) -> ProductBarcode:
    """Retire a wrong link by a new entry (never an edit): a senior says why."""
    if not permissions.has_perm(by, Perm.MANAGE_STOCK, home):
        raise ScanError("Only a senior can correct a barcode link.", code="not_allowed")
    gtin = _gtin14(gtin)
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ScanError("Say why the link was wrong (up to 300 characters).", code="reason")
    # Two seniors correcting the same link at once: `replaces` is unique, the later one fails.
    old = barcode_current(gtin=gtin)
    if old is None:
        link, _ = _link(gtin=gtin, product=product, by=by, home=home)
        return link
    if old.medicine_id == product.pk:
        return old
    link = ProductBarcode.objects.create(
        gtin=gtin, medicine=product, linked_by=by, replaces=old, reason=reason
    )
    audit_append(
        home=home,
        actor=by,
        action="stock.barcode_relink",
        record=link,
        before={"medicine": old.medicine_id},
        after={"gtin": gtin, "medicine": product.pk, "reason": reason},
    )
    return link


@transaction.atomic
def stock_receive_scanned(
    *,
    line: PrescriptionLine,
    by: User,
    code: str,
    batch: str = "",
    expiry: dt.date | None = None,
    idempotency_key: UUID | None = None,
    **receive: Any,
) -> StockMovement:
    """Book stock in with a scanned pack (R-STK-1, R-SCAN-1): the scan fills the batch and
    expiry, links an unknown GTIN to the line's product, and refuses another product's pack.
    The link and the receipt are written together or not at all."""
    scanned = scan_for_receipt(product=line.medicine, code=code, by=by, home=line.home).scan
    batch = batch.strip()
    if batch and scanned.batch and batch != scanned.batch:
        raise ScanError(
            f"The batch typed ({batch}) is not the scanned pack's ({scanned.batch}).",
            code="scan_batch_differs",
        )
    if expiry and scanned.expiry and expiry != scanned.expiry:
        raise ScanError(
            f"The expiry typed ({expiry:%d/%m/%Y}) is not the scanned pack's "
            f"({scanned.expiry:%d/%m/%Y}).",
            code="scan_batch_differs",
        )
    return stock_receive(
        line=line,
        by=by,
        batch=batch or scanned.batch,
        expiry=expiry or scanned.expiry,
        idempotency_key=idempotency_key,
        **receive,
    )


# --- At the round --------------------------------------------------------------------------------


def scan_check_dose(
    *,
    line: PrescriptionLine,
    home: CareHome,
    code: str,
    no_scan_reason: str,
    today: dt.date,
    late: bool = False,
) -> PackCheck | None:
    """Check the pack in hand against the line's product before "Given" (R-SCAN-1, H-14).

    A pack of another product blocks; an unknown GTIN blocks unless a reason is given; an
    expired pack is recorded with a warning. Where the home requires scanning, "Given" needs a
    matching scan or a reason, except for a late entry (the pack is no longer in hand: the
    record is made afterwards from paper). None: nothing to record."""
    code = code.strip()
    reason = no_scan_reason.strip()
    if len(reason) > MAX_REASON:
        raise ScanError(
            "The reason for no scan is at most 300 characters.", code="scan_reason_too_long"
        )
    if not code:
        if reason:
            return PackCheck(scan=None, link=None, expired=False, no_scan_reason=reason)
        if home.scanning == Scanning.REQUIRED and not late:
            raise ScanError(
                "This home requires a scan of the pack before 'Given': scan the pack, or say "
                "why it cannot be scanned.",
                code="scan_required",
            )
        return None
    scan = scan_parse(code=code)
    link = barcode_current(gtin=scan.gtin)
    if link is None:
        if not reason:
            raise ScanError(
                f"This pack's barcode (GTIN {scan.gtin}) is not linked to a product yet: a "
                "senior links it when booking the stock in. Check the pack by eye and say why "
                "it is given without a matching scan.",
                code="scan_not_linked",
            )
    elif link.medicine_id != line.medicine_id:
        raise ScanError(_wrong_product(link.medicine, line.medicine), code="scan_wrong_product")
    return PackCheck(
        scan=scan,
        link=link,
        expired=scan.expired(today),
        no_scan_reason=reason if link is None else "",
    )


def dose_scan_record(*, record: Administration, check: PackCheck) -> DoseScan:
    """Write the check with the dose, in its transaction (administration_record)."""
    scan = check.scan
    return DoseScan.objects.create(
        administration=record,
        code=scan.code if scan else "",
        gtin=scan.gtin if scan else "",
        batch=scan.batch[:20] if scan else "",
        expiry=scan.expiry if scan else None,
        serial=scan.serial[:20] if scan else "",
        barcode=check.link,
        expired=check.expired,
        no_scan_reason=check.no_scan_reason,
    )


def scan_verdict(*, line: PrescriptionLine, code: str, purpose: str) -> ScanVerdict:
    """What the scan field says at once, before anything is saved (the same rules as the
    services that save): `purpose` is "round" or "receipt"."""
    try:
        scan = scan_parse(code=code)
    except ScanError as e:
        return ScanVerdict("error", e.message)
    link = barcode_current(gtin=scan.gtin)
    product = line.medicine
    if link is not None and link.medicine_id != product.pk:
        return ScanVerdict("error", _wrong_product(link.medicine, product), scan)
    expiry = f" Expiry {scan.expiry:%d/%m/%Y}." if scan.expiry else ""
    batch = f" Batch {scan.batch}." if scan.batch else ""
    if scan.expired(line.home.local_today()):
        action = "do not book it in" if purpose == "receipt" else "do not use it; tell a senior"
        return ScanVerdict(
            "warning", f"This pack expired on {scan.expiry:%d/%m/%Y}: {action}.", scan
        )
    if link is None:
        if purpose == "receipt":
            return ScanVerdict(
                "ok", f"New barcode: it will be linked to {product.name}.{batch}{expiry}", scan
            )
        return ScanVerdict(
            "error",
            f"This pack's barcode (GTIN {scan.gtin}) is not linked to a product yet: a senior "
            "links it when booking the stock in.",
            scan,
        )
    return ScanVerdict("ok", f"Matches: {product.name}.{batch}{expiry}", scan)
