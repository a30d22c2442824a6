"""Body map rules of topical medicines (R-MAR-17): the sites a line prescribes, and the sites
each application records.

Called by `line_insert` (the sites are entered with the line and checked with it, R-RX-4; a
change of sites is a new line) and by `administration_record` (the sites a carer tapped).

The rule for an application (documented in the README): every site must be on the map; when
the line prescribes sites, every site applied must be one of them (applying a cream elsewhere
is a change of prescription, not a choice at the round); at least one site is recorded. A
topical line entered before the body map existed (no sites) may still record one site by name,
as it did before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emar.services import DomainError

from .. import bodymap
from ..models import Administration, AppliedSite, LineSite, PrescriptionLine

__all__ = [
    "BodySiteError",
    "SiteInput",
    "application_sites_check",
    "application_sites_record",
    "correction_sites_copy",
    "line_sites_store",
    "line_sites_validate",
]

INSTRUCTIONS_MAX = 200
SUMMARY_MAX = 40  # Administration.body_site


class BodySiteError(DomainError):
    """A body site refused; `code` is stable: body_site_off_map, body_site_not_prescribed,
    body_site_required, sites_not_topical, site_instructions_too_long."""


@dataclass(frozen=True)
class SiteInput:
    """A site as entered on the line: its code on the map, and what to do there."""

    site: str
    instructions: str = ""


def _off_map(codes: Iterable[str]) -> None:
    unknown = [c for c in codes if c not in bodymap.BY_CODE]
    if unknown:
        shown = ", ".join(repr(c[:40]) for c in unknown[:3])
        raise BodySiteError(
            f"{shown} is not a site on the body map: choose the sites on the diagram.",
            code="body_site_off_map",
        )


def line_sites_validate(
    *, route: str, is_patch: bool, sites: Sequence[SiteInput]
) -> list[SiteInput]:
    """The sites of a new line, checked and in map order; duplicates are one site."""
    if not sites:
        return []
    if route != "topical" or is_patch:
        raise BodySiteError(
            "Body map sites are for creams, ointments and gels (route: on the skin). A patch "
            "rotates round the patch sites instead.",
            code="sites_not_topical",
        )
    _off_map(s.site for s in sites)
    by_code: dict[str, str] = {}
    for s in sites:
        text = " ".join((s.instructions or "").split())
        if len(text) > INSTRUCTIONS_MAX:
            raise BodySiteError(
                f"The instructions for {bodymap.label(s.site)} are longer than "
                f"{INSTRUCTIONS_MAX} characters.",
                code="site_instructions_too_long",
            )
        by_code[s.site] = by_code.get(s.site) or text
    order = {site.code: i for i, site in enumerate(bodymap.SITES)}
    return [SiteInput(code, by_code[code]) for code in sorted(by_code, key=order.__getitem__)]


def line_sites_store(*, line: PrescriptionLine, sites: Sequence[SiteInput]) -> list[LineSite]:
    """Store a new line's sites (in the line's transaction; validated first)."""
    return LineSite.objects.bulk_create(
        [
            LineSite(line=line, site=s.site, instructions=s.instructions, position=i)
            for i, s in enumerate(sites)
        ]
    )


def _summary(codes: Sequence[str]) -> str:
    """What `Administration.body_site` says (the FHIR site text, the patch rotation's read)."""
    text = ", ".join(bodymap.label(c) for c in codes)
    return text if len(text) <= SUMMARY_MAX else f"{len(codes)} sites on the body map"


def application_sites_check(
    *, line: PrescriptionLine, sites: Sequence[str] | None, body_site: str
) -> tuple[list[str], str]:
    """The sites of one application given (R-MAR-17): (site codes in map order, the summary
    for `body_site`). Lines that do not use the map keep their `body_site` as it came."""
    codes = list(dict.fromkeys(sites or ()))
    if not bodymap.uses_body_map(line):
        if codes:
            raise BodySiteError(
                "Body map sites are recorded for creams, ointments and gels only.",
                code="sites_not_topical",
            )
        return [], body_site
    _off_map(codes)
    prescribed = list(LineSite.objects.filter(line=line).values_list("site", flat=True))
    if not codes:
        if not prescribed and body_site:  # a line from before the map: one site by name
            return [], body_site
        raise BodySiteError(
            "Tap the sites on the body map where it was applied.", code="body_site_required"
        )
    if prescribed:
        extra = [c for c in codes if c not in prescribed]
        if extra:
            raise BodySiteError(
                f"{bodymap.label(extra[0])} is not a site prescribed for this cream (prescribed: "
                + ", ".join(bodymap.label(c) for c in prescribed)
                + "). A new site is a change of prescription.",
                code="body_site_not_prescribed",
            )
    order = {site.code: i for i, site in enumerate(bodymap.SITES)}
    codes.sort(key=order.__getitem__)
    return codes, _summary(codes)


def application_sites_record(*, record: Administration, sites: Sequence[str]) -> list[str]:
    """Store the sites of a recorded application (same transaction, before its audit entry);
    returns the codes for the audit entry."""
    if sites:
        AppliedSite.objects.bulk_create(
            [AppliedSite(administration=record, site=code) for code in sites]
        )
    return list(sites)


def correction_sites_copy(*, original: Administration, record: Administration) -> None:
    """A correction that leaves the dose given keeps the sites the original recorded (the
    correction changes the amount, time or code, not where the cream went)."""
    if record.outcome != "given":
        return
    codes = list(original.applied_sites.values_list("site", flat=True))
    application_sites_record(record=record, sites=codes)
