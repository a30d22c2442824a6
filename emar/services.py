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
    Shift,
    Unit,
    User,
)

_Record = TypeVar("_Record", bound=models.Model)


class DomainError(ValidationError):
    """A rule refused the action; `code` is stable (tests and the API assert on it)."""

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


@transaction.atomic
def membership_set(
    *,
    user: User,
    home: CareHome,
    role: str,
    by: User | None,
    expires_at: dt.datetime | None = None,
) -> Membership:
    """Give `user` a role in `home` (replacing any other). Inspectors need an expiry (R-ORG-4)."""
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
    existing = Membership.objects.select_for_update().filter(user=user, home=home).first()
    before = (
        {"role": existing.role, "active": existing.active, "expires_at": existing.expires_at}
        if existing
        else None
    )
    membership, _ = Membership.objects.update_or_create(
        user=user,
        home=home,
        defaults={
            "role": role,
            "expires_at": expires_at,
            "granted_by": by,
            "granted_at": timezone.now(),
            "active": True,
        },
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
    """End a role now (e.g. inspector access withdrawn early); the record is kept."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if not membership.active:
        return membership
    membership.active = False
    membership.save(update_fields=["active"])
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
    from .tasks import notification_email

    ids = list(notification_ids)
    transaction.on_commit(lambda: [notification_email.delay(pk) for pk in ids])


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
