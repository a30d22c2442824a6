"""Request-wide behaviour: idle logout for shared tablets (R-SEC-2), security headers (R-SEC-3)."""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

LAST_SEEN = "emar_last_seen"
# Background polling (the notification badge) must not keep an unattended tablet signed in.
POLL_HEADER = "HTTP_X_EMAR_POLL"


class IdleLogoutMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last = request.session.get(LAST_SEEN)
            if last is not None and now - last > settings.IDLE_LOGOUT_MINUTES * 60:
                logout(request)
                messages.info(
                    request,
                    f"You were signed out after {settings.IDLE_LOGOUT_MINUTES} minutes "
                    "without activity. Sign in again to carry on.",
                )
                login_url = reverse(settings.LOGIN_URL)
                if request.htmx:
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = login_url
                    return response
                return redirect(f"{login_url}?{urlencode({'next': request.get_full_path()})}")
            if not request.META.get(POLL_HEADER) and (last is None or now - last > 15):
                request.session[LAST_SEEN] = now
        return self.get_response(request)


class SecurityHeadersMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        return response


def mark_active_on_login(sender, request, user, **kwargs) -> None:
    """A fresh sign-in starts a fresh idle period (connected in EmarConfig.ready)."""
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN] = time.time()
