"""R-RX-1: the starter catalogue, dm+d code validation and the CD register default."""

from __future__ import annotations

import csv

import pytest
from django.core.exceptions import ValidationError

from medications import catalogue
from medications.dmd import validate_dmd_code, verhoeff_valid
from medications.models import Medicine


def test_the_starter_catalogue_is_a_file_of_the_project():
    assert catalogue.STARTER_CSV.is_relative_to(catalogue.DATA_DIR)
    assert "shared" not in catalogue.STARTER_CSV.parts
    with catalogue.STARTER_CSV.open() as fh:
        assert len(list(csv.DictReader(fh))) == 200


def test_the_migration_loaded_every_coded_product_and_the_uncoded_ones(db):
    assert Medicine.objects.exclude(dmd_code="").count() == 200
    uncoded = Medicine.objects.filter(dmd_code="")
    assert uncoded.count() == len(catalogue.UNCODED)
    careldopa = Medicine.objects.get(name="Co-careldopa 25mg/100mg tablets")
    assert careldopa.dmd_code == "" and careldopa.code_status == "no dm+d code (unknown)"
    assert careldopa.ingredient_list == ["carbidopa", "levodopa"]


def test_every_catalogue_code_passes_the_verhoeff_check(db):
    codes = list(Medicine.objects.exclude(dmd_code="").values_list("dmd_code", flat=True))
    assert len(codes) == 200
    assert all(verhoeff_valid(code) for code in codes)
    for code in codes:
        validate_dmd_code(code)  # raises ValidationError on a bad code


def test_flagged_codes_are_marked_to_confirm(db):
    assert Medicine.objects.get(name="Temazepam 10mg tablets").code_to_confirm
    assert not Medicine.objects.get(name="Paracetamol 500mg tablets").code_to_confirm


@pytest.mark.parametrize("bad", ["42109611000001108", "42109611000001190", "12345", "0421096"])
def test_a_wrong_dmd_code_is_refused(bad):
    with pytest.raises(ValidationError):
        validate_dmd_code(bad)


def test_verhoeff_catches_every_single_digit_error():
    good = "42109611000001109"
    assert verhoeff_valid(good)
    for i, ch in enumerate(good):
        for digit in "0123456789":
            if digit != ch:
                assert not verhoeff_valid(good[:i] + digit + good[i + 1 :])


@pytest.mark.parametrize(
    ("name", "register", "storage"),
    [
        ("Morphine 10mg modified-release tablets", True, "cd_cupboard"),  # schedule 2
        ("Temazepam 10mg tablets", True, "cd_cupboard"),  # schedule 3, by name
        ("BuTrans 5micrograms/hour transdermal patches", True, "cd_cupboard"),  # buprenorphine
        ("Morphine sulfate 10mg/5ml oral solution", False, "room"),  # schedule 5
        ("Pregabalin 75mg capsules", False, "room"),  # schedule 3, not on the register
        (
            "Insulin glargine 100units/ml solution for injection 3ml pre-filled disposable devices",
            False,
            "fridge",
        ),
    ],
)
def test_cd_register_defaults(db, name, register, storage):
    product = Medicine.objects.get(name=name)
    assert product.cd_register is register
    assert product.storage == storage


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Paracetamol 500mg tablets", "oral"),
        ("Fentanyl 25micrograms/hour transdermal patches", "topical"),
        ("Salbutamol 100micrograms/dose inhaler CFC free", "inhaler"),
        ("Timolol 0.5% eye drops", "eye_ear_nose"),
        (
            "Lantus 100units/ml solution for injection 3ml pre-filled SoloStar pens (Sanofi)",
            "injection",
        ),
        ("Hydrocortisone 1% cream", "topical"),
    ],
)
def test_products_map_to_competency_categories(db, name, category):
    assert Medicine.objects.get(name=name).category == category


def test_loading_twice_adds_nothing(db):
    assert catalogue.load_starter(Medicine) == 0
