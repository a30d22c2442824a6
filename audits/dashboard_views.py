"""Thin views of the home and provider dashboards (R-DASH-1, R-DASH-2). The figures come from
`audits.dashboard`; nothing here writes.

The home dashboard is a panel of the start page (the core's dashboard renders it through
`settings.EMAR_HOME_DASHBOARD`, so the core does not import this app) that reloads itself
every minute from `home_dashboard_panel`. The poll is sent with the `X-EMAR-Poll` header, so
it does not count as activity for the idle sign-out (R-SEC-2) nor as a page view in the
access log, like the notification badge.
"""

from __future__ import annotations

import csv

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_safe

from emar import jobs, permissions
from emar.models import CareHome
from emar.permissions import Perm, requires

from . import dashboard

POLL_SECONDS = 60


def home_panel_html(request, home: CareHome, *, polled: bool = False) -> SafeString:
    """The home dashboard's panel, for the start page and for its own poll.

    Managers see the layout's "background jobs have stopped" alert on every page; the panel
    shows it to seniors, and on a poll (the page is not reloaded) takes it over for everyone,
    emptying the layout's copy so that it is never shown twice."""
    now = timezone.now()
    health = jobs.jobs_health()
    manager = permissions.role_in(request.user, home) in permissions.MANAGERS
    context = {
        "show_jobs_warning": health.stopped and (polled or not manager),
        "clear_layout_alert": polled and manager,
        "home": home,
        "fig": dashboard.home_figures(home, now=now),
        "now": now,
        "jobs_health": health,
        "poll_seconds": POLL_SECONDS,
        "list_limit": dashboard.LIST_LIMIT,
        "can_run_audit": permissions.has_perm(request.user, Perm.RUN_AUDIT, home),
    }
    return render_to_string("audits/partials/home_dashboard.html", context, request=request)


@require_safe
@requires(Perm.VIEW_HOME_DASHBOARD)
def home_dashboard_panel(request, home):
    return HttpResponse(home_panel_html(request, home, polled=True))


def _csv_safe(value: object) -> object:
    """Spreadsheets run cells starting with = + - @ as formulas; make such text plain text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return f"'{value}"
    return value


def _provider_figures(request, provider):
    try:
        key, desc = dashboard.parse_sort(request.GET.get("sort"))
    except dashboard.BadSort as e:
        return None, HttpResponseBadRequest(str(e))
    homes = list(CareHome.objects.filter(provider=provider).order_by("name"))
    figs = dashboard.provider_figures(homes, sort=key, desc=desc)
    return (key, desc, figs), None


@require_safe
@requires(Perm.VIEW_PROVIDER_DASHBOARD)
def provider_dashboard(request, provider):
    result, error = _provider_figures(request, provider)
    if error:
        return error
    key, desc, figs = result
    columns = [
        {
            "key": k,
            "label": label,
            "active": k == key,
            "desc": desc,
            # a click on the active column turns it round; another column starts highest first
            # for figures and A to Z for names
            "next": (k if desc else f"-{k}") if k == key else (k if k == "home" else f"-{k}"),
        }
        for k, (label, _) in dashboard.SORTS.items()
    ]
    context = {
        "provider": provider,
        "figs": figs,
        "columns": {c["key"]: c for c in columns},
        "sort": f"-{key}" if desc else key,
        "now": timezone.now(),
    }
    return render(request, "audits/provider_dashboard.html", context)


@require_safe
@requires(Perm.VIEW_PROVIDER_DASHBOARD)
def provider_dashboard_csv(request, provider):
    result, error = _provider_figures(request, provider)
    if error:
        return error
    _key, _desc, figs = result
    now = timezone.localtime(timezone.now())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    slug = "".join(c if c.isalnum() else "-" for c in provider.name.lower()).strip("-")
    response["Content-Disposition"] = (
        f'attachment; filename="provider-dashboard-{slug or provider.pk}-{now:%Y-%m-%d-%H%M}.csv"'
    )
    response["Cache-Control"] = "private, no-store"
    writer = csv.writer(response)
    for row in dashboard.csv_rows(figs):
        writer.writerow([_csv_safe(v) for v in row])
    return response
