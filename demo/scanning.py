"""The demo's pack barcodes (R-SCAN-1, R-RUN-4): a few demo products have their GTIN linked, as a
senior would have done when booking them in, so scanning at the round can be tried by typing
one of these into a dose's scan field (as a keyboard-wedge scanner types it). The other
Amlodipine strength is linked too, to show a wrong pack being stopped. Idempotent: a GTIN
already linked is left as it is (no new row, no new audit entry).

The GTINs are made-up examples with valid check digits, not real products' barcodes."""

from __future__ import annotations

from demo.organisation import DemoContext
from medications import services
from medications.models import Medicine

# GTIN-13 (as on an EAN-13) of each demo product.
BARCODES = {
    "Amlodipine 5mg tablets": "5012345000015",
    "Amlodipine 10mg tablets": "5012345000022",
    "Paracetamol 500mg tablets": "5012345000039",
}


def seed(ctx: DemoContext) -> None:
    home, senior = ctx.home, ctx.users["senior"]
    assert home is not None
    for name, gtin in BARCODES.items():
        product = Medicine.objects.get(name=name)
        services.scan_for_receipt(product=product, code=gtin, by=senior, home=home)
    ctx.notes.append(
        "Barcode scanning: type 5012345000015 and Enter in a dose's scan field for Amlodipine "
        "5mg (it matches); 5012345000022 is the 10mg pack, and is stopped."
    )
