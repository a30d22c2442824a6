from django.conf import settings

from . import permissions
from .selectors import current_home


def emar(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"idle_logout_minutes": settings.IDLE_LOGOUT_MINUTES}
    if (
        settings.TWO_FACTOR_REQUIRED
        and not user.is_verified()
        and permissions.needs_two_factor(user)
    ):
        # Nothing but the code page and sign-out until the one-time code is entered.
        return {"idle_logout_minutes": settings.IDLE_LOGOUT_MINUTES, "two_factor_pending": True}
    home = current_home(request)
    return {
        "current_home": home,
        "current_role": permissions.role_in(user, home) if home else None,
        "my_homes": permissions.homes_for(user).order_by("name"),
        "idle_logout_minutes": settings.IDLE_LOGOUT_MINUTES,
    }
