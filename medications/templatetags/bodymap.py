"""The body map drawn in pages and prints (R-MAR-17): the SVG and the site pickers."""

from __future__ import annotations

from django import template

from medications import bodymap
from medications.selectors import body_map_sites

register = template.Library()


@register.filter
def uses_body_map(line) -> bool:
    return bodymap.uses_body_map(line)


@register.inclusion_tag("medications/partials/body_map_pick.html")
def dose_body_map(line, key, chosen=None) -> dict:
    """The map at a dose (round row, PRN page): the line's sites pre-selected, the carer ticks
    the sites applied. A line with no sites (entered before the map) offers every site."""
    sites = getattr(line, "prescribed_sites", None)  # read for the whole round at once
    if sites is None:
        sites = body_map_sites([line.pk])[line.pk]
    prescribed = {s.site: s.instructions for s in sites}
    picked = set(chosen) if chosen is not None else set(prescribed)
    regions = bodymap.regions(prescribed, picked)
    options = [r for r in regions if r.prescribed] if prescribed else regions
    return {
        "regions": regions,
        "options": options,
        "prefix": f"bm-{key}",
        "prescribed": bool(prescribed),
        "title": f"Body map: where to apply {line.medicine.name}",
    }


@register.inclusion_tag("medications/partials/body_map.html")
def line_body_map(line, sites=None, prefix: str = "bm") -> dict:
    """A line's prescribed sites, read only (line page, MAR print)."""
    if sites is None:
        sites = body_map_sites([line.pk])[line.pk]
    prescribed = {s.site: s.instructions for s in sites}
    return {
        "regions": bodymap.regions(prescribed),
        "prefix": prefix,
        "title": f"Body map: where to apply {line.medicine.name}",
    }
