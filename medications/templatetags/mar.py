from django import template

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
