from django.conf import settings
from django.core.cache import cache
from django.utils.functional import SimpleLazyObject

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
    role = permissions.role_in(user, home) if home else None
    context = {
        "current_home": home,
        "current_role": role,
        # The caller's permissions in this home, from the one matrix (R-ORG-3): menus ask
        # `home_perms.view_stock`, never which role the caller has.
        "home_perms": permissions.HomePerms(permissions.perms_in(user, home)),
        "my_homes": permissions.homes_for(user).order_by("name"),
        "idle_logout_minutes": settings.IDLE_LOGOUT_MINUTES,
    }
    if role in permissions.MANAGERS:
        # Managers are warned on every page when the worker or beat has stopped (R-RUN-5);
        # read at most every 30 s per process, and only by pages that render the layout.
        context["jobs_alert"] = SimpleLazyObject(_jobs_health)
    return context


def _jobs_health():
    from . import jobs

    return cache.get_or_set("emar:jobs_health", jobs.jobs_health, 30)
