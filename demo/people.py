"""Who does what in the demo homes: shared by the MAR history and the stock ledger."""

from __future__ import annotations

from emar.models import CareHome, User
from training.services import check_administration

from .organisation import DemoContext


def recorders(home: CareHome, ctx: DemoContext) -> tuple[list[User], list[User]]:
    """Who recorded (carers and seniors with in-date training) and who witnessed CDs."""
    names = (
        ["carer", "carer3", "senior", "senior2"]
        if home == ctx.home
        else ["carer_riverside", "manager_riverside"]
    )
    people = [ctx.users[n] for n in names if n in ctx.users]
    givers = [
        p for p in people if check_administration(person=p, home=home, category="oral") is None
    ]
    seniors = [p for p in people if "senior" in p.username or "manager" in p.username]
    return givers or people, seniors or people
