"""Pack barcodes (R-SCAN-1): the scan field's instant check, and the camera fallback that
decodes a captured frame on the server when the browser has no BarcodeDetector.

Both answer JSON to static/emar/scan.js. Nothing is saved here: the scan is saved, and checked
again, by the service that records the dose or books the stock in."""

from __future__ import annotations

import io

import zxingcpp
from django.http import JsonResponse
from django.views.decorators.http import require_POST, require_safe
from PIL import Image, UnidentifiedImageError

from emar.permissions import Perm, requires, scoped_get

from .. import services
from ..models import PrescriptionLine

MAX_FRAME_BYTES = 4 * 1024 * 1024  # one camera frame, JPEG or PNG
MAX_FRAME_PIXELS = 4096 * 4096
_FORMATS = (zxingcpp.BarcodeFormat.DataMatrix, zxingcpp.BarcodeFormat.EAN13)


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"level": "error", "message": message}, status=status)


@require_safe
@requires(Perm.RECORD_DOSE)
def scan_check(request, line_id: int):
    """What a scan is, against the line's product: ?code=...&for=round|receipt."""
    line = scoped_get(
        request.user,
        Perm.RECORD_DOSE,
        PrescriptionLine.objects.select_related("medicine", "home"),
        pk=line_id,
    )
    code = request.GET.get("code", "")
    if not code.strip() or len(code) > services.scanning.MAX_CODE:
        return _error("Scan a pack's barcode (up to 200 characters).")
    purpose = "receipt" if request.GET.get("for") == "receipt" else "round"
    verdict = services.scan_verdict(line=line, code=code, purpose=purpose)
    return JsonResponse(verdict.as_json())


@require_POST
@requires(Perm.RECORD_DOSE)
def scan_decode(request, home):
    """A camera frame (multipart `frame`) decoded to the barcode's text."""
    frame = request.FILES.get("frame")
    if frame is None:
        return _error("Send a camera frame.")
    if frame.size > MAX_FRAME_BYTES:
        return _error("That picture is too large.", 413)
    try:
        with Image.open(io.BytesIO(frame.read())) as image:
            if image.width * image.height > MAX_FRAME_PIXELS:
                return _error("That picture is too large.", 413)
            found = zxingcpp.read_barcodes(
                image.convert("L"), formats=_FORMATS, text_mode=zxingcpp.TextMode.Plain
            )
    except (UnidentifiedImageError, OSError, ValueError):
        return _error("That is not a picture the camera took.")
    if not found:
        return JsonResponse({"text": "", "message": "No barcode seen yet: hold the pack still."})
    return JsonResponse({"text": found[0].text, "message": ""})
