import pytest

from tests.residents.factories import resident


@pytest.fixture
def resident_a(unit_a, senior_a):
    return resident(unit_a, senior_a, full_name="Edith Clarke", preferred_name="Edie", room="12")


@pytest.fixture
def resident_b(unit_b, home_b):
    from tests.factories import staff

    return resident(unit_b, staff(home_b, "senior", username="senior_b"), full_name="Bob Brown")
