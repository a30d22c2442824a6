"""A second person confirming on someone else's tablet (R-MAR-9 witness, R-MAR-8/11/16 second
senior), throttled per device and witness (R-SEC-6).

Wrong passwords typed for a witness are counted per tablet (the device cookie set by
`DeviceCookieMiddleware`) and witness name in `WitnessThrottle`, never against the witness's
own sign-in lockout (django-axes): a carer mistyping on the round cannot lock a senior out of
their account for the night. After `WITNESS_FAILURE_LIMIT` wrong tries the name is refused on
that tablet for `AXES_COOLOFF_TIME`, or until a manager clears it on the staff screen."""

from __future__ import annotations

import datetime as dt
import math
import uuid

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.utils import timezone

from .auth import PIN_LENGTHS, PinBackend
from .models import CareHome, User, WitnessThrottle

DEVICE_COOKIE = "emar_device"
DEVICE_SALT = "emar.device"


class WitnessRefused(Exception):
    """The witness could not be confirmed; `message` says why in words for the screen."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def device_id(request) -> str:
    """This tablet: the signed device cookie (kept across sign-outs and user switches), or the
    session when a browser refuses cookies' persistence."""
    value = getattr(request, "emar_device", "")
    if value:
        return value
    if request.session.session_key is None:
        request.session.save()
    return f"session:{request.session.session_key}"


def new_device_id() -> str:
    return uuid.uuid4().hex


def minutes_words(delta: dt.timedelta) -> str:
    """15 minutes, 1 minute, 2 hours: a wait in plain English (R-SEC-6)."""
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    if minutes >= 120 and minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def account_locked_until(username: str, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the sign-in lockout of `username` (django-axes, by username) ends; None if it is
    not locked."""
    from axes.models import AccessAttempt

    now = now or timezone.now()
    cooloff = settings.AXES_COOLOFF_TIME
    last = (
        AccessAttempt.objects.filter(
            username=username,
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
            attempt_time__gt=now - cooloff,
        )
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return last + cooloff if last else None


def _check_secret(username: str, secret: str) -> User | None:
    """Password, or PIN for staff who may use one, checked without django-axes (whose failure
    count is the account's sign-in lockout)."""
    user = ModelBackend().authenticate(None, username=username, password=secret)
    if user is None and secret.isdigit() and len(secret) in PIN_LENGTHS:
        user = PinBackend().authenticate(None, username=username, pin=secret)
    return user


def throttled_message(wait: dt.timedelta, who: str = "witness") -> str:
    return (
        f"Too many wrong {who} passwords on this tablet: try again in {minutes_words(wait)}, "
        "or ask a manager to unlock."
    )


def witness_authenticate(
    request, *, username: str, secret: str, home: CareHome | None = None, who: str = "witness"
) -> User:
    """The person named confirms with their own password or PIN on this device, or
    `WitnessRefused` says why and how many tries are left on this tablet."""
    now = timezone.now()
    name = username.strip().lower()[:150]
    device = device_id(request)
    limit = settings.WITNESS_FAILURE_LIMIT
    cooloff = settings.AXES_COOLOFF_TIME
    with transaction.atomic():
        throttle = (
            WitnessThrottle.objects.select_for_update().filter(device=device, username=name).first()
        )
        if throttle and throttle.locked_until and throttle.locked_until > now:
            raise WitnessRefused(
                throttled_message(throttle.locked_until - now, who), code="witness_throttled"
            )
    if locked := account_locked_until(username.strip(), now=now):
        raise WitnessRefused(
            f"This {who}'s account is locked after wrong sign-in passwords: try again in "
            f"{minutes_words(locked - now)}, or ask a manager to unlock.",
            code="account_locked",
        )
    user = _check_secret(username.strip(), secret)
    with transaction.atomic():
        throttle, _ = WitnessThrottle.objects.select_for_update().get_or_create(
            device=device, username=name
        )
        if user is not None:
            throttle.delete()
            return user
        if throttle.last_failure_at is None or now - throttle.last_failure_at > cooloff:
            throttle.failures = 0
        throttle.failures += 1
        throttle.last_failure_at = now
        throttle.home = home or throttle.home
        throttle.witness = User.objects.filter(username__iexact=name).first()
        left = limit - throttle.failures
        if left <= 0:
            throttle.locked_until = now + cooloff
        throttle.save()
    if left <= 0:
        raise WitnessRefused(throttled_message(cooloff, who), code="witness_throttled")
    tries = "1 try" if left == 1 else f"{left} tries"
    raise WitnessRefused(
        f"Wrong password for the {who}. {tries} left on this tablet.", code="witness_wrong"
    )
