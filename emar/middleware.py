"""Request-wide behaviour: idle logout for shared tablets (R-SEC-2), security headers and no
caching of personal data (R-SEC-3), refusing unusable query strings (R-REL-1), the inspector
access log (R-INS-1)."""

import functools
import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.module_loading import import_string

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


class TwoFactorMiddleware:
    """R-SEC-2: until a manager, provider admin or inspector has entered a one-time code in
    this session, every page sends them to set up or enter it (signing out still works)."""

    ALLOWED = (
        "two_factor",
        "logout",
        "healthz",
        "healthz_web",
        "login",
        "pin_switch",
        "service_worker",
    )

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.TWO_FACTOR_REQUIRED
            and user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not request.path.startswith(settings.STATIC_URL)
        ):
            from . import permissions

            match = getattr(request, "resolver_match", None)
            name = match.url_name if match else None
            if name is None:
                from django.urls import Resolver404, resolve

                try:
                    name = resolve(request.path_info).url_name
                except Resolver404:
                    name = None
            if name not in self.ALLOWED and permissions.needs_two_factor(user):
                target = reverse("two_factor") + "?" + urlencode({"next": request.get_full_path()})
                if request.htmx:
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = target
                    return response
                return redirect(target)
        return self.get_response(request)


class RequestGuardMiddleware:
    """R-REL-1, before any view runs: the product's pages are read with GET and changed with
    POST, so PUT, PATCH, DELETE and the like get 405; and a NUL character in the address
    (`?q=%00`) cannot reach the database (PostgreSQL refuses it in any text) nor be shown back:
    400 with what to do."""

    METHODS = ("GET", "HEAD", "POST")

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in self.METHODS:
            return HttpResponseNotAllowed(self.METHODS)
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                "The address contains a character that is not allowed. "
                "Go back and search or open the page again.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """R-SEC-3 headers; and `Cache-Control: no-store` on every page and file served to a
    signed-in user (resident pages, photos, the round, MAR charts, PDFs), so a shared tablet's
    browser or a proxy keeps no copy of personal data. Static files are served before this
    (WhiteNoise) and stay cacheable; a view that sets its own Cache-Control keeps it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            response["Cache-Control"] = "private, no-store"
        return response


@functools.cache
def _access_logger(path: str) -> Callable:
    return import_string(path)


class InspectorAccessLogMiddleware:
    """Hand every successful GET of a signed-in user to the access logger (R-INS-1).

    The logger (`settings.EMAR_ACCESS_LOGGER`, the audits app) decides what is logged: every page
    and download an inspector opens in a home they were granted, and the reports area for
    everyone. It is resolved lazily so the core app does not depend on audits. Background polls
    (the notification badge) are not views; failed requests (404 for an expired inspector)
    showed nothing.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            request.method == "GET"
            and 200 <= response.status_code < 300
            and user is not None
            and user.is_authenticated
            and getattr(request, "resolver_match", None) is not None
            and not request.META.get(POLL_HEADER)
            and settings.EMAR_ACCESS_LOGGER
        ):
            _access_logger(settings.EMAR_ACCESS_LOGGER)(request, response)
        return response


def mark_active_on_login(sender, request, user, **kwargs) -> None:
    """A fresh sign-in starts a fresh idle period (connected in EmarConfig.ready)."""
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN] = time.time()


class DeviceCookieMiddleware:
    """R-SEC-6: a long-lived, signed cookie naming this browser (a tablet on the trolley), kept
    across sign-outs and user switches, so wrong witness passwords are counted per device
    (`emar.witness`). It identifies the device only, never a person."""

    MAX_AGE = 400 * 24 * 60 * 60  # browsers cap cookies at 400 days

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        from .witness import DEVICE_COOKIE, DEVICE_SALT, new_device_id

        value = request.get_signed_cookie(DEVICE_COOKIE, default="", salt=DEVICE_SALT)
        fresh = not value
        request.emar_device = value or new_device_id()
        response = self.get_response(request)
        if fresh and not request.path.startswith(settings.STATIC_URL):
            response.set_signed_cookie(
                DEVICE_COOKIE,
                request.emar_device,
                salt=DEVICE_SALT,
                max_age=self.MAX_AGE,
                httponly=True,
                secure=settings.SESSION_COOKIE_SECURE,
                samesite="Lax",
            )
        return response


class PasswordChangeRequiredMiddleware:
    """R-ORG-6: an account made by a manager signs in with its initial password once; until the
    person has chosen their own, every page sends them to change it (signing out, the one-time
    code and the change itself still work)."""

    ALLOWED = (
        "password_change",
        "password_change_done",
        "logout",
        "login",
        "two_factor",
        "pin_switch",
        "healthz",
        "notification_badge",
        "service_worker",
    )

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "must_change_password", False)
            and not request.path.startswith(settings.STATIC_URL)
        ):
            from django.urls import Resolver404, resolve

            try:
                name = resolve(request.path_info).url_name
            except Resolver404:
                name = None
            if name not in self.ALLOWED:
                target = reverse("password_change")
                if request.htmx:
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = target
                    return response
                messages.info(request, "Choose your own password before you carry on.")
                return redirect(target)
        return self.get_response(request)
