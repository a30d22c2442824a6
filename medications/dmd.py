"""dm+d codes (SNOMED CT identifiers) and the Verhoeff check digit (R-RX-1)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(code: str) -> bool:
    """True when the last digit of `code` is its Verhoeff check digit."""
    if not code.isdigit():
        return False
    c = 0
    for i, ch in enumerate(reversed(code)):
        c = _D[c][_P[i % 8][int(ch)]]
    return c == 0


def validate_dmd_code(value: str) -> None:
    """A SNOMED CT identifier: 6 to 18 digits, no leading zero, valid Verhoeff check digit."""
    if not (value.isdigit() and 6 <= len(value) <= 18 and value[0] != "0"):
        raise ValidationError("A dm+d code is 6 to 18 digits.", code="dmd_code_format")
    if not verhoeff_valid(value):
        raise ValidationError(
            "This dm+d code fails its check digit; check it against the source.",
            code="dmd_code_check_digit",
        )
