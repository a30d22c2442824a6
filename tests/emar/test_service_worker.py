"""The service worker (R-OFF-1 groundwork, R-OFF-5): served from the site's root with the header
that lets it control the whole site, as a script allowed by the strict CSP (self only), and
registered only for signed-in pages."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_service_worker_is_served_from_the_root_for_the_whole_site(client):
    response = client.get("/sw.js")
    assert reverse("service_worker") == "/sw.js"
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    assert "ROUND_CACHE" in body and "clearRounds" in body
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert client.post("/sw.js").status_code == 405


def test_signed_in_pages_register_it_and_the_sign_in_page_does_not(client, carer_a):
    page = client.get(reverse("login")).content.decode()
    assert "data-service-worker" not in page
    client.force_login(carer_a)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'data-service-worker="/sw.js"' in page
    assert 'src="/static/emar/offline.js"' in page
