"""The starter catalogue (R-RX-1): 200 dm+d products from medications/data/dmd_starter.csv
(copied from the project's shared data, with provenance) plus common care-home medicines that
file lacks, entered WITHOUT a dm+d code (never invented).

Used by the data migration, so functions take the model class instead of importing it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
STARTER_CSV = DATA_DIR / "dmd_starter.csv"
NOTES_CSV = DATA_DIR / "dmd_starter_notes.csv"

# Brands and combinations whose ingredients the name does not spell (lower-case name prefixes).
INGREDIENT_OVERRIDES: dict[str, str] = {
    "co-codamol": "codeine, paracetamol",
    "co-dydramol": "dihydrocodeine, paracetamol",
    "co-amoxiclav": "amoxicillin, clavulanic acid",
    "co-careldopa": "carbidopa, levodopa",
    "oramorph": "morphine",
    "morphine sulfate": "morphine",
    "mst continus": "morphine",
    "butrans": "buprenorphine",
    "matrifen": "fentanyl",
    "lantus": "insulin glargine",
    "abasaglar": "insulin glargine",
    "humulin i": "insulin isophane human",
    "novomix 30": "insulin aspart",
    "insulin aspart biphasic": "insulin aspart",
    "levemir": "insulin detemir",
    "humalog mix25": "insulin lispro",
    "laxido": "macrogol",
    "movicol": "macrogol",
    "macrogol compound": "macrogol",
    "phosphates enema": "sodium phosphate",
    "sodium citrate compound": "sodium citrate",
    "latanoprost": "latanoprost, timolol",
    "levothyroxine sodium": "levothyroxine",
    "sodium valproate": "valproate",
    "calcium carbonate": "calcium carbonate, colecalciferol",
    "liquid paraffin": "liquid paraffin, white soft paraffin",
    "epimax": "liquid paraffin, white soft paraffin",
    "nutilis": "thickener (maize starch, xanthan gum)",
    "resource thickenup": "thickener (xanthan gum)",
    "fortisip": "nutritional supplement (milk protein)",
    "ensure plus": "nutritional supplement (milk protein)",
}

REGISTER_EXTRAS = ("temazepam", "buprenorphine")

# Entries the starter file lacks (its README's "not covered" list): no dm+d code, marked unknown.
# name, form, strength, route, ingredients, category, storage
UNCODED: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("Co-careldopa 12.5mg/50mg tablets", "tablets", "12.5mg/50mg", "oral", "", "oral", "room"),
    ("Co-careldopa 25mg/100mg tablets", "tablets", "25mg/100mg", "oral", "", "oral", "room"),
    (
        "Co-careldopa 25mg/100mg modified-release tablets",
        "modified-release tablets",
        "25mg/100mg",
        "oral",
        "",
        "oral",
        "room",
    ),
    (
        "Ferrous fumarate 210mg tablets",
        "tablets",
        "210mg",
        "oral",
        "ferrous fumarate, iron",
        "oral",
        "room",
    ),
    (
        "Ferrous sulfate 200mg tablets",
        "tablets",
        "200mg",
        "oral",
        "ferrous sulfate, iron",
        "oral",
        "room",
    ),
    ("Folic acid 5mg tablets", "tablets", "5mg", "oral", "", "oral", "room"),
    (
        "Cyanocobalamin 50microgram tablets",
        "tablets",
        "50microgram",
        "oral",
        "cyanocobalamin, vitamin b12",
        "oral",
        "room",
    ),
    (
        "Hydroxocobalamin 1mg/1ml solution for injection ampoules",
        "solution for injection ampoules",
        "1mg/1ml",
        "intramuscular",
        "hydroxocobalamin, vitamin b12",
        "injection",
        "room",
    ),
    (
        "Calcium carbonate 1.5g / Colecalciferol 400unit chewable tablets",
        "chewable tablets",
        "1.5g/400unit",
        "oral",
        "",
        "oral",
        "room",
    ),
    ("Alendronic acid 70mg tablets", "tablets", "70mg", "oral", "", "oral", "room"),
    (
        "Glyceryl trinitrate 400micrograms/dose pump sublingual spray",
        "sublingual spray",
        "400micrograms/dose",
        "sublingual",
        "glyceryl trinitrate",
        "oral",
        "room",
    ),
    (
        "Liquid paraffin 50% / White soft paraffin 50% ointment",
        "ointment",
        "50%/50%",
        "cutaneous",
        "",
        "topical",
        "room",
    ),
    ("Epimax Original cream", "cream", "", "cutaneous", "", "topical", "room"),
    ("Clotrimazole 1% cream", "cream", "1%", "cutaneous", "", "topical", "room"),
    (
        "Nystatin 100,000units/ml oral suspension",
        "oral suspension",
        "100,000units/ml",
        "oral",
        "",
        "oral",
        "room",
    ),
    ("Hypromellose 0.3% eye drops", "eye drops", "0.3%", "ophthalmic", "", "eye_ear_nose", "room"),
    (
        "Chloramphenicol 0.5% eye drops",
        "eye drops",
        "0.5%",
        "ophthalmic",
        "",
        "eye_ear_nose",
        "fridge",
    ),
    ("Nutilis Clear thickening powder", "powder", "", "oral", "", "oral", "room"),
    ("Resource ThickenUp Clear powder", "powder", "", "oral", "", "oral", "room"),
    ("Fortisip Compact liquid", "oral liquid", "125ml", "oral", "", "oral", "room"),
    ("Ensure Plus milkshake style liquid", "oral liquid", "200ml", "oral", "", "oral", "room"),
    ("Cyclizine 50mg tablets", "tablets", "50mg", "oral", "", "oral", "room"),
    ("Metoclopramide 10mg tablets", "tablets", "10mg", "oral", "", "oral", "room"),
    ("Ondansetron 4mg tablets", "tablets", "4mg", "oral", "", "oral", "room"),
    ("Domperidone 10mg tablets", "tablets", "10mg", "oral", "", "oral", "room"),
)

# Notes that mean "confirm this code against a current dm+d release" (data/README.md).
_FLAG_WORDS = ("verify", "AMBIGUOUS", "inferred", "other non-superseded")


def derive_ingredients(name: str) -> str:
    lowered = name.lower()
    for prefix, ingredients in INGREDIENT_OVERRIDES.items():
        if lowered.startswith(prefix):
            return ingredients
    words: list[str] = []
    for word in lowered.split():
        if re.search(r"\d", word):
            break
        words.append(word)
    return " ".join(words).strip()


def derive_category(route: str, form: str, name: str) -> str:
    """The training competency category of a product (R-TRN-2). The category list has no
    rectal/buccal entry: those products count as oral (non-injectable, not applied to skin)."""
    text = f"{route} {form} {name}".lower()
    if "inhal" in text or "nebuliser" in text:
        return "inhaler"
    if any(w in text for w in ("ophthalmic", "eye drop", "ear drop", "nasal")):
        return "eye_ear_nose"
    if "injection" in text or route in ("subcutaneous", "parenteral (injection)"):
        return "injection"
    if route in ("transdermal", "cutaneous") or any(
        w in form.lower() for w in ("cream", "ointment", "patch", "gel")
    ):
        return "topical"
    return "oral"


def derive_storage(cd_register: bool, name: str) -> str:
    if cd_register:
        return "cd_cupboard"
    if "insulin" in name.lower() or any(
        b in name.lower()
        for b in ("lantus", "abasaglar", "humulin", "novomix", "levemir", "humalog")
    ):
        return "fridge"
    return "room"


def register_default(cd_schedule: str, ingredients: str) -> bool:
    return cd_schedule == "2" or any(w in ingredients for w in REGISTER_EXTRAS)


def starter_rows() -> list[dict[str, object]]:
    notes = {}
    with NOTES_CSV.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            notes[row["dmd_code"]] = row.get("notes", "")
    rows: list[dict[str, object]] = []
    with STARTER_CSV.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ingredients = derive_ingredients(row["name"])
            register = register_default(row["cd_schedule"], ingredients)
            rows.append(
                {
                    "name": row["name"],
                    "form": row["form"],
                    "strength": row["strength"],
                    "route": row["route"],
                    "dmd_code": row["dmd_code"],
                    "dmd_type": row["concept_type"],
                    "code_to_confirm": any(
                        w in notes.get(row["dmd_code"], "") for w in _FLAG_WORDS
                    ),
                    "code_source": row["source"][:1000],
                    "cd_schedule": row["cd_schedule"],
                    "cd_register": register,
                    "storage": derive_storage(register, row["name"]),
                    "ingredients": ingredients,
                    "category": derive_category(row["route"], row["form"], row["name"]),
                }
            )
    for name, form, strength, route, ingredients, category, storage in UNCODED:
        ingredients = ingredients or derive_ingredients(name)
        rows.append(
            {
                "name": name,
                "form": form,
                "strength": strength,
                "route": route,
                "dmd_code": "",
                "dmd_type": "",
                "code_to_confirm": False,
                "code_source": "",
                "cd_schedule": "none",
                "cd_register": False,
                "storage": storage,
                "ingredients": ingredients,
                "category": category,
            }
        )
    return rows


def load_starter(medicine_model) -> int:
    """Create the starter products that are missing (by name). Returns how many were added."""
    existing = set(medicine_model.objects.values_list("name", flat=True))
    new = [medicine_model(**row) for row in starter_rows() if row["name"] not in existing]
    medicine_model.objects.bulk_create(new)
    return len(new)
