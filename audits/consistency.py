"""Checklist answers checked against the month's figures before signing (R-AUD-1, R-AUD-2,
R-AUD-4).

A signed audit that answers "MAR charts are complete, no unexplained gaps: yes" beside 23
omissions tells an inspector the audit was not done. Each rule below ties a checklist question to
the metric that can contradict a "yes". There are two kinds:

- REFUSE: the figure makes the "yes" untrue (gaps against "no unexplained gaps", an unwitnessed
  CD dose against "every CD administration was witnessed"). No explanation can make it true, so
  signing is refused outright until the answer is "no" with what was found (the finding the
  inspector expects to see, and the start of an action), or the records are put right (a late
  entry with its reason) and the figures refreshed.
- EXPLAIN: the figure puts the "yes" in doubt but can be consistent with it (a fridge excursion
  that was acted on; a line awaiting its second check, which never reaches a round). Signing needs
  the manager's explanation in that answer's comment; the audit page and the PDF print the figure
  beside it.

Answers "no" and "n.a." are never flagged: they do not claim what the figures deny. Training is
not mapped: the matrix counts every member of staff, not only those who give medicines, so its
percentage cannot contradict "staff who give medicines are in date".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import Answer

REFUSE = "refuse"
EXPLAIN = "explain"


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and value > 0


@dataclass(frozen=True)
class Rule:
    question: str  # checklist question code
    metric: tuple[str, ...]  # path into Audit.metrics
    figure: str  # the figure in words; {n} is the value
    kind: str  # REFUSE or EXPLAIN
    contradicts: Callable[[Any], bool] = _positive


RULES: tuple[Rule, ...] = (
    Rule("records-complete", ("doses", "gaps"), "gaps (omissions) on the MAR: {n}", REFUSE),
    Rule(
        "records-allergies",
        ("records", "allergy_unknown"),
        "residents with allergy status unknown: {n}",
        REFUSE,
    ),
    Rule(
        "records-reviews",
        ("records", "reviews_overdue"),
        "residents with no medication review in 12 months: {n}",
        REFUSE,
    ),
    Rule(
        "records-transcribing",
        ("records", "lines_awaiting_check"),
        "prescription lines awaiting a second check: {n}",
        EXPLAIN,
    ),
    Rule(
        "prn-protocols",
        ("records", "prn_protocols_overdue"),
        "PRN protocols past their review date: {n}",
        REFUSE,
    ),
    Rule(
        "prn-reasons",
        ("prn", "without_follow_up"),
        "PRN doses with no effectiveness follow-up: {n}",
        REFUSE,
    ),
    Rule("cd-witness", ("cd", "without_witness"), "CD doses given without a witness: {n}", REFUSE),
    Rule(
        "cd-checks",
        ("stock", "discrepancies", "cd"),
        "CD stock discrepancies raised: {n}",
        EXPLAIN,
    ),
    Rule(
        "covert-plans",
        ("records", "covert_overdue"),
        "covert plans past their review date: {n}",
        REFUSE,
    ),
    Rule(
        "storage-temperature",
        ("stock", "temperatures", "fridge_excursions"),
        "fridge temperature excursions: {n}",
        EXPLAIN,
    ),
    Rule(
        "storage-temperature",
        ("stock", "temperatures", "room_excursions"),
        "room temperature excursions: {n}",
        EXPLAIN,
    ),
    # R-STK-7: a pack in use past its in-use expiry makes "within their in-use expiry" untrue.
    # Lines with no date opened in eMAR are not mapped: the date may be on the label.
    Rule(
        "storage-dates",
        ("stock", "opened", "past_expiry"),
        "opened products in use past their in-use expiry: {n}",
        REFUSE,
    ),
)


@dataclass(frozen=True)
class Contradiction:
    question: str
    figure: str
    kind: str
    explanation: str  # the answer's comment, for an EXPLAIN rule

    @property
    def blocks(self) -> bool:
        """True while signing must be refused."""
        return self.kind == REFUSE or not self.explanation

    @property
    def advice(self) -> str:
        if self.kind == REFUSE:
            return (
                f'The figures say otherwise ({self.figure}). Answer "No" and say what was found, '
                "or put the records right and refresh the figures."
            )
        if not self.explanation:
            return (
                f'The figures question this "Yes" ({self.figure}). Explain in the comment why the '
                'answer is still "Yes", or answer "No".'
            )
        return f"Figures: {self.figure}. Explained: {self.explanation}"


def _value(metrics: dict, path: tuple[str, ...]) -> Any:
    value: Any = metrics
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def contradictions(metrics: dict, answers: dict[str, tuple[str, str]]) -> list[Contradiction]:
    """Every "yes" answer ({question code: (answer, comment)}) that the month's metrics
    contradict, in rule order."""
    found = []
    for rule in RULES:
        answer, comment = answers.get(rule.question, ("", ""))
        if answer != Answer.YES:
            continue
        value = _value(metrics, rule.metric)
        if value is None or not rule.contradicts(value):
            continue
        found.append(
            Contradiction(
                question=rule.question,
                figure=rule.figure.format(n=value),
                kind=rule.kind,
                explanation=(comment or "").strip(),
            )
        )
    return found


def by_question(found: list[Contradiction]) -> dict[str, list[Contradiction]]:
    grouped: dict[str, list[Contradiction]] = {}
    for c in found:
        grouped.setdefault(c.question, []).append(c)
    return grouped
