"""Writes of the shared core: homes with their defaults, staff roles, inspector access, and the
hash-chained audit trail (R-SEC-4) that every clinical write goes through."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import permissions
from .audit_trail import (  # noqa: F401 (the audit trail's API, imported from here)
    BrokenLink,
    audit_append,
    audit_checkpoint_write,
    audit_hash,
    audit_verify,
    record_digest,
)
from .celery import app as celery_app
from .models import (
    TEXT_MAX,
    CareHome,
    CodeCategory,
    Membership,
    NonAdministrationCode,
    Notification,
    Provider,
    Role,
    Round,
    Scanning,
    Shift,
    Unit,
    User,
    WitnessThrottle,
)

_Record = TypeVar("_Record", bound=models.Model)


class DomainError(ValidationError):
    """A rule refused the action; `code` is stable (tests and the API assert on it)."""

    # Always given (ValidationError allows a lazy message and no code).
    message: str
    code: str

    def __init__(self, message: str, *, code: str, params: dict | None = None) -> None:
        super().__init__(message, code=code, params=params)


# --- Idempotent creation: one record per submitted form -----------------------------------------


def _by_key(model: type[_Record], key: UUID, scope: dict[str, Any]) -> _Record | None:
    found = model._default_manager.filter(idempotency_key=key).first()
    if found is not None and any(getattr(found, f) != v for f, v in scope.items()):
        raise DomainError(
            "This form was already used for something else. Reload the page and enter it again.",
            code="key_reused",
        )
    return found


def idempotent(
    model: type[_Record], *, scope: Callable[..., dict[str, Any]] | None = None
) -> Callable[[Callable[..., _Record]], Callable[..., _Record]]:
    """Make a create service idempotent on its `idempotency_key` argument.

    The same key again returns the first record instead of writing a second one. Two requests
    with the same key at the same moment both pass the first look-up; the database's unique
    rule on the key refuses the later insert, the service's writes are undone with their
    savepoint (nothing half-written stays), and the first record is returned. `scope(**kwargs)`
    names fields the first record must share (e.g. the same line), so a key can never hand back
    someone else's record. Without a key (old API clients) the service runs as before.
    """

    def decorate(service: Callable[..., _Record]) -> Callable[..., _Record]:
        @functools.wraps(service)
        @transaction.atomic
        def run(*, idempotency_key: UUID | None = None, **kwargs: Any) -> _Record:
            if idempotency_key is None:
                return service(**kwargs)
            expected = scope(**kwargs) if scope else {}
            if found := _by_key(model, idempotency_key, expected):
                return found
            try:
                with transaction.atomic():
                    return service(idempotency_key=idempotency_key, **kwargs)
            except IntegrityError:
                if found := _by_key(model, idempotency_key, expected):
                    return found
                raise

        return run

    return decorate


DEFAULT_ROUNDS: tuple[tuple[str, dt.time], ...] = (
    ("Morning", dt.time(8, 0)),
    ("Lunchtime", dt.time(12, 0)),
    ("Teatime", dt.time(17, 0)),
    ("Night", dt.time(22, 0)),
)

# R-MAR-6 default code set: (code, label, category, note required, destroys, stock alert, retry)
DEFAULT_CODES: tuple[tuple[str, str, str, bool, bool, bool, bool], ...] = (
    ("R", "Refused", CodeCategory.REFUSED, False, False, False, False),
    ("N", "Nausea or vomiting", CodeCategory.CLINICAL, False, False, False, False),
    ("H", "In hospital", CodeCategory.ABSENT, False, False, False, False),
    ("L", "On leave", CodeCategory.ABSENT, False, False, False, False),
    ("S", "Asleep (will retry)", CodeCategory.OTHER, False, False, False, True),
    ("W", "Withheld on clinical advice", CodeCategory.CLINICAL, True, False, False, False),
    (
        "D",
        "Prepared but refused or spoiled, destroyed",
        CodeCategory.REFUSED,
        False,
        True,
        False,
        False,
    ),
    ("U", "Unavailable — out of stock", CodeCategory.STOCK, False, False, True, False),
    ("X", "Not required (as directed / PRN)", CodeCategory.OTHER, False, False, False, False),
    ("O", "Other", CodeCategory.OTHER, True, False, False, False),
)


# --- Audit trail (R-SEC-4): emar/audit_trail.py; imported from here by every app --------------


# --- Organisation (R-ORG-1, R-ORG-5) ------------------------------------------------------------


@transaction.atomic
def home_create(
    *, provider: Provider, name: str, timezone_name: str = "Europe/London", by: User | None = None
) -> CareHome:
    """A home with the default rounds and non-administration codes (R-ORG-5, R-MAR-6)."""
    home = CareHome(provider=provider, name=name, timezone=timezone_name)
    home.full_clean()
    home.save()
    Round.objects.bulk_create(Round(home=home, name=n, time=t) for n, t in DEFAULT_ROUNDS)
    NonAdministrationCode.objects.bulk_create(
        NonAdministrationCode(
            home=home,
            code=code,
            label=label,
            category=category,
            note_required=note,
            destroys_dose=destroys,
            raises_stock_alert=stock,
            retry_later=retry,
        )
        for code, label, category, note, destroys, stock, retry in DEFAULT_CODES
    )
    audit_append(home=home, actor=by, action="home.created", obj=home, after={"name": name})
    return home


@transaction.atomic
def unit_create(*, home: CareHome, name: str, by: User | None = None) -> Unit:
    unit = Unit(home=home, name=name)
    unit.full_clean()
    unit.save()
    audit_append(home=home, actor=by, action="unit.created", obj=unit, after={"name": name})
    return unit


STAFF_ROLES: tuple[str, ...] = (Role.CARER, Role.SENIOR, Role.MANAGER)


def _lock_home(home: CareHome | int) -> CareHome:
    """Serialise staff changes of one home: two managers ending each other's roles at the same
    moment cannot leave the home without a manager."""
    home_id = home if isinstance(home, int) else home.pk
    return CareHome.objects.select_for_update().get(pk=home_id)


def _keeps_a_manager(*, home: CareHome, losing: Membership) -> None:
    """R-ORG-6: a home always keeps a manager; the last one cannot end or change their role."""
    if losing.role != Role.MANAGER or not losing.active:
        return
    others = (
        Membership.objects.current()
        .filter(home=home, role=Role.MANAGER, user__is_active=True)
        .exclude(pk=losing.pk)
    )
    if not others.exists():
        raise DomainError(
            f"{losing.user} is the only manager of {home}: give someone else the manager role "
            "first, so the home always has a manager.",
            code="last_manager",
        )


def _end(membership: Membership, *, by: User | None, now: dt.datetime) -> None:
    membership.active = False
    membership.ended_at = now
    membership.ended_by = by
    membership.save(update_fields=["active", "ended_at", "ended_by"])


@transaction.atomic
def membership_set(
    *,
    user: User,
    home: CareHome,
    role: str,
    by: User | None,
    expires_at: dt.datetime | None = None,
    idempotency_key: UUID | None = None,
) -> Membership:
    """Give `user` a role in `home`. A role they already hold is ended and a new one starts,
    so the history of who held which role stays (R-ORG-6). Inspectors need an expiry
    (R-ORG-4); a manager role is never taken from the home's last manager."""
    if role not in Role.values:
        raise DomainError(f"Unknown role {role!r}.", code="bad_role")
    if role == Role.INSPECTOR:
        if expires_at is None:
            raise DomainError("Inspector access needs an expiry date.", code="expiry_required")
        if expires_at <= timezone.now():
            raise DomainError("The expiry date must be in the future.", code="expiry_past")
    else:
        expires_at = None
    _check_account_kind(user=user, role=role)
    home = _lock_home(home)
    if idempotency_key is not None:
        found = Membership.objects.filter(idempotency_key=idempotency_key).first()
        if found is not None:
            if found.user_id != user.pk or found.home_id != home.pk:
                raise DomainError(
                    "This form was already used for something else. Reload the page and enter "
                    "it again.",
                    code="key_reused",
                )
            return found
    now = timezone.now()
    existing = Membership.objects.filter(user=user, home=home, active=True).first()
    before = None
    if existing is not None:
        before = {"role": existing.role, "expires_at": existing.expires_at}
        if existing.role == role and existing.expires_at == expires_at:
            return existing
        if role != Role.MANAGER:
            _keeps_a_manager(home=home, losing=existing)
        _end(existing, by=by, now=now)
    membership = Membership.objects.create(
        user=user,
        home=home,
        role=role,
        expires_at=expires_at,
        granted_by=by,
        granted_at=now,
        idempotency_key=idempotency_key,
    )
    audit_append(
        home=home,
        actor=by,
        action="membership.set",
        obj=membership,
        before=before,
        after={"user": user.username, "role": role, "expires_at": expires_at},
    )
    permissions.forget(user)
    return membership


def _check_account_kind(*, user: User, role: str) -> None:
    """R-SEC-7: an inspector account is only ever an inspector, and staff are never inspectors.

    Any staff role the person holds or has held in any home (or provider administration)
    refuses inspector access; any inspector access they hold or have held refuses a staff role.
    Otherwise a carer of another home could be "granted" read access to every resident here.
    """
    others = Membership.objects.filter(user=user)
    if role == Role.INSPECTOR:
        if user.admin_of_id or others.exclude(role=Role.INSPECTOR).exists():
            raise DomainError(
                f"{user.username} is a staff account, not an inspector's. Inspector access is "
                "only granted to an inspector's own account: ask them for it, or ask your "
                "provider admin to create one.",
                code="not_an_inspector",
            )
    elif others.filter(role=Role.INSPECTOR).exists():
        raise DomainError(
            f"{user.username} is an inspector's account and cannot be given a staff role. "
            "Create a separate staff account for this person.",
            code="inspector_account",
        )


@transaction.atomic
def membership_end(*, membership: Membership, by: User) -> Membership:
    """End a role now (inspector access withdrawn early, a person leaving); the record is
    kept. The home's last manager cannot be ended (R-ORG-6)."""
    home = _lock_home(membership.home_id)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if not membership.active:
        return membership
    _keeps_a_manager(home=home, losing=membership)
    _end(membership, by=by, now=timezone.now())
    audit_append(
        home=membership.home_id,
        actor=by,
        action="membership.ended",
        obj=membership,
        before={"role": membership.role, "active": True},
        after={"active": False},
    )
    permissions.forget(membership.user)
    return membership


# --- Staff of a home (R-ORG-6) ------------------------------------------------------------------


def _staff_scope(**kwargs: Any) -> dict[str, Any]:
    return {"home": kwargs["home"]}


@idempotent(Membership, scope=_staff_scope)
def person_add(
    *,
    home: CareHome,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    password: str,
    role: str,
    by: User,
    idempotency_key: UUID | None = None,
) -> Membership:
    """A new staff account with a role in `home`. The initial password must be changed at the
    first sign-in (`must_change_password`, enforced by `PasswordChangeRequiredMiddleware`)."""
    from django.contrib.auth.password_validation import validate_password

    if role not in STAFF_ROLES:
        raise DomainError(
            "Choose carer, senior or manager. Inspector access is granted below the staff list; "
            "provider admins are set up by the provider.",
            code="bad_role",
        )
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise DomainError(
            f"The username {username} is taken: choose another (e.g. add an initial).",
            code="username_taken",
        )
    user = User(
        username=username,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        email=email.strip(),
        must_change_password=True,
    )
    try:
        validate_password(password, user)
    except ValidationError as e:
        raise DomainError(" ".join(e.messages), code="weak_password") from None
    user.set_password(password)
    _checked(user, exclude=["password"])
    user.save()
    audit_append(
        home=home,
        actor=by,
        action="staff.added",
        obj=user,
        after={"username": username, "name": user.get_full_name(), "email": user.email},
    )
    return membership_set(user=user, home=home, role=role, by=by, idempotency_key=idempotency_key)


def _checked(obj: models.Model, **kwargs: Any) -> None:
    """The model's own field rules, as a DomainError the screens show (R-REL-1)."""
    try:
        obj.full_clean(**kwargs)
    except ValidationError as e:
        raise DomainError(" ".join(e.messages), code="invalid") from None


def staff_member(*, home: CareHome, user_id: int) -> User:
    """A person with a staff role (current or ended) in `home`; anyone else is not found."""
    from django.http import Http404

    user = (
        User.objects.filter(pk=user_id, memberships__home=home)
        .exclude(memberships__home=home, memberships__role=Role.INSPECTOR)
        .distinct()
        .first()
    )
    if user is None:
        raise Http404("No such staff member in this home")
    return user


@transaction.atomic
def account_unlock(*, home: CareHome, user: User, by: User) -> int:
    """R-SEC-6: clear the sign-in lockout (django-axes) of a person of this home, the
    throttling of their one-time codes, and the witness throttles of their name on every
    tablet. Returns how many records were cleared."""
    from axes.utils import reset
    from django_otp.plugins.otp_totp.models import TOTPDevice

    cleared = reset(username=user.username)
    TOTPDevice.objects.filter(user=user).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    witness, _ = WitnessThrottle.objects.filter(
        models.Q(witness=user) | models.Q(username=user.username.lower())
    ).delete()
    audit_append(
        home=home,
        actor=by,
        action="account.unlocked",
        obj=user,
        after={"user": user.username, "sign_in_attempts": cleared, "witness_locks": witness},
    )
    return cleared + witness


@transaction.atomic
def witness_throttle_clear(*, home: CareHome, throttle: WitnessThrottle, by: User) -> None:
    """R-SEC-6: a manager lets a witness try again on one tablet."""
    audit_append(
        home=home,
        actor=by,
        action="witness_lock.cleared",
        obj=throttle,
        before={"username": throttle.username, "failures": throttle.failures},
    )
    throttle.delete()


@transaction.atomic
def staff_pin_reset(*, home: CareHome, user: User, by: User) -> None:
    """R-ORG-6: remove a person's PIN (forgotten or seen by someone else). They set a new one
    with their password; the manager never learns it."""
    user = User.objects.select_for_update().get(pk=user.pk)
    had_pin = bool(user.pin_hash)
    user.pin_hash = ""
    user.save(update_fields=["pin_hash"])
    audit_append(
        home=home,
        actor=by,
        action="pin.reset",
        obj=user,
        before={"user": user.username, "pin_set": had_pin},
        after={"pin_set": False},
    )


# --- Home settings (R-ORG-5, R-MAR-6) -----------------------------------------------------------

# Called with (home=) after round times, the dose window or the timezone change, so the apps
# above the core re-materialise the doses they schedule from them (medications registers).
_schedule_hooks: list[Callable[..., None]] = []

DOSE_WINDOW_RANGE = (15, 180)


def schedule_changed_register(hook: Callable[..., None]) -> None:
    if hook not in _schedule_hooks:
        _schedule_hooks.append(hook)


def _schedule_changed(home: CareHome) -> None:
    for hook in _schedule_hooks:
        hook(home=home)


def _round_scope(**kwargs: Any) -> dict[str, Any]:
    return {"home": kwargs["home"]}


@idempotent(Round, scope=_round_scope)
def round_save(
    *,
    home: CareHome,
    name: str,
    time: dt.time,
    by: User,
    round: Round | None = None,
    idempotency_key: UUID | None = None,
) -> Round:
    """Add a round, or rename or move one (R-ORG-5). Names and times are unique in the home;
    doses from now on follow the new time (the past is never rewritten)."""
    home = _lock_home(home)
    name = " ".join(name.split())
    if not name:
        raise DomainError("Give the round a name, e.g. Morning.", code="round_name")
    time = time.replace(second=0, microsecond=0)
    others = Round.objects.filter(home=home)
    if round is not None:
        if round.home_id != home.pk:
            raise DomainError("That round is not in this home.", code="wrong_home")
        others = others.exclude(pk=round.pk)
    if clash := others.filter(time=time).first():
        raise DomainError(
            f"The {clash.name} round is already at {time:%H:%M}: choose another time.",
            code="round_time_taken",
        )
    if others.filter(name__iexact=name).exists():
        raise DomainError(f"There is already a round called {name}.", code="round_name_taken")
    before = {"name": round.name, "time": round.time} if round else None
    if round is None:
        round = Round(home=home, idempotency_key=idempotency_key)
    round.name, round.time = name, time
    _checked(round, exclude=["idempotency_key"], validate_constraints=False)
    round.save()
    audit_append(
        home=home,
        actor=by,
        action="round.saved",
        obj=round,
        before=before,
        after={"name": name, "time": time},
    )
    _schedule_changed(home)
    return round


@transaction.atomic
def home_settings_update(
    *, home: CareHome, dose_window_minutes: int, timezone_name: str, by: User
) -> CareHome:
    """The dose window (15 to 180 minutes either side) and the home's timezone (R-ORG-5)."""
    from .models import validate_timezone

    low, high = DOSE_WINDOW_RANGE
    if not low <= dose_window_minutes <= high:
        raise DomainError(
            f"The dose window is between {low} and {high} minutes either side.",
            code="dose_window_range",
        )
    try:
        validate_timezone(timezone_name)
    except ValidationError:
        raise DomainError(
            f"{timezone_name} is not a timezone: choose one from the list.", code="bad_timezone"
        ) from None
    home = _lock_home(home)
    before = {"dose_window_minutes": home.dose_window_minutes, "timezone": home.timezone}
    after = {"dose_window_minutes": dose_window_minutes, "timezone": timezone_name}
    if before == after:
        return home
    home.dose_window_minutes = dose_window_minutes
    home.timezone = timezone_name
    home.save(update_fields=["dose_window_minutes", "timezone"])
    audit_append(home=home, actor=by, action="home.settings", obj=home, before=before, after=after)
    _schedule_changed(home)
    return home


@transaction.atomic
def home_scanning_set(*, home: CareHome, scanning: str, by: User) -> CareHome:
    """Barcode scanning at the round optional or required (R-SCAN-1): with "required", "Given"
    needs a matching scan of the pack or a recorded reason (medications' scanning service)."""
    if scanning not in Scanning.values:
        raise DomainError("Choose optional or required.", code="bad_scanning")
    home = _lock_home(home)
    if home.scanning == scanning:
        return home
    before = {"scanning": home.scanning}
    home.scanning = scanning
    home.save(update_fields=["scanning"])
    audit_append(
        home=home,
        actor=by,
        action="home.scanning",
        obj=home,
        before=before,
        after={"scanning": scanning},
    )
    return home


def _code_scope(**kwargs: Any) -> dict[str, Any]:
    return {"home": kwargs["home"]}


@idempotent(NonAdministrationCode, scope=_code_scope)
def code_add(
    *,
    home: CareHome,
    code: str,
    label: str,
    category: str,
    note_required: bool,
    by: User,
    idempotency_key: UUID | None = None,
) -> NonAdministrationCode:
    """A new non-administration code of the home (R-MAR-6)."""
    code = code.strip().upper()
    if not code.isalnum() or not 1 <= len(code) <= 2:
        raise DomainError("A code is one or two letters or digits, e.g. T.", code="bad_code")
    if category not in CodeCategory.values:
        raise DomainError("Choose the code's category from the list.", code="bad_category")
    home = _lock_home(home)
    if existing := NonAdministrationCode.objects.filter(home=home, code=code).first():
        state = "in use" if existing.active else "retired: restore it instead"
        raise DomainError(
            f"The code {code} ({existing.label}) already exists and is {state}.",
            code="code_taken",
        )
    item = NonAdministrationCode(
        home=home,
        code=code,
        label=" ".join(label.split()),
        category=category,
        note_required=note_required,
        idempotency_key=idempotency_key,
    )
    _checked(item, exclude=["idempotency_key"], validate_constraints=False)
    item.save()
    audit_append(
        home=home,
        actor=by,
        action="code.added",
        obj=item,
        after={"code": code, "label": item.label, "category": category},
    )
    return item


@transaction.atomic
def code_active_set(
    *, home: CareHome, code: NonAdministrationCode, active: bool, by: User
) -> NonAdministrationCode:
    """Retire a code (no longer offered on the round; past records keep it) or restore it."""
    code = NonAdministrationCode.objects.select_for_update().get(pk=code.pk, home=home)
    if code.active == active:
        return code
    if (
        not active
        and not NonAdministrationCode.objects.filter(home=home, active=True)
        .exclude(pk=code.pk)
        .exists()
    ):
        raise DomainError("The home needs at least one code in use.", code="last_code")
    code.active = active
    code.save(update_fields=["active"])
    audit_append(
        home=home,
        actor=by,
        action="code.restored" if active else "code.retired",
        obj=code,
        before={"code": code.code, "active": not active},
        after={"active": active},
    )
    return code


@transaction.atomic
def code_delete(*, home: CareHome, code: NonAdministrationCode, by: User) -> None:
    """Delete a code no record has used; a code in use by past records can only be retired,
    so the MAR chart and audits keep explaining them (R-MAR-4, R-MAR-6)."""
    code = NonAdministrationCode.objects.select_for_update().get(pk=code.pk, home=home)
    audit_append(
        home=home,
        actor=by,
        action="code.deleted",
        obj=code,
        before={"code": code.code, "label": code.label, "category": code.category},
    )
    try:
        with transaction.atomic():
            code.delete()
    except models.ProtectedError:
        raise DomainError(
            f"The code {code.code} is on past records, so it cannot be deleted: retire it "
            "instead (it stops being offered, and old records keep it).",
            code="code_in_use",
        ) from None


# --- Shifts (who is on duty for a unit, R-ALR-1) ------------------------------------------------


@transaction.atomic
def shift_start(*, user: User, home: CareHome, unit: Unit | None) -> Shift:
    """Clock in to a unit (or the whole home). An open shift elsewhere is ended first, so a
    person is on duty in one place at a time (a database rule backs this)."""
    if permissions.role_in(user, home) not in permissions.STAFF:
        raise DomainError("Only staff of this home can start a shift here.", code="not_staff")
    if unit is not None and unit.home_id != home.pk:
        raise DomainError("That unit is not in this home.", code="wrong_home")
    now = timezone.now()
    for open_shift in Shift.objects.select_for_update().filter(user=user, ended_at__isnull=True):
        open_shift.ended_at = now
        open_shift.save(update_fields=["ended_at"])
    shift = Shift.objects.create(user=user, home=home, unit=unit, started_at=now)
    audit_append(
        home=home,
        actor=user,
        action="shift.started",
        obj=shift,
        after={"unit": unit.name if unit else None},
    )
    return shift


@transaction.atomic
def shift_end(*, user: User) -> Shift | None:
    shift = Shift.objects.select_for_update().filter(user=user, ended_at__isnull=True).first()
    if shift is None:
        return None
    shift.ended_at = timezone.now()
    shift.save(update_fields=["ended_at"])
    audit_append(home=shift.home_id, actor=user, action="shift.ended", obj=shift)
    return shift


# --- Notifications (R-ALR-4, R-ALR-5) ------------------------------------------------------------


@transaction.atomic
def notify(
    *,
    recipients: list[User] | QuerySet[User],
    home: CareHome,
    kind: str,
    subject: str,
    window: str = "",
    title: str,
    body: str = "",
    link: str = "",
    urgent: bool = False,
) -> int:
    """Tell each recipient once. A second call with the same kind, subject and window (a
    repeated sweep, another worker) adds nothing: the database's unique rule decides, not a
    check-then-insert. Returns how many notifications are new."""
    recipients = list({u.pk: u for u in recipients}.values())
    if not recipients:
        return 0
    if len(body) > TEXT_MAX:  # the database's bound: a notification points to the record
        body = body[: TEXT_MAX - 1] + "…"
    before = Notification.objects.filter(kind=kind, subject=subject, window=window).count()
    Notification.objects.bulk_create(
        [
            Notification(
                recipient=user,
                home=home,
                kind=kind,
                subject=subject,
                window=window,
                title=title,
                body=body,
                link=link,
                urgent=urgent,
            )
            for user in recipients
        ],
        ignore_conflicts=True,
    )
    created = (
        Notification.objects.filter(kind=kind, subject=subject, window=window).count() - before
    )
    emailable = list(
        Notification.objects.filter(
            kind=kind,
            subject=subject,
            window=window,
            emailed_at__isnull=True,
            recipient__email_notifications=True,
        )
        .exclude(recipient__email="")
        .values_list("pk", flat=True)
    )
    notification_emails_enqueue(emailable)
    return max(created, 0)


def notification_emails_enqueue(notification_ids: list[int]) -> None:
    """Email these notifications once the transaction commits (R-ALR-4); the task sends each
    at most once (`notification_email_send`)."""
    if not notification_ids:
        return
    email = celery_app.signature("emar.tasks.notification_email")  # by name: tasks import us
    ids = list(notification_ids)
    transaction.on_commit(lambda: [email.delay(pk) for pk in ids])


@transaction.atomic
def notification_email_send(*, notification_id: int) -> bool:
    """Email one notification unless it has been emailed already. The row lock keeps two
    workers from sending the same email; a crash before commit means a retry sends it."""
    n = (
        Notification.objects.select_for_update()
        .select_related("recipient", "home")
        .filter(pk=notification_id, emailed_at__isnull=True)
        .first()
    )
    if n is None or not n.recipient.email or not n.recipient.email_notifications:
        return False
    body = n.body
    if n.link:
        body = f"{body}\n\nOpen eMAR: {n.link}".strip()
    send_mail(f"[eMAR {n.home.name}] {n.title}", body, None, [n.recipient.email])
    n.emailed_at = timezone.now()
    n.save(update_fields=["emailed_at"])
    return True


def notification_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notifications_read_all(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
