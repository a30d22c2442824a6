"""The shipped checklist (R-AUD-2), loaded by migration 0002. Questions follow NICE SC1
(Managing medicines in care homes) and the CQC's medicines-optimisation expectations; a home
answers each yes / no / n.a. with a comment (a "no" needs one)."""

from __future__ import annotations

# (code, section, text)
DEFAULT_QUESTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "storage-locked",
        "storage",
        "Medicines are stored securely in locked trolleys, cupboards "
        "or rooms, and keys are held by the person in charge.",
    ),
    (
        "storage-temperature",
        "storage",
        "Room and fridge temperatures were recorded every day and any excursion was acted on.",
    ),
    (
        "storage-dates",
        "storage",
        "Liquids, creams and eye drops in use are labelled with the "
        "date of opening and are within their in-use expiry.",
    ),
    (
        "records-complete",
        "records",
        "MAR charts are complete: every dose has initials or a code, with no unexplained gaps.",
    ),
    (
        "records-allergies",
        "records",
        "Every resident's allergy status is recorded and shown on the MAR.",
    ),
    (
        "records-transcribing",
        "records",
        "Handwritten or transcribed entries were checked and signed by a second trained person.",
    ),
    (
        "records-reviews",
        "records",
        "Every resident has had a medication review within the last 12 months.",
    ),
    ("prn-protocols", "prn", "Every PRN medicine has a current person-centred protocol."),
    ("prn-reasons", "prn", "The reason for each PRN dose and its effect were recorded."),
    (
        "cd-register",
        "cd",
        "The controlled drugs register is complete, bound and legible, with running balances.",
    ),
    ("cd-witness", "cd", "Every CD administration was witnessed by a second trained person."),
    ("cd-checks", "cd", "CD stock checks were done as the policy requires and balances agree."),
    (
        "covert-plans",
        "covert",
        "Every covert administration has a mental capacity assessment, "
        "a best-interests decision and pharmacist advice, and is reviewed on time.",
    ),
    (
        "self-admin-assessed",
        "self_admin",
        "Residents who self-administer have a current risk assessment and lockable storage.",
    ),
    (
        "self-admin-reviewed",
        "self_admin",
        "Self-administration is reviewed and recorded on the MAR.",
    ),
    (
        "disposal-recorded",
        "disposal",
        "Medicines for disposal are recorded, stored securely "
        "and returned to the pharmacy with a receipt.",
    ),
    (
        "disposal-cd",
        "disposal",
        "CD destructions and returns were witnessed and entered in the register.",
    ),
    (
        "training-in-date",
        "training",
        "Staff who give medicines have in-date medicines training "
        "and an annual competency assessment.",
    ),
    (
        "training-incidents",
        "training",
        "Medicines incidents were reported, investigated and learning shared with staff.",
    ),
    ("training-policy", "training", "Staff have read the current medicines policy."),
)
