from django import template
from django.utils.html import format_html_join

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


@register.filter
def code_options(codes):
    """The reason codes as <option>s, built in Python: the round renders them for every open
    dose, and a template loop cost about 50 variable lookups a row (SPEC §11)."""
    return format_html_join(
        "",
        '<option value="{}">{} — {}{}</option>',
        ((c.pk, c.code, c.label, " (note needed)" if c.note_required else "") for c in codes),
    )
