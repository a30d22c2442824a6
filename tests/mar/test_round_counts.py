"""The round's header counts sent with each recorded dose (R-MAR-1) are read as values in one
query (SPEC §11); they must say what the rows say, through corrections, voids and a dose
offered again later."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from medications import rounds
from tests.mar.conftest import dose_at
from tests.mar.test_record_rules import correct, give, not_given
from tests.medications.factories import times


def test_counts_sent_with_a_record_match_the_rows_in_every_state(
    clock, qualified, make_line, home_a, unit_a, carer_a, senior_a
):
    four = make_line(schedule=times("06:00", "08:00", "12:00", "17:00", "22:00"))
    other = make_line("Amlodipine 5mg tablets", schedule=times("08:00", "12:00"))
    doses = {t: dose_at(four, t) for t in ("06:00", "08:00", "12:00", "17:00", "22:00")}
    clock("08:05")
    given = give(doses["08:00"], carer_a)
    correct(given, carer_a, "not_given", code=home_a.codes.get(code="R"))  # corrected
    amlo_8 = dose_at(other, "08:00")
    void = give(amlo_8, carer_a)
    correct(void, carer_a, "in_error", reason="Wrong resident's row")  # open again
    clock("12:05")
    not_given(doses["12:00"], carer_a, letter="S")  # asleep: offered again later, not final
    give(dose_at(other, "12:00"), senior_a)
    now = clock("12:10")

    day = doses["08:00"].local_date
    screen = rounds.round_screen(
        home=home_a, unit=unit_a, round_=None, day=day, viewer=carer_a, rounds=[], now=now
    )
    counts = rounds.round_counts(dose=doses["12:00"], whole_day=True, now=now)
    assert counts == screen.counts
    # By hand: 06:00 missed, 08:00 not given (corrected), amlodipine 08:00 open again after the
    # void and past its window, 12:00 offered again (due), amlodipine 12:00 given, 17:00 and
    # 22:00 upcoming.
    assert counts == {"missed": 2, "not_given": 1, "due": 1, "given": 1, "upcoming": 2}

    with CaptureQueriesContext(connection) as ctx:
        rounds.round_counts(dose=doses["12:00"], whole_day=True, now=now)
    assert len(ctx) == 1
