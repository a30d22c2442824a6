import itertools
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from emar.checks import audit_trail_key_check
from emar.models import AuditEvent
from emar.services import audit_append, audit_verify


def _append_three(home, user):
    for n in range(3):
        audit_append(home=home, actor=user, action="test.write", after={"n": n})


def test_a_fresh_chain_verifies(home_a, manager_a):
    _append_three(home_a, manager_a)
    assert audit_verify() == []
    call_command("verify_audit_trail")


def test_each_home_has_its_own_chain(home_a, home_b, manager_a):
    _append_three(home_a, manager_a)
    audit_append(home=home_b, actor=None, action="test.write")
    for home in (home_a, home_b):
        events = list(AuditEvent.objects.filter(home=home).order_by("seq"))
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].prev_hash == "0" * 64
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


def test_verifier_catches_an_edited_row(home_a, manager_a):
    _append_three(home_a, manager_a)
    victim = AuditEvent.objects.filter(home=home_a, action="test.write").order_by("seq")[1]
    AuditEvent.objects.filter(pk=victim.pk).update(after={"n": 99})
    broken = audit_verify()
    assert [(b.home_id, b.seq, b.reason) for b in broken] == [
        (home_a.pk, victim.seq, "content was altered")
    ]
    with pytest.raises(CommandError, match=f"entry {victim.seq}"):
        call_command("verify_audit_trail")


def test_verifier_catches_a_deleted_row(home_a, manager_a):
    _append_three(home_a, manager_a)
    victim = AuditEvent.objects.filter(home=home_a).order_by("seq")[1]
    AuditEvent.objects.filter(pk=victim.pk).delete()
    assert [b.seq for b in audit_verify()] == [victim.seq]


def test_verifier_catches_a_removed_tail(home_a, manager_a):
    _append_three(home_a, manager_a)
    AuditEvent.objects.filter(home=home_a).order_by("-seq").first().delete()
    assert audit_verify()[0].reason == "chain ends early (entries removed)"


def test_verifier_catches_a_changed_actor(home_a, manager_a, senior_a):
    _append_three(home_a, manager_a)
    victim = AuditEvent.objects.filter(home=home_a, actor=manager_a).order_by("seq").last()
    AuditEvent.objects.filter(pk=victim.pk).update(actor=senior_a)
    assert audit_verify()[0].seq == victim.seq


def test_check_deploy_refuses_a_missing_or_weak_audit_trail_key(settings):
    settings.AUDIT_TRAIL_KEY = ""
    assert [e.id for e in audit_trail_key_check(None)] == ["emar.E010"]
    with pytest.raises(SystemCheckError, match="AUDIT_TRAIL_KEY is not set"):
        call_command("check", deploy=True, tags=["security"])
    settings.AUDIT_TRAIL_KEY = "short"
    assert [e.id for e in audit_trail_key_check(None)] == ["emar.E011"]
    settings.AUDIT_TRAIL_KEY = "a-random-secret-of-forty-characters-0123"
    assert audit_trail_key_check(None) == []


def test_a_malformed_key_id_stops_start_up():
    result = subprocess.run(
        [sys.executable, "-c", "import django, os; django.setup()"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "emar.settings",
            "AUDIT_TRAIL_KEY_ID": "no spaces, please",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "Audit trail key id" in result.stderr
