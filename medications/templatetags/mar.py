from functools import partial

from django import template
from django.utils.html import format_html, format_html_join

from emar.templatetags.emar_format import qty
from emar.urls_by_id import url_by_id
from medications.models import BODY_SITES, LATE_REASONS
from medications.services import next_site as _next_site

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def next_site(last):
    return _next_site(last)


@register.simple_tag
def body_sites():
    return BODY_SITES


@register.simple_tag
def late_reasons():
    return LATE_REASONS


@register.simple_tag
def scan_field(
    *,
    scan_id: str,
    check_url: str,
    decode_url: str,
    scan_value=None,
    scan_errors=(),
    fill_batch: str = "",
    fill_expiry: str = "",
    label: str = "",
    help: str = "",
    scan_name: str = "",
) -> str:
    """A pack barcode field (R-SCAN-1, H-14), for the round, the PRN page, a stock line's
    booking in and goods in. A keyboard-wedge scanner types the barcode and Enter; the Camera
    button reads it with the tablet's camera. static/emar/scan.js checks a scan at once against
    `check_url` (JSON) and, at booking in, fills the inputs whose ids are `fill_batch` and
    `fill_expiry`. Without JavaScript the scan is posted with the form, and the service checks
    it either way. Built in Python: a round draws it for every open dose (SPEC §11)."""
    fill = (("batch", fill_batch), ("expiry", fill_expiry))
    fills = format_html_join("", ' data-scan-{}="{}"', ((k, v) for k, v in fill if v))
    errors = format_html_join(
        "", '<div class="invalid-feedback d-block">{}</div>', ((e,) for e in scan_errors or ())
    )
    return format_html(
        '<div class="scan-field" data-scan data-scan-check="{check}" data-scan-decode="{decode}"'
        "{fills}>\n"
        '  <label class="form-label small mb-0" for="{id}">{label}</label>\n'
        '  <div class="input-group">\n'
        '    <input class="form-control{invalid}" type="text" id="{id}" name="{name}" '
        'value="{value}" maxlength="200" autocomplete="off" autocapitalize="none" '
        'spellcheck="false" data-scan-input aria-describedby="{id}-result">\n'
        '    <button class="btn btn-outline-secondary" type="button" data-scan-camera hidden>'
        "Camera</button>\n"
        "  </div>\n"
        "  {errors}\n"
        '  <div class="small scan-result" id="{id}-result" data-scan-result role="status" '
        'aria-live="polite">{help}</div>\n'
        '  <div class="scan-camera" data-scan-camera-box hidden>\n'
        '    <video class="scan-video" data-scan-video muted playsinline></video>\n'
        '    <button class="btn btn-outline-secondary btn-sm" type="button" data-scan-stop>'
        "Stop the camera</button>\n"
        "  </div>\n"
        "</div>",
        check=check_url,
        decode=decode_url,
        fills=fills,
        id=scan_id,
        label=label or "Scan the pack",
        invalid=" is-invalid" if scan_errors else "",
        name=scan_name or "scan",
        value="" if scan_value is None else scan_value,
        errors=errors,
        help=help,
    )


@register.simple_tag
def stock_badge(level, line) -> str:
    """The line's stock on the round (R-STK-2): in words as well as colour; nothing when the
    line has no stock record. Built in Python: one for every dose of the round (SPEC §11)."""
    if not level:
        return ""
    unit = line.get_dose_unit_display()
    if level.out:
        return format_html(
            '<span class="badge text-bg-danger stock-badge" role="note">Stock: {} {} — none '
            "left on the ledger: count and book in</span>",
            qty(level.balance),
            unit,
        )
    if level.low:
        days = level.days_left
        return format_html(
            '<span class="badge text-bg-danger stock-badge" role="note">Stock: {} {} — about '
            "{} day{} left: reorder</span>",
            qty(level.balance),
            unit,
            days,
            "" if days == 1 else "s",
        )
    return format_html(
        '<span class="badge text-bg-light border stock-badge">Stock: {} {}</span>',
        qty(level.balance),
        unit,
    )


@register.simple_tag
def dose_scan(line, home, key: str) -> str:
    """The pack's barcode on a dose (R-SCAN-1, H-14): open where the home requires a scan,
    folded away where it is optional, so the row stays compact. `key` is the row's form key."""
    field = partial(
        scan_field,
        scan_id=f"scan-{key}",
        check_url=url_by_id("medications:scan_check", line.pk),
        decode_url=url_by_id("medications:scan_decode", home.pk),
    )
    if home.scanning == "required":
        return format_html(
            '<div class="dose-field dose-scan">\n{}\n'
            '<label class="form-label small mb-0" for="ns-{}">Cannot scan? Say why (checked by '
            "eye)</label>\n"
            '<input class="form-control" id="ns-{}" name="no_scan_reason" maxlength="300">\n'
            "</div>",
            field(label="Scan the pack (required)"),
            key,
            key,
        )
    return format_html(
        '<details class="dose-more-box dose-scan"><summary class="small dose-more">'
        '<span class="d-sm-none">Scan pack…</span><span class="d-none d-sm-inline">Scan the '
        "pack…</span></summary>\n{}\n</details>",
        field(),
    )
