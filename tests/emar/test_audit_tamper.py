"""R-SEC-4, H-9: the audit trail is tamper-evident against someone who can write to the
database but holds neither the HMAC key nor the checkpoint files. Each attack is made the way
such a person would: raw SQL through `connection.cursor()`, on PostgreSQL."""

from __future__ import annotations

import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from emar import tasks
from emar.models import AuditChain, AuditEvent
from emar.services import audit_append, audit_hash, audit_verify
from tests.factories import HomeFactory

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("postgres")]


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def problems() -> list[str]:
    return [str(p) for p in audit_verify()]


def verify_fails(match: str) -> None:
    with pytest.raises(CommandError, match=match):
        call_command("verify_audit_trail")


def _append_five(home, user) -> int:
    """Five links after those the fixtures wrote; the number of the last."""
    for n in range(5):
        last = audit_append(home=home, actor=user, action="test.write", after={"n": n})
    return last.seq


# --- the chain against a database writer ---------------------------------------------------------


def test_deleting_the_newest_entry_and_stepping_the_head_back_is_caught_by_the_checkpoint(
    home_a, manager_a, settings
):
    last = _append_five(home_a, manager_a)
    tasks.audit_checkpoint.delay()
    sql("DELETE FROM emar_auditevent WHERE home_id = %s AND seq = %s", [home_a.pk, last])
    sql(
        "UPDATE emar_auditchain SET last_seq = %s, last_hash = "
        "(SELECT hash FROM emar_auditevent WHERE home_id = %s AND seq = %s) WHERE home_id = %s",
        [last - 1, home_a.pk, last - 1, home_a.pk],
    )
    assert problems() == [
        f"home {home_a.pk}, entry {last}: chain ends at entry {last - 1} but the checkpoint of "
        f"{_lines(settings)[0]['at']} recorded entry {last} (entries removed)"
    ]
    verify_fails(f"home {home_a.pk}, entry {last}: chain ends at entry {last - 1} but the")


def test_an_entry_edited_and_the_rest_rechained_with_sha256_is_caught(home_a, manager_a):
    victim = _append_five(home_a, manager_a) - 2
    sql(
        """UPDATE emar_auditevent SET after = '{"n": 99}' WHERE home_id = %s AND seq = %s""",
        [home_a.pk, victim],
    )
    # Recompute every later link the way the code computes a hash without a key.
    prev = AuditEvent.objects.get(home=home_a, seq=victim - 1).hash
    for event in AuditEvent.objects.filter(home=home_a, seq__gte=victim).order_by("seq"):
        digest = audit_hash(
            prev_hash=prev,
            home_id=event.home_id,
            seq=event.seq,
            at=event.at,
            actor_id=event.actor_id,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            before=event.before,
            after=event.after,
        )
        sql(
            "UPDATE emar_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [prev, digest, event.pk],
        )
        prev = digest
    sql("UPDATE emar_auditchain SET last_hash = %s WHERE home_id = %s", [prev, home_a.pk])
    assert problems() == [f"home {home_a.pk}, entry {victim}: content was altered"]
    verify_fails(f"entry {victim}: content was altered")


def _rechain_as_legacy(home) -> None:
    """The downgrade: every link rewritten in the unkeyed legacy scheme, from the first."""
    prev = "0" * 64
    for event in AuditEvent.objects.filter(home=home).order_by("seq"):
        fields = {
            "prev_hash": prev,
            "home_id": event.home_id,
            "seq": event.seq,
            "at": event.at,
            "actor_id": event.actor_id,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "before": event.before,
            "after": {"n": 99} if event.seq == 2 else event.after,
        }
        digest = audit_hash(**fields)
        AuditEvent.objects.filter(pk=event.pk).update(
            prev_hash=prev, hash=digest, key_id="", record_digest="", after=fields["after"]
        )
        prev = digest
    last = AuditEvent.objects.filter(home=home).order_by("-seq").first()
    AuditChain.objects.filter(home=home).update(last_seq=last.seq, last_hash=prev)


def test_a_chain_rewritten_wholly_without_the_key_is_refused(home_a, manager_a):
    _append_five(home_a, manager_a)
    _rechain_as_legacy(home_a)
    assert problems() == [
        f"home {home_a.pk}, entry 1: no keyed entry: the chain was rewritten without the key"
    ]


def test_a_legacy_chain_sealed_by_the_migration_verifies_and_cannot_be_extended_unkeyed(
    home_a, manager_a
):
    from emar.audit_trail import audit_legacy_seal

    last = _append_five(home_a, manager_a)
    _rechain_as_legacy(home_a)  # as links written before keyed links look
    assert audit_legacy_seal(event_model=AuditEvent, chain_model=AuditChain) == 1
    assert AuditEvent.objects.get(home=home_a, seq=last + 1).action == "audit.sealed"
    audit_append(home=home_a, actor=manager_a, action="test.write", after={"n": 6})
    assert problems() == []
    # An unkeyed link after a keyed one is refused.
    event = AuditEvent.objects.get(home=home_a, seq=last + 2)
    fields = {
        f: getattr(event, f)
        for f in ("prev_hash", "home_id", "seq", "at", "actor_id", "action", "object_type")
    }
    digest = audit_hash(**fields, object_id="", before=None, after={"n": 6})
    sql("UPDATE emar_auditevent SET key_id = '', hash = %s WHERE id = %s", [digest, event.pk])
    sql("UPDATE emar_auditchain SET last_hash = %s WHERE home_id = %s", [digest, home_a.pk])
    assert problems() == [
        f"home {home_a.pk}, entry {last + 2}: content was altered (unkeyed entry)"
    ]


def test_a_link_sealed_with_another_key_is_caught(db, settings):
    settings.AUDIT_TRAIL_KEY, settings.AUDIT_TRAIL_KEY_ID = "k" * 40, "1"
    home = HomeFactory()
    last = _append_five(home, None)
    settings.AUDIT_TRAIL_KEY = "x" * 40  # someone's guess at the key, under the same id
    assert problems() == [f"home {home.pk}, entry 1: content was altered"]
    settings.AUDIT_TRAIL_KEY = "k" * 40
    assert problems() == [] and last > 1


def test_a_rotated_key_still_verifies_older_links(db, settings):
    settings.AUDIT_TRAIL_KEY, settings.AUDIT_TRAIL_KEY_ID = "old" * 12, "2025"
    home = HomeFactory()
    _append_five(home, None)
    settings.AUDIT_TRAIL_KEY, settings.AUDIT_TRAIL_KEY_ID = "new" * 12, "2026"
    audit_append(home=home, actor=None, action="test.write")
    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {"2025", "2026"}
    assert problems() == [
        f"home {home.pk}, entry 1: sealed with unknown key '2025' (add it to AUDIT_TRAIL_OLD_KEYS)"
    ]
    settings.AUDIT_TRAIL_OLD_KEYS = {"2025": "old" * 12}
    assert problems() == []


# --- checkpoints outside the database -------------------------------------------------------


def _lines(settings) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(settings.AUDIT_CHECKPOINT_DIR.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_the_checkpoint_job_appends_a_signed_line_per_chain_and_logs_it(
    home_a, home_b, manager_a, settings, caplog
):
    last_a = _append_five(home_a, manager_a)
    last_b = audit_append(home=home_b, actor=None, action="test.write").seq
    caplog.set_level("INFO", logger="emar.audit")
    assert tasks.audit_checkpoint.delay().get() == 2
    head_a = AuditChain.objects.get(home=home_a)
    lines = _lines(settings)
    assert [(p["home"], p["seq"]) for p in lines] == [(home_a.pk, last_a), (home_b.pk, last_b)]
    assert lines[0]["head"] == head_a.last_hash and len(lines[0]["mac"]) == 64
    assert sum("audit checkpoint" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.django_db(transaction=True)
def test_checkpoint_runs_that_overlap_only_add_whole_lines(home_a, manager_a, settings):
    last = _append_five(home_a, manager_a)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            tasks.audit_checkpoint.delay()
        except BaseException as e:  # reported by the assertion below
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [(p["home"], p["seq"]) for p in _lines(settings)] == [(home_a.pk, last)] * 4
    assert problems() == []


def test_a_checkpoint_line_altered_in_the_file_is_reported(home_a, manager_a, settings):
    last = _append_five(home_a, manager_a)
    tasks.audit_checkpoint.delay()
    path = next(settings.AUDIT_CHECKPOINT_DIR.glob("*.jsonl"))
    path.write_text(path.read_text().replace(f'"seq":{last}', f'"seq":{last - 2}'))
    assert problems() == [
        f"checkpoint {path.name} line 1: the checkpoint's signature does not "
        "match (checkpoint file altered)"
    ]


def test_a_chain_that_differs_from_its_checkpoint_is_caught(home_a, manager_a, settings):
    """Even a writer holding the key is caught rewriting links a checkpoint already covers."""
    last = _append_five(home_a, manager_a)
    tasks.audit_checkpoint.delay()
    sql("DELETE FROM emar_auditevent WHERE home_id = %s", [home_a.pk])
    sql(
        "UPDATE emar_auditchain SET last_seq = 0, last_hash = %s WHERE home_id = %s",
        ["0" * 64, home_a.pk],
    )
    for n in range(last):
        audit_append(home=home_a, actor=manager_a, action="test.write", after={"n": n + 10})
    assert problems() == [
        f"home {home_a.pk}, entry {last}: differs from the checkpoint of "
        f"{_lines(settings)[0]['at']} (entries rewritten)"
    ]
