"""Thin views of the shared core: dashboard, home switcher, staff and access, health check."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from . import jobs, permissions, selectors, services
from .celery import app as celery_app
from .forms import InspectorGrantForm
from .models import AuditEvent, Membership, Role, Unit
from .permissions import Perm, requires


@require_safe
@login_required
def dashboard(request):
    home = selectors.current_home(request)
    if home is None:
        return render(request, "emar/no_home.html", status=403)
    role = permissions.role_in(request.user, home)
    context = {
        "home": home,
        "role": role,
        "units": selectors.units_for(request.user, home),
        "rounds": home.rounds.all(),
        "shift": selectors.open_shift(request.user),
        "can_work_shifts": role in permissions.STAFF,
    }
    if role in permissions.MANAGERS:
        context["staff_count"] = selectors.staff_count(home)
        context["heartbeats"] = selectors.heartbeats()
        context["jobs_health"] = jobs.jobs_health()
    if role == permissions.ADMIN:
        context["homes"] = selectors.homes_overview(request.user)
    # R-DASH-1: today's medicines panel, drawn by the audits app (which reads every app) through
    # a setting, so that the core does not import the apps above it (docs/architecture.md).
    if settings.EMAR_HOME_DASHBOARD and permissions.has_perm(
        request.user, Perm.VIEW_HOME_DASHBOARD, home
    ):
        context["home_panel"] = import_string(settings.EMAR_HOME_DASHBOARD)(request, home)
    return render(request, "emar/dashboard.html", context)


@require_POST
@requires(Perm.VIEW_HOME)
def home_switch(request, home):
    request.session[selectors.SESSION_HOME] = home.pk
    return redirect("dashboard")


@require_POST
@requires(Perm.GRANT_INSPECTOR)
def inspector_grant(request, home):
    form = InspectorGrantForm(request.POST, home=home)
    if form.is_valid():
        user = form.cleaned_data["username"]
        if permissions.role_in(user, home) not in (None, Role.INSPECTOR):
            form.add_error("username", "This person is staff of this home, not an inspector.")
        else:
            try:
                services.membership_set(
                    user=user,
                    home=home,
                    role=Role.INSPECTOR,
                    by=request.user,
                    expires_at=form.expires_at(),
                )
            except services.DomainError as e:
                form.add_error(None, e)
            else:
                messages.success(
                    request,
                    f"{user} can read {home} until {form.cleaned_data['expires_on']:%d %b %Y}.",
                )
                return redirect("staff", home_id=home.pk)
    from .staff_views import staff_page

    return staff_page(request, home, status=400, form=form)


@require_POST
@requires(Perm.GRANT_INSPECTOR)
def membership_end(request, membership_id: int):
    membership = permissions.scoped_get(
        request.user,
        Perm.GRANT_INSPECTOR,
        Membership.objects.select_related("user", "home"),
        pk=membership_id,
    )
    if membership.user_id == request.user.pk:
        return HttpResponseBadRequest("You cannot end your own access.")
    try:
        services.membership_end(membership=membership, by=request.user)
    except services.DomainError as e:
        from .staff_views import staff_page

        return staff_page(request, membership.home, status=400, error=e.message)
    messages.success(request, f"Access for {membership.user} to {membership.home} has ended.")
    return redirect("staff", home_id=membership.home_id)


@require_safe
@requires(Perm.VIEW_AUDIT_TRAIL)
def audit_trail(request, home):
    events = AuditEvent.objects.filter(home=home).select_related("actor").order_by("-seq")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    rows = selectors.audit_trail_rows(page.object_list)
    return render(request, "emar/audit_trail.html", {"home": home, "page": page, "rows": rows})


def _database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as e:  # any failure to reach the database is a failed check
        return f"error: {type(e).__name__}"
    return "ok"


@never_cache
@require_GET
def healthz_web(request):
    """R-RUN-5: the web node's own liveness, for its container healthcheck and the load
    balancer: 200 when this process answers and reaches the database, else 503. It does not
    look at the broker, the worker or beat, so a dead worker never takes web out of rotation
    (monitoring reads `/healthz` for those)."""
    database = _database_check()
    ok = database == "ok"
    return JsonResponse(
        {"status": "ok" if ok else "error", "database": database}, status=200 if ok else 503
    )


@never_cache
@require_GET
def healthz(request):
    """R-RUN-5: 200 when the database, the broker, the worker and beat are alive; 503 naming
    the part that failed. The worker and beat are judged from their heartbeats
    (`emar.jobs.jobs_health`); just after a start, before the first heartbeat, they say
    "starting" and the status is "starting" with 200."""
    result = {"status": "ok", "database": "ok", "broker": "ok", "worker": "ok", "beat": "ok"}
    result["database"] = _database_check()
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as e:  # the broker being down must be reported, not raised
        result["broker"] = f"error: {type(e).__name__}"
    starting = False
    if result["database"] == "ok":
        health = jobs.jobs_health()
        result["worker"], result["beat"] = health.worker, health.beat
        starting = health.starting
    else:
        result["worker"] = result["beat"] = "unknown: the database is not answering"
    failed = [k for k in ("database", "broker", "worker", "beat") if result[k] != "ok"]
    if starting and all(result[k].startswith("starting") for k in failed):
        result["status"] = "starting"
        status = 200
    elif failed:
        result["status"] = "error"
        status = 503
    else:
        status = 200
    if settings.DEBUG:
        result["broker_url"] = celery_app.conf.broker_url.split("@")[-1]
    return JsonResponse(result, status=status)


# --- Shifts and notifications --------------------------------------------------------------------


@require_POST
@requires(Perm.RECORD_DOSE)
def shift_start(request, home):
    unit = None
    unit_id = request.POST.get("unit", "")
    if unit_id:
        if not unit_id.isdigit():
            return HttpResponseBadRequest("Choose a unit from the list.")
        unit = Unit.objects.filter(home=home, pk=int(unit_id)).first()
        if unit is None:
            return HttpResponseBadRequest("That unit is not in this home.")
    try:
        services.shift_start(user=request.user, home=home, unit=unit)
    except services.DomainError as e:
        return HttpResponseBadRequest(e.message)
    where = unit.name if unit else f"the whole of {home.name}"
    messages.success(request, f"You are on shift in {where}. Reminders for it come to you.")
    return redirect("dashboard")


@require_POST
@login_required
def shift_end(request):
    if services.shift_end(user=request.user):
        messages.success(request, "Your shift has ended. Reminders no longer come to you.")
    return redirect("dashboard")


@require_safe
@login_required
def notifications(request):
    items = selectors.notifications_for(request.user)
    page = Paginator(items, 30).get_page(request.GET.get("page"))
    return render(request, "emar/notifications.html", {"page": page})


@require_safe
@never_cache
@login_required
def notification_badge(request):
    # Rendered without the request: the polled badge needs none of the page's context.
    html = render_to_string(
        "emar/partials/notification_badge.html", {"unread": selectors.unread_count(request.user)}
    )
    return HttpResponse(html)


@require_POST
@login_required
def notification_read(request, notification_id: int):
    notification = get_object_or_404(selectors.notifications_for(request.user), pk=notification_id)
    services.notification_read(notification=notification)
    if notification.link and url_has_allowed_host_and_scheme(notification.link, allowed_hosts=None):
        return redirect(notification.link)
    return redirect("notifications")


@require_POST
@login_required
def notifications_read_all(request):
    n = services.notifications_read_all(user=request.user)
    messages.success(request, f"{n} notifications marked as read.")
    return redirect("notifications")


# --- Two-factor sign-in (R-SEC-2) ----------------------------------------------------------------


@never_cache
@login_required
def two_factor(request):
    """Set up (first time) or enter the one-time code from an authenticator app."""
    import segno
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from .forms import OneTimeCodeForm

    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = ""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    setting_up = device is None
    if setting_up:
        device, _ = TOTPDevice.objects.get_or_create(
            user=request.user, confirmed=False, defaults={"name": "Authenticator app"}
        )
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        allowed, why = device.verify_is_allowed()
        if not allowed and why and why.get("locked_until"):
            from .witness import minutes_words

            wait = minutes_words(why["locked_until"] - timezone.now())
            form.add_error(
                None,
                f"Too many wrong codes: try again in {wait}, or ask a manager to unlock.",
            )
        elif form.is_valid() and device.verify_token(form.cleaned_data["code"]):
            if setting_up:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            messages.success(request, "Signed in with your one-time code.")
            return redirect(nxt or "dashboard")
        else:
            form.add_error("code", "That code is not right. Codes change every 30 seconds.")
    context = {"form": form, "setting_up": setting_up, "next": nxt}
    if setting_up:
        context["qr"] = segno.make(device.config_url, error="m").svg_data_uri(scale=5)
        context["secret"] = _base32(device.bin_key)
    return render(request, "registration/two_factor.html", context, status=status)


def _base32(key: bytes) -> str:
    import base64

    return base64.b32encode(key).decode().rstrip("=")


# --- Quick user switch with a PIN (R-SEC-2) -------------------------------------------------------


@never_cache
def pin_switch(request):
    """Hand the shared tablet to a colleague: their username and PIN sign them in (and whoever
    was signed in out). Wrong PINs count towards the account lockout."""
    from django.contrib.auth import authenticate, login, logout

    from .forms import PinSwitchForm

    form = PinSwitchForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            user = authenticate(
                request, username=form.cleaned_data["username"], pin=form.cleaned_data["pin"]
            )
            if user is not None:
                if request.user.is_authenticated:
                    logout(request)
                login(request, user, backend="emar.auth.PinBackend")
                messages.success(request, f"Signed in as {user}.")
                return redirect("dashboard")
            form.add_error(
                None,
                "Username or PIN not recognised. Managers, admins and inspectors sign in with "
                "password and code.",
            )
    return render(request, "registration/pin_switch.html", {"form": form}, status=status)


@never_cache
@login_required
def pin_set(request):
    from django.contrib.auth import authenticate

    from . import auth
    from .forms import PinSetForm

    form = PinSetForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            if authenticate(
                request, username=request.user.username, password=form.cleaned_data["password"]
            ):
                auth.pin_set(user=request.user, pin=form.cleaned_data["pin"])
                messages.success(request, "Your PIN is set: use it to switch to yourself.")
                return redirect("dashboard")
            form.add_error("password", "That password is not right.")
    return render(
        request,
        "registration/pin_set.html",
        {"form": form, "allowed": not permissions.needs_two_factor(request.user)},
        status=status,
    )


@require_GET
def service_worker(request):
    """The service worker (static/emar/sw.js) from the site's root, so that its scope may be
    the whole site (R-OFF-1 groundwork): a static file's address could only control /static/.
    Public like any script; it holds no data, and revalidated on every load so an update
    reaches the tablets."""
    from django.contrib.staticfiles import finders
    from django.contrib.staticfiles.storage import staticfiles_storage

    found = finders.find("emar/sw.js")
    with open(found, "rb") if found else staticfiles_storage.open("emar/sw.js") as f:
        body = f.read()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
