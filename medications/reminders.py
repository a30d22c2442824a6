"""Due-dose reminders, missed-dose escalation and the medicines alerts (R-ALR-1..3; H-3, H-7).

Every alert is a `Notification`, whose unique rule on (kind, subject, recipient, window) makes it
exactly-once however often, and on however many workers, a job runs (R-ALR-4, R-ALR-5). So the
jobs look back generously (a missed beat or a restarted worker catches up) and never keep their
own "already sent" state.

The minute sweep touches only the doses whose window is opening or closing now, all homes at
once, in a constant number of queries: it reads through the partial indexes on `window_opens` /
`window_closes` and groups the returned rows in Python (SPEC §11).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from emar import selectors as core_selectors
from emar.models import CareHome, Notification, Role, Shift, User
from emar.services import notification_emails_enqueue, notify
from residents import selectors as resident_selectors
from residents.models import Absence, room_order

from . import selectors
from .models import Administration, Outcome, ScheduledDose
from .services import doses_sync

log = logging.getLogger(__name__)

LOOKBACK = dt.timedelta(minutes=30)
TIME_SENSITIVE_LEAD = dt.timedelta(minutes=15)  # R-ALR-1, R-RX-7
# The widest window a dose can have (CareHome.dose_window_minutes <= 240), so "due soon" can be
# found through the window_opens index.
MAX_TOLERANCE = dt.timedelta(minutes=240)
PRN_FOLLOW_UP_AFTER = dt.timedelta(minutes=60)  # R-MAR-8
PRN_FOLLOW_UP_LOOKBACK = dt.timedelta(hours=12)
INSERT_BATCH = 1000

ROUND_OPEN = "round_open"
TIME_SENSITIVE_DUE = "time_sensitive_due"
DOSE_MISSED = "dose_missed"
PRN_FOLLOW_UP_DUE = "prn_follow_up_due"
COVERT_REVIEW_DUE = "covert_plan_review_due"
PRN_PROTOCOL_REVIEW_DUE = "prn_protocol_review_due"
MEDICATION_REVIEW_OVERDUE = "medication_review_overdue"

STAFF_ROLES = (Role.CARER, Role.SENIOR, Role.MANAGER)


def _utc_key(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


def _hhmm(at: dt.datetime, home: CareHome) -> str:
    return f"{at.astimezone(home.tz):%H:%M}"


def _day(value: dt.date) -> str:
    return f"{value.day} {value:%b %Y}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- Who is on duty, for many homes in two queries -------------------------------------------


@dataclass
class _Staff:
    """Current staff roles and open shifts of a set of homes."""

    roles: dict[tuple[int, int], str] = field(default_factory=dict)  # (home, user) -> role
    users: dict[int, User] = field(default_factory=dict)
    shifts: dict[int, list[tuple[int | None, int]]] = field(default_factory=dict)  # home -> ...

    @classmethod
    def load(cls, home_ids: Iterable[int], at: dt.datetime) -> _Staff:
        staff = cls()
        home_ids = set(home_ids)
        if not home_ids:
            return staff
        for m in core_selectors.staff_memberships_of(home_ids, STAFF_ROLES, at=at).select_related(
            "user"
        ):
            staff.roles[(m.home_id, m.user_id)] = m.role
            staff.users[m.user_id] = m.user
        for home_id, unit_id, user_id in Shift.objects.filter(
            home_id__in=home_ids, ended_at__isnull=True
        ).values_list("home_id", "unit_id", "user_id"):
            if (home_id, user_id) in staff.roles:
                staff.shifts.setdefault(home_id, []).append((unit_id, user_id))
        return staff

    def _pick(self, home_id: int, user_ids: Iterable[int], roles: Iterable[str]) -> list[User]:
        roles = set(roles)
        return [
            self.users[u] for u in sorted(set(user_ids)) if self.roles.get((home_id, u)) in roles
        ]

    def on_shift(
        self, home_id: int, unit_id: int, roles: Iterable[str] = STAFF_ROLES
    ) -> list[User]:
        """Clocked in to the unit, or to the whole home (like `emar.selectors.on_shift`)."""
        ids = [u for unit, u in self.shifts.get(home_id, []) if unit is None or unit == unit_id]
        return self._pick(home_id, ids, roles)

    def on_shift_anywhere(self, home_id: int, roles: Iterable[str]) -> list[User]:
        return self._pick(home_id, [u for _, u in self.shifts.get(home_id, [])], roles)

    def seniors_for(self, home_id: int, unit_id: int) -> list[User]:
        """The senior on shift for the unit; failing that, any senior on shift in the home."""
        return self.on_shift(home_id, unit_id, [Role.SENIOR]) or self.on_shift_anywhere(
            home_id, [Role.SENIOR]
        )

    def managers(self, home_id: int) -> list[User]:
        return self._pick(
            home_id, [u for (h, u), r in self.roles.items() if h == home_id], [Role.MANAGER]
        )

    def is_staff(self, home_id: int, user_id: int) -> bool:
        return (home_id, user_id) in self.roles


# --- Many notifications in a constant number of queries --------------------------------------


@dataclass
class _Pending:
    """One alert to some people. Its words are written only for those not yet told, so a
    repeated sweep costs a key lookup, not a page of string formatting."""

    kind: str
    subject: str
    window: str
    home_id: int
    recipients: list[User]
    text: Callable[[], tuple[str, str, str]]  # title, body, link
    urgent: bool = False


def _notifications_insert(pending: list[_Pending], *, at: dt.datetime) -> Counter[str]:
    """Insert the notifications that do not exist yet; the unique rule settles any race with
    another worker (`ignore_conflicts`). Emails for opted-in recipients are enqueued on commit,
    as `emar.services.notify` does for one subject. Returns how many rows of each kind were new
    to this call.

    Queries: one to find which already exist, one insert per `INSERT_BATCH` rows, and one for
    emails only when a new row's recipient asked for email.
    """
    pending = [p for p in pending if p.recipients]
    if not pending:
        return Counter()
    by_kind: dict[str, tuple[set, set, set]] = defaultdict(lambda: (set(), set(), set()))
    for p in pending:
        subjects, recipients, windows = by_kind[p.kind]
        subjects.add(p.subject)
        recipients.update(u.pk for u in p.recipients)
        windows.add(p.window)
    # Every column of the unique index is constrained, so this reads only candidate keys,
    # not the history of a unit or a dose.
    match = Q()
    for kind, (subjects, recipients, windows) in by_kind.items():
        match |= Q(kind=kind, subject__in=subjects, recipient_id__in=recipients, window__in=windows)
    existing = set(
        Notification.objects.filter(match).values_list("kind", "subject", "window", "recipient_id")
    )
    new: list[Notification] = []
    for p in pending:
        missing = {
            u.pk: u for u in p.recipients if (p.kind, p.subject, p.window, u.pk) not in existing
        }
        if not missing:
            continue
        title, body, link = p.text()
        new += [
            Notification(
                recipient=user,
                home_id=p.home_id,
                kind=p.kind,
                subject=p.subject,
                window=p.window,
                title=title[:200],
                body=body,
                link=link,
                urgent=p.urgent,
                created_at=at,
            )
            for user in missing.values()
        ]
    if not new:
        return Counter()
    Notification.objects.bulk_create(new, batch_size=INSERT_BATCH, ignore_conflicts=True)
    keys = {
        (n.kind, n.subject, n.window, n.recipient_id)
        for n in new
        if n.recipient.email_notifications and n.recipient.email  # loaded with the staff
    }
    if keys:
        emailable = [
            pk
            for pk, *key in Notification.objects.filter(
                match, recipient_id__in={k[3] for k in keys}, emailed_at__isnull=True
            ).values_list("pk", "kind", "subject", "window", "recipient_id")
            if tuple(key) in keys
        ]
        notification_emails_enqueue(emailable)
    return Counter(n.kind for n in new)


# --- The minute sweep (R-ALR-1, R-ALR-2) -----------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    doses: int  # doses looked at
    round_open: int  # new notifications of each kind
    time_sensitive: int
    missed: int


# What the sweep reads of each dose: plain rows, not model instances, so that thousands of
# doses at 08:00 across a hundred homes cost milliseconds of Python (bench/sweep.py).
_DOSE_FIELDS = (
    "pk",
    "home_id",
    "unit_id",
    "resident_id",
    "due_at",
    "window_opens",
    "window_closes",
    "local_date",
    "time_sensitive",
    "dose_text",
    "round_id",
    "round_date",
    "round__name",
    "unit__name",
    "home__timezone",
    "resident__full_name",
    "resident__preferred_name",
    "resident__room",
    "line__medicine__name",
)


def doses_to_remind(*, now: dt.datetime, lookback: dt.timedelta = LOOKBACK) -> QuerySet:
    """Not cancelled, not self-administered doses of residents not away (R-RES-6), of every
    home, whose window opened or closed in the lookback, or which are time-sensitive and due
    within 15 minutes: one query through the partial indexes on window_opens and window_closes.
    Whether each is recorded is asked separately (`_recorded`), by dose id, so the plan never
    scans the administrations."""
    since = now - lookback
    opening = Q(window_opens__gt=since, window_opens__lte=now)
    time_sensitive = Q(
        time_sensitive=True,
        # Bounded through the index first; due_at then picks the ones due soon.
        window_opens__gt=since - MAX_TOLERANCE,
        window_opens__lte=now + TIME_SENSITIVE_LEAD,
        due_at__gt=since,
        due_at__lte=now + TIME_SENSITIVE_LEAD,
        window_closes__gte=now,
    )
    closing = Q(window_closes__gte=since, window_closes__lt=now)
    # R-RES-6, H-16: a resident away at the dose's time is neither reminded nor escalated,
    # even before the away job has coded the dose H or L.
    away = Absence.objects.filter(
        resident_id=OuterRef("resident_id"), started_at__lte=OuterRef("due_at")
    ).filter(Q(returned_at__isnull=True) | Q(returned_at__gt=OuterRef("due_at")))
    return (
        ScheduledDose.objects.filter(opening | time_sensitive | closing)
        .filter(cancelled_at__isnull=True, self_administered=False)
        .exclude(Exists(away))
        .order_by("due_at", "pk")
        .values_list(*_DOSE_FIELDS, named=True)
    )


def _recorded(dose_ids: list[int]) -> set[int]:
    """Doses with their one outcome in force (R-MAR-2): the last record of a chain of
    corrections, so a dose whose record was voided (R-MAR-4) escalates again."""
    return set(
        Administration.objects.filter(
            dose_id__in=dose_ids, final=True, corrected_by__isnull=True
        ).values_list("dose_id", flat=True)
    )


@functools.cache
def _tz(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _time(at: dt.datetime, d) -> str:
    return f"{at.astimezone(_tz(d.home__timezone)):%H:%M}"


def _name(d) -> str:
    """Resident.shown_name, from the row."""
    preferred, full = d.resident__preferred_name, d.resident__full_name
    if preferred and preferred not in full.split():
        return f"{full} ({preferred})"
    return full


def _who(d) -> str:
    return f"{_name(d)}, room {d.resident__room}" if d.resident__room else _name(d)


def _resident_link(resident_id: int) -> str:
    return reverse("medications:resident_profile", args=[resident_id])


def _round_open(group: list, staff: _Staff) -> _Pending:
    first = group[0]

    def text() -> tuple[str, str, str]:
        names = Counter(d.round__name for d in group if d.round__name)
        residents = {d.resident_id: d for d in group}
        due_times = sorted({_time(d.due_at, d) for d in group})
        if names:
            what = f"{names.most_common(1)[0][0]} round open in {first.unit__name}"
        else:
            what = f"Doses due at {', '.join(due_times)} in {first.unit__name}"
        title = f"{what}: {_plural(len(group), 'dose')} for {_plural(len(residents), 'resident')}"
        shown = sorted(
            residents.values(), key=lambda d: (room_order(d.resident__room), d.resident__full_name)
        )
        body = f"Due at {', '.join(due_times)}. " + "; ".join(
            f"{_name(d)} ({d.resident__room})" if d.resident__room else _name(d) for d in shown[:40]
        )
        if len(shown) > 40:
            body += f"; and {len(shown) - 40} more"
        query = f"?unit={first.unit_id}&date={first.local_date.isoformat()}"
        if first.round_id:
            day = first.round_date or first.local_date
            query = f"?unit={first.unit_id}&date={day.isoformat()}&round={first.round_id}"
        return title, body, reverse("medications:round", args=[first.home_id]) + query

    return _Pending(
        kind=ROUND_OPEN,
        subject=f"unit:{first.unit_id}",
        window=_utc_key(first.window_opens),
        home_id=first.home_id,
        recipients=staff.on_shift(first.home_id, first.unit_id),
        text=text,
    )


def _time_sensitive(d, staff: _Staff) -> _Pending:
    def text() -> tuple[str, str, str]:
        return (
            f"Time-sensitive: {d.line__medicine__name} for {_name(d)} due at {_time(d.due_at, d)}",
            f"{d.dose_text} for {_who(d)} in {d.unit__name}, due at {_time(d.due_at, d)}; "
            f"give it no later than {_time(d.window_closes, d)}.",
            reverse("medications:dose", args=[d.pk]),
        )

    return _Pending(
        kind=TIME_SENSITIVE_DUE,
        subject=f"dose:{d.pk}",
        window=_utc_key(d.due_at),
        home_id=d.home_id,
        recipients=staff.on_shift(d.home_id, d.unit_id),
        text=text,
        urgent=True,
    )


def _missed(d, staff: _Staff) -> _Pending:
    def text() -> tuple[str, str, str]:
        return (
            f"Missed dose: {d.line__medicine__name} for {_name(d)} "
            f"({d.unit__name}, due {_time(d.due_at, d)})",
            f"Nothing was recorded for {d.dose_text} of {d.line__medicine__name} for {_who(d)} "
            f"in {d.unit__name} by the end of its window at {_time(d.window_closes, d)} on "
            f"{_day(d.local_date)}. Find out whether it was given, record it as a late entry "
            "with the reason, and seek advice if a dose was missed.",
            reverse("medications:dose", args=[d.pk]),
        )

    recipients = {
        u.pk: u for u in [*staff.seniors_for(d.home_id, d.unit_id), *staff.managers(d.home_id)]
    }
    return _Pending(
        kind=DOSE_MISSED,
        subject=f"dose:{d.pk}",
        window=_utc_key(d.due_at),
        home_id=d.home_id,
        recipients=list(recipients.values()),
        text=text,
        urgent=True,
    )


@transaction.atomic
def dose_reminders_sweep(
    *, now: dt.datetime | None = None, lookback: dt.timedelta = LOOKBACK
) -> SweepResult:
    """One pass over every home (R-ALR-1, R-ALR-2; hazards H-3, H-7):

    - a round's window opened in (now - lookback, now]: one summary per unit and window to the
      staff on shift for that unit ("round_open", subject unit:ID, window = opening instant);
      time-sensitive doses are left out of it, as they have their own reminder;
    - a time-sensitive dose due within 15 minutes: each on-shift person once
      ("time_sensitive_due", subject dose:ID);
    - a window closed in the lookback with no final outcome: the senior on shift for the unit
      (else in the home) and the home's managers, once ("dose_missed", subject dose:ID).

    Cancelled, recorded and self-administered doses (R-RX-9) are left out. A handful of
    queries whatever the number of homes, residents or history: doses through the window
    indexes, their outcomes by id, staff and shifts, existing notifications by key, the insert.
    """
    now = now or timezone.now()
    since = now - lookback
    doses = list(doses_to_remind(now=now, lookback=lookback))
    if not doses:
        return SweepResult(0, 0, 0, 0)
    recorded = _recorded([d.pk for d in doses])
    doses = [d for d in doses if d.pk not in recorded]
    if not doses:
        return SweepResult(0, 0, 0, 0)
    staff = _Staff.load({d.home_id for d in doses}, now)

    rounds: dict[tuple[int, dt.datetime], list] = defaultdict(list)
    pending: list[_Pending] = []
    for d in doses:
        if since < d.window_opens <= now and not d.time_sensitive:
            # A time-sensitive dose has its own, urgent reminder instead.
            rounds[(d.unit_id, d.window_opens)].append(d)
        if (
            d.time_sensitive
            and since < d.due_at <= now + TIME_SENSITIVE_LEAD
            and d.window_closes >= now
        ):
            pending.append(_time_sensitive(d, staff))
        if since <= d.window_closes < now:
            pending.append(_missed(d, staff))
    pending += [_round_open(group, staff) for group in rounds.values()]

    counts = _notifications_insert(pending, at=now)
    return SweepResult(
        doses=len(doses),
        round_open=counts[ROUND_OPEN],
        time_sensitive=counts[TIME_SENSITIVE_DUE],
        missed=counts[DOSE_MISSED],
    )


class SyncFailed(Exception):
    """Some homes' doses could not be materialised; the others were."""


def doses_sync_all(*, now: dt.datetime | None = None) -> int:
    """Materialise every home's doses for local yesterday..tomorrow, so the sweep has doses to
    remind about. One home failing does not stop the others; the failure is raised at the end
    so the task retries (doses_sync is idempotent). Returns how many doses were created."""
    now = now or timezone.now()
    created, failed = 0, []
    for home in CareHome.objects.order_by("pk"):
        today = now.astimezone(home.tz).date()
        try:
            result = doses_sync(
                home=home,
                start=today - dt.timedelta(days=1),
                end=today + dt.timedelta(days=1),
                now=now,
            )
        except Exception:
            log.exception("doses_sync failed for home %s", home.pk)
            failed.append(home.pk)
            continue
        created += result.created
    if failed:
        raise SyncFailed(f"doses_sync failed for homes {failed}")
    return created


# --- PRN effectiveness follow-ups (R-MAR-8, R-ALR-3) -----------------------------------------


@transaction.atomic
def prn_follow_up_alerts_send(*, now: dt.datetime | None = None) -> int:
    """A PRN dose given more than 60 minutes ago with no effectiveness follow-up: tell the
    person who gave it and the seniors on shift in the home, once per dose. Set-based across
    homes, like the sweep."""
    now = now or timezone.now()
    given = list(
        Administration.objects.filter(
            dose__isnull=True,
            line__is_prn=True,
            outcome=Outcome.GIVEN,
            corrects__isnull=True,
            administered_at__gt=now - PRN_FOLLOW_UP_LOOKBACK,
            administered_at__lte=now - PRN_FOLLOW_UP_AFTER,
            follow_up__isnull=True,
            corrected_by__isnull=True,
        ).select_related("home", "resident", "line__medicine")
    )
    if not given:
        return 0
    staff = _Staff.load({a.home_id for a in given}, now)
    pending: list[_Pending] = []
    for a in given:
        recipients = staff.on_shift_anywhere(a.home_id, [Role.SENIOR])
        if staff.is_staff(a.home_id, a.recorded_by_id):
            recipients.append(staff.users[a.recorded_by_id])

        def text(a: Administration = a) -> tuple[str, str, str]:
            medicine, who, given_at = (
                a.line.medicine.name,
                a.resident.shown_name,
                _hhmm(a.administered_at, a.home),
            )
            return (
                f"PRN follow-up due: was {medicine} effective for {who}? (given at {given_at})",
                f"{medicine} was given as needed to {who} at {given_at}. Record whether it worked.",
                _resident_link(a.resident_id),
            )

        pending.append(
            _Pending(
                kind=PRN_FOLLOW_UP_DUE,
                subject=f"administration:{a.pk}",
                window=str(a.pk),
                home_id=a.home_id,
                recipients=list({u.pk: u for u in recipients}.values()),
                text=text,
            )
        )
    return _notifications_insert(pending, at=now)[PRN_FOLLOW_UP_DUE]


# --- Daily reviews due (R-RX-8, R-RX-6, R-RES-4, R-ALR-3) ------------------------------------


def _members(home: CareHome, roles: Iterable[str]) -> list[User]:
    return list(core_selectors.staff_of_home(home, roles))


def plan_review_alerts_send(*, home: CareHome, today: dt.date) -> int:
    """Covert plans (R-RX-8) and PRN protocols (R-RX-6) past their review date, on live lines:
    the home's managers and seniors, once per plan and review date."""
    recipients = _members(home, [Role.MANAGER, Role.SENIOR])
    if not recipients:
        return 0
    overdue = selectors.overdue_plans(home, today)
    sent = 0
    for key, kind, what, url in (
        ("covert", COVERT_REVIEW_DUE, "Covert plan", "medications:covert_plan"),
        ("prn", PRN_PROTOCOL_REVIEW_DUE, "PRN protocol", "medications:prn_protocol"),
    ):
        for plan in overdue[key]:
            line = plan.line
            sent += notify(
                recipients=recipients,
                home=home,
                kind=kind,
                subject=f"{key}:{plan.pk}",
                window=plan.review_date.isoformat(),
                title=(
                    f"{what} review due: {line.medicine.name} for {line.resident.shown_name} "
                    f"(review date {_day(plan.review_date)})"
                ),
                body=f"The {what.lower()} needs reviewing and updating with the team.",
                link=reverse(url, args=[line.pk]),
            )
    return sent


def medication_review_alerts_send(*, home: CareHome, today: dt.date) -> int:
    """Residents whose last medication review is over 12 months old (R-RES-4): the home's
    managers, once a month while it stays overdue."""
    recipients = _members(home, [Role.MANAGER])
    if not recipients:
        return 0
    sent = 0
    for resident in resident_selectors.reviews_overdue(home, today):
        last = resident.last_review
        since = f"last review {_day(last)}" if last else f"admitted {_day(resident.admitted_on)}"
        sent += notify(
            recipients=recipients,
            home=home,
            kind=MEDICATION_REVIEW_OVERDUE,
            subject=f"resident:{resident.pk}",
            window=f"{today:%Y-%m}",
            title=f"Medication review overdue: {resident.shown_name} ({since})",
            body="Arrange a structured medication review with the GP or pharmacist.",
            link=_resident_link(resident.pk),
        )
    return sent


def daily_alerts_send(*, home: CareHome, today: dt.date | None = None) -> int:
    today = today or home.local_today()
    return plan_review_alerts_send(home=home, today=today) + medication_review_alerts_send(
        home=home, today=today
    )
