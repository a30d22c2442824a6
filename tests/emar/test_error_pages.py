"""Error pages keep the navigation and say what to do next (not bare text)."""

from __future__ import annotations

from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error


def test_not_found_page_has_the_navigation(client, carer_a, home_b):
    client.force_login(carer_a)
    response = client.get(reverse("staff", args=[home_b.pk]))
    assert response.status_code == 404
    body = response.content.decode()
    assert "This page isn’t here" in body
    assert f'href="{reverse("dashboard")}"' in body
    assert 'aria-label="Main"' in body
    assert "Home B" not in body  # a 404 never says whose record it was


def test_forbidden_page_says_why_and_who_can_help(client, carer_a, home_a):
    client.force_login(carer_a)
    response = client.get(reverse("staff", args=[home_a.pk]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Your role cannot" in body
    assert "ask the manager" in body
    assert "Go to the dashboard" in body


def test_server_error_page_renders_without_a_request_context(rf: RequestFactory):
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "downtime MAR" in body
