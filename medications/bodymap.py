"""The body map (R-MAR-17, R-MAR-10): the one list of body sites, drawn as a front and back
diagram and used to validate every site a line prescribes or a carer records.

Pure data, no models: `medications.models` takes the patch sites from here, the services
validate against `SITES`, and the templates draw `regions()` as SVG. Each region is a rectangle
of at least 44 by 44 units; the diagram is drawn at one unit per CSS pixel or larger, so every
region is a finger-sized target on a 10" tablet (R-MAR-1).

The front view shows the resident facing you (their right on your left); the back view shows
their back (their left on your left), as on a paper body map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The diagram's canvas: the front figure at x 0..220, the back one at x 240..460, under a line
# for the captions.
VIEW_WIDTH = 460
VIEW_HEIGHT = 540
BACK_X = 240
TOP = 26


@dataclass(frozen=True)
class Site:
    code: str
    label: str
    view: str  # "front" or "back"
    x: int
    y: int
    w: int
    h: int

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    @property
    def cy(self) -> int:
        return self.y + self.h // 2


def _pair(part: str, view: str, left_x: int, right_x: int, y: int, w: int, h: int, label: str):
    """A left and right region of one part in one view (codes `left_<part>`, `right_<part>`);
    `label` has "{side}" for Left/Right."""
    return [
        Site(f"left_{part}", label.format(side="Left"), view, left_x, y, w, h),
        Site(f"right_{part}", label.format(side="Right"), view, right_x, y, w, h),
    ]


def _figure(view: str) -> list[Site]:
    """One figure. In the front view the resident's right is on the viewer's left."""
    dx = 0 if view == "front" else BACK_X
    front = view == "front"

    def lr(near: int, far: int) -> tuple[int, int]:
        # (x of the resident's left, x of their right) for a part drawn at `near`/`far`.
        return (far + dx, near + dx) if front else (near + dx, far + dx)

    y = TOP
    sites: list[Site] = []
    sites.append(
        Site(
            "face" if front else "back_of_head",
            "Face" if front else "Back of head",
            view,
            80 + dx,
            y,
            60,
            52,
        )
    )
    body_y = y + 56  # shoulders
    # Arms: upper arm, forearm, hand; 48 wide at each side of the trunk.
    arm = lr(0, 172)
    sites += _pair(
        f"upper_arm_{view}", view, arm[0], arm[1], body_y, 48, 90, f"{{side}} upper arm ({view})"
    )
    sites += _pair(
        f"forearm_{view}", view, arm[0], arm[1], body_y + 92, 48, 80, f"{{side}} forearm ({view})"
    )
    sites += _pair(
        f"hand_{view}",
        view,
        arm[0],
        arm[1],
        body_y + 174,
        48,
        50,
        "{side} hand (palm)" if front else "{side} hand (back)",
    )
    # Trunk: two halves, 60 wide each.
    trunk = lr(50, 110)
    if front:
        sites += _pair("chest", view, trunk[0], trunk[1], body_y, 60, 70, "{side} chest")
        sites += _pair("abdomen", view, trunk[0], trunk[1], body_y + 72, 60, 70, "{side} abdomen")
        sites.append(Site("groin", "Groin", view, 50 + dx, body_y + 144, 120, 48))
    else:
        sites += _pair("upper_back", view, trunk[0], trunk[1], body_y, 60, 70, "{side} upper back")
        sites += _pair(
            "lower_back", view, trunk[0], trunk[1], body_y + 72, 60, 70, "{side} lower back"
        )
        sites += _pair("buttock", view, trunk[0], trunk[1], body_y + 144, 60, 48, "{side} buttock")
    # Legs: thigh, lower leg, foot; 58 wide each.
    leg = lr(50, 112)
    leg_y = body_y + 194
    sites += _pair(
        f"thigh_{view}", view, leg[0], leg[1], leg_y, 58, 100, f"{{side}} thigh ({view})"
    )
    sites += _pair(
        "shin" if front else "calf",
        view,
        leg[0],
        leg[1],
        leg_y + 102,
        58,
        96,
        "{side} shin" if front else "{side} calf",
    )
    sites += _pair(
        "foot" if front else "heel",
        view,
        leg[0],
        leg[1],
        leg_y + 200,
        58,
        48,
        "{side} foot (top)" if front else "{side} heel",
    )
    return sites


SITES: tuple[Site, ...] = (*_figure("front"), *_figure("back"))
BY_CODE: dict[str, Site] = {s.code: s for s in SITES}
SITE_CHOICES: list[tuple[str, str]] = [(s.code, s.label) for s in SITES]

# R-MAR-10: the patch sites, in the order rotation goes round them. Stored on administrations
# by label (records since the first release hold these words); each is drawn on the map at
# the region named beside it.
PATCH_SITES: tuple[tuple[str, str], ...] = (
    ("Left upper arm", "left_upper_arm_front"),
    ("Right upper arm", "right_upper_arm_front"),
    ("Left upper chest", "left_chest"),
    ("Right upper chest", "right_chest"),
    ("Left upper back", "left_upper_back"),
    ("Right upper back", "right_upper_back"),
    ("Left thigh", "left_thigh_front"),
    ("Right thigh", "right_thigh_front"),
    ("Left side (flank)", "left_abdomen"),
    ("Right side (flank)", "right_abdomen"),
)
PATCH_SITE_LABELS: tuple[str, ...] = tuple(label for label, _ in PATCH_SITES)


def label(code: str) -> str:
    site = BY_CODE.get(code)
    return site.label if site else code


def uses_body_map(line: Any) -> bool:
    """A topical medicine (cream, ointment, gel) applied to sites chosen on the map. A patch
    is not: it rotates round the patch sites (R-MAR-10)."""
    return line.route == "topical" and not line.is_patch


@dataclass(frozen=True)
class Region:
    """A site as one drawing shows it: prescribed (with instructions), chosen, or neither."""

    site: Site
    prescribed: bool
    chosen: bool
    instructions: str = ""
    number: int = 0  # its number in the drawing's key, when prescribed


def regions(
    prescribed: dict[str, str] | None = None, chosen: set[str] | frozenset[str] = frozenset()
) -> list[Region]:
    """Every site for a drawing. `prescribed`: code -> instructions, in the line's order."""
    prescribed = prescribed or {}
    numbers = {code: i for i, code in enumerate(prescribed, start=1)}
    return [
        Region(
            site=s,
            prescribed=s.code in prescribed,
            chosen=s.code in chosen,
            instructions=prescribed.get(s.code, ""),
            number=numbers.get(s.code, 0),
        )
        for s in SITES
    ]
