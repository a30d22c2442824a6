"""Which medicines have their opening recorded, and their shelf life once opened (R-STK-7, H-15).

Pure functions over a product's form, route and name (no database), used by the opening
service, the round screen, the data migration that fills the reference catalogue and the
monthly audit.

The product's own figure comes first: `Medicine.in_use_days`, taken from its product
information (SmPC / patient leaflet / label). Where a product has none, a default by form
applies. The defaults are not invented here; they are the common published care-home guidance:

- SPS (Specialist Pharmacy Service, NHS), "In-use shelf life of eye drops and ointments": follow
  the manufacturer; preserved multi-dose eye drops carry "discard 28 days (four weeks) after
  opening" in their product information, the figure R-STK-7 names.
- R. A. Lowe, "Storage, stability and in-use shelf-life guidelines for non-sterile medicines",
  Eastern and South East Specialist Pharmacy Services (UKMi), 2001, as reproduced in NHS
  care-home expiry guidance (e.g. NHS East Lancashire CCG, "Expiry date guidelines for care
  homes", 2014): internal liquids 6 months from opening; creams in tubes 3 months, in jars or
  pots 1 month; ointments in tubes 6 months, in jars or pots 3 months; external liquids and
  lotions 6 months; eye drops (multi-dose), ear drops, nose drops and eye ointment 1 month;
  pump dispensers, single-dose units (Minims), patches and suppositories: the manufacturer's
  expiry. Antibiotic liquids made up by the pharmacy: as labelled (usually 7 or 14 days), so
  the product's own figure.

How months become days (the field is a number of days): one month is 28 days, as the eye-drop
product information says; three months 90 and six months 180 days. The catalogue does not say
whether a cream comes in a tube or a pot, so the default is the shorter (pot) figure; a product
in a tube can carry its own longer figure. Gels and inhalers have no general figure in that
guidance: their opening is still recorded, and their in-use expiry is the product's own (or
the pack's expiry, when only that is known).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULTS", "ShelfLife", "default_basis", "opening_kind", "shelf_life"]

# Products used once or sealed until used: nothing to record on opening.
_SINGLE_USE = (
    "injection",
    "unit dose",
    "pre-filled",
    "ampoule",
    "sachet",
    "tablet",
    "capsule",
    "patch",
    "suppositor",
    "enema",
    "pessar",
    "minims",
)
_ORAL_LIQUID = (
    "oral solution",
    "oral suspension",
    "oral liquid",
    "syrup",
    "elixir",
    "linctus",
    "mixture",
)


@dataclass(frozen=True)
class Default:
    label: str  # the form, in the words care staff use
    days: int | None  # None: no general figure, the product's own or the pack's expiry
    source: str


_LOWE = "Lowe 2001 (ESE Specialist Pharmacy Services), NHS care-home expiry guidance"
DEFAULTS: dict[str, Default] = {
    "eye_drops": Default(
        "eye drops",
        28,
        "multi-dose eye drops: 28 days after opening (product information; SPS in-use shelf "
        "life of eye drops)",
    ),
    "eye_ointment": Default("eye ointment", 28, f"eye ointment: 1 month after opening ({_LOWE})"),
    "ear_drops": Default("ear drops", 28, f"ear drops: 1 month after opening ({_LOWE})"),
    "nose_drops": Default(
        "nose drops or spray", 28, f"nose drops: 1 month after opening ({_LOWE})"
    ),
    "cream": Default(
        "cream", 28, f"cream: 1 month after opening in a pot, 3 months in a tube ({_LOWE})"
    ),
    "ointment": Default(
        "ointment", 90, f"ointment: 3 months after opening in a pot, 6 months in a tube ({_LOWE})"
    ),
    "external_liquid": Default(
        "lotion or external liquid", 180, f"external liquids: 6 months after opening ({_LOWE})"
    ),
    "oral_liquid": Default(
        "oral liquid", 180, f"internal liquids: 6 months after opening ({_LOWE})"
    ),
    "gel": Default("gel", None, "no general figure: the product's own, or the pack's expiry"),
    "inhaler": Default(
        "inhaler", None, "no general figure: the product's own, or the pack's expiry"
    ),
}


def opening_kind(form: str, route: str = "", name: str = "") -> str:
    """The kind of product whose opening is recorded (a key of `DEFAULTS`), or "" when it is
    not one: liquids, creams, ointments and gels, eye, ear and nose drops, inhalers (R-STK-7).

    `form` and `route` are the catalogue's (dm+d words, e.g. "eye drops", "ophthalmic") or a
    line's route; the name is read only when the form is blank."""
    text = (form or name or "").lower()
    where = (route or "").lower()
    if any(w in text for w in _SINGLE_USE):
        return ""
    if "eye" in text or where in ("ophthalmic", "eye"):
        if "ointment" in text:
            return "eye_ointment"
        if "drop" in text or where in ("ophthalmic", "eye"):
            return "eye_drops"
    if "ear" in text.split() or "ear drop" in text or where in ("ear", "auricular", "otic"):
        return "ear_drops"
    if "nasal" in text or "nose" in text or where in ("nose", "nasal"):
        return "nose_drops"
    if "inhal" in text or "inhaler" in text or where in ("inhaled", "inhalation"):
        return "inhaler"
    if "cream" in text:
        return "cream"
    if "ointment" in text:
        return "ointment"
    if "gel" in text.replace("-", " ").split():
        return "gel"
    if any(w in text for w in ("lotion", "bath oil", "emollient", "shampoo", "scalp")):
        return "external_liquid"
    if any(w in text for w in _ORAL_LIQUID) or (
        where in ("oral", "enteral_tube", "") and any(w in text for w in ("solution", "liquid"))
    ):
        return "oral_liquid"
    return ""


@dataclass(frozen=True)
class ShelfLife:
    kind: str  # key of DEFAULTS
    days: int | None  # None: no in-use limit known beyond the pack's own expiry
    basis: str  # where the figure comes from, shown and stored with each opening

    @property
    def label(self) -> str:
        return DEFAULTS[self.kind].label


def default_basis(kind: str) -> str:
    default = DEFAULTS[kind]
    return f"default for {default.label}: {default.source}"[:300]


def shelf_life(
    *,
    form: str,
    route: str = "",
    name: str = "",
    in_use_days: int | None = None,
    in_use_basis: str = "",
) -> ShelfLife | None:
    """The shelf life once opened of a product, or None when its opening is not recorded.
    The catalogue's figure (`in_use_days`, with where it comes from) wins over the default."""
    kind = opening_kind(form, route, name)
    if not kind:
        return None
    if in_use_days:
        return ShelfLife(kind, in_use_days, in_use_basis or "the product's own information")
    return ShelfLife(kind, DEFAULTS[kind].days, default_basis(kind))
