"""Quick user switch on a shared tablet (R-SEC-2): username + PIN for staff who do not need a
one-time code. django-axes counts wrong PINs like wrong passwords, so a PIN cannot be guessed
more than LOGIN_FAILURE_LIMIT times."""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.hashers import check_password, make_password

from .models import User

PIN_LENGTHS = range(4, 7)


def pin_set(*, user: User, pin: str) -> None:
    if not (pin.isdigit() and len(pin) in PIN_LENGTHS):
        raise ValueError("A PIN is 4 to 6 digits.")
    user.pin_hash = make_password(pin)
    user.save(update_fields=["pin_hash"])


class PinBackend(BaseBackend):
    """Authenticates `username` + `pin`; never a manager, admin or inspector (they sign in with
    password and code)."""

    def authenticate(self, request, username: str | None = None, pin: str | None = None, **kw):
        if not username or not pin:
            return None
        user = User.objects.filter(username=username, is_active=True).exclude(pin_hash="").first()
        if user is None or not check_password(pin, user.pin_hash):
            return None
        from . import permissions

        if permissions.needs_two_factor(user):
            return None
        return user

    def get_user(self, user_id):
        return User.objects.filter(pk=user_id, is_active=True).first()
