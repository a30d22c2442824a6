"""The audit trail (R-SEC-4, H-9): per-home chains of HMAC-sealed links, checkpoints of each
chain's head kept outside the database, and digests of the clinical rows the links record.

What this proves, and to whom (README "Security"): someone who can write to the database but
holds neither the key (AUDIT_TRAIL_KEY, from the environment) nor the checkpoint files cannot
edit, insert or re-chain a link without `verify_audit_trail` naming it; cannot remove the newest
links without the next checkpoint disagreeing; and cannot change, insert or remove an
administration, stock movement (the CD register) or other digested clinical row without the
row disagreeing with the digest its link recorded.

Links written before keyed links existed carry key id "" (legacy, plain SHA-256). They are
accepted only as the start of a chain that goes on with keyed links: migration
`0003_audit_trail_hmac` seals every existing chain with one keyed link, so a chain rewritten
wholly in the legacy scheme is refused.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import BigIntegerField, Min
from django.db.models.functions import Cast
from django.utils import timezone

from .models import AuditChain, AuditEvent, CareHome, User

logger = logging.getLogger("emar.audit")

LEGACY = ""  # the key id of a link written before keyed links (plain SHA-256)
GENESIS = "0" * 64
CHUNK = 2000


# --- Keys ------------------------------------------------------------------------------------


def audit_keys() -> tuple[str, dict[str, bytes]]:
    """The current key id and every key that may verify a link, by id.

    Unset AUDIT_TRAIL_KEY (the embedded run, tests) gives a key derived from SECRET_KEY under the
    id "dev"; `check --deploy` refuses that (emar.E010), production sets a key of its own."""
    secret = settings.AUDIT_TRAIL_KEY
    if secret:
        current = settings.AUDIT_TRAIL_KEY_ID
        key = secret.encode()
    else:
        current = "dev"
        key = hmac.new(settings.SECRET_KEY.encode(), b"emar audit trail", "sha256").digest()
    keys = {kid: old.encode() for kid, old in settings.AUDIT_TRAIL_OLD_KEYS.items()}
    keys[current] = key
    return current, keys


def _mac(key: bytes, payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


# --- Links -----------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """JSON-native form of `value`, so the hash is the same after a database round trip."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))


def _link_payload(
    *,
    prev_hash: str,
    home_id: int,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    before: Any,
    after: Any,
) -> dict:
    return {
        "prev": prev_hash,
        "home": home_id,
        "seq": seq,
        "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor_id,
        "action": action,
        "type": object_type,
        "id": object_id,
        "before": before,
        "after": after,
    }


def audit_hash(**fields: Any) -> str:
    """The legacy (pre-HMAC) link hash: SHA-256 of the link, keyed by nothing."""
    text = json.dumps(_link_payload(**fields), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def link_mac(*, key: bytes, key_id: str, record_digest: str, **fields: Any) -> str:
    """The keyed seal of one link: HMAC-SHA-256 over the link, its key id and record digest."""
    return _mac(key, {**_link_payload(**fields), "key": key_id, "record": record_digest})


def _link_fields(event: AuditEvent) -> dict:
    return {
        "prev_hash": event.prev_hash,
        "home_id": event.home_id,
        "seq": event.seq,
        "at": event.at,
        "actor_id": event.actor_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before,
        "after": event.after,
    }


# --- Clinical row digests --------------------------------------------------------------------


def _field_value(field: models.Field, instance: models.Model) -> Any:
    """One field as the database gives it back: 1 and 1.000 are one Decimal, times are UTC."""
    value = field.value_from_object(instance)
    if value is None:
        return None
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or None
    value = field.to_python(value)
    if isinstance(value, Decimal):
        if isinstance(field, models.DecimalField) and field.decimal_places is not None:
            # as the database stores it: numeric(p, s) rounds half away from zero
            value = value.quantize(Decimal(1).scaleb(-field.decimal_places), ROUND_HALF_UP)
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(dt.UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return _canonical(value)


def _row(instance: models.Model) -> dict:
    return {
        "model": instance._meta.label,
        "pk": str(instance.pk),
        "fields": {f.attname: _field_value(f, instance) for f in instance._meta.concrete_fields},
    }


def record_digest(
    instance: models.Model, written: dict[str, list[models.Model]] | None = None
) -> str:
    """SHA-256 of a canonical serialisation of the row's concrete fields, as saved.

    A model may name reverse relations whose rows are part of the record
    (`audit_digest_includes`, e.g. the stock movements an administration made): they are
    digested with it, in primary-key order. `written` gives those rows when the caller has
    just saved them (no read back); otherwise they are read through the relation."""
    payload = _row(instance)
    for name in getattr(type(instance), "audit_digest_includes", ()):
        rows = written[name] if written is not None else getattr(instance, name).all()
        related = sorted(rows, key=lambda r: r.pk)
        payload[name] = [_row(r) for r in related]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _as_saved(record: models.Model) -> models.Model:
    """The row read back from the database, so the digest sees what the database stored (a
    decimal rounded to its places, say), not what the caller happened to hold."""
    model = type(record)
    rows = model._base_manager.all()
    if includes := getattr(model, "audit_digest_includes", ()):
        rows = rows.prefetch_related(*includes)
    return rows.get(pk=record.pk)


# --- Appending -------------------------------------------------------------------------------


@transaction.atomic(savepoint=False)  # no savepoint round trips while the chain is locked
def audit_append(
    *,
    home: CareHome | int,
    actor: User | None,
    action: str,
    obj: Any = None,
    before: Any = None,
    after: Any = None,
    record: models.Model | None = None,
    written: dict[str, list[models.Model]] | None = None,
) -> AuditEvent:
    """Append one link to the home's chain: who, when, what, before and after (R-SEC-4).

    `record` is the clinical row this link records (an administration, a stock movement...),
    already saved: its digest is sealed into the link, so `verify_audit_trail` notices the row
    being changed afterwards (H-9). It is also the link's object unless `obj` says otherwise.
    By default the row is read back so the digest sees what the database stored. A caller
    that has just written the row and every row its digest includes, in this transaction, may
    pass those rows as `written` (by `audit_digest_includes` name): the digest is then taken
    from them as the database stores them (decimals rounded to their places, times in UTC),
    saving the read back (SPEC §11).

    Everything that does not need the chain head is computed first; the head row is locked
    last, so appends for one home are serialised for as short a time as possible and other
    homes are not blocked at all.
    """
    home_id = home if isinstance(home, int) else home.pk
    if record is not None:
        if record.pk is None:
            raise ValueError("audit_append(record=...) needs a saved row")
        obj = record if obj is None else obj
    if record is None:
        digest = ""
    elif written is not None:
        digest = record_digest(record, written)
    else:
        digest = record_digest(_as_saved(record))
    object_type = obj._meta.label if obj is not None else ""
    object_id = str(obj.pk) if obj is not None else ""
    before, after = _canonical(before), _canonical(after)
    key_id, keys = audit_keys()
    actor_id = actor.pk if actor else None

    chain = AuditChain.objects.select_for_update().filter(home_id=home_id).first()
    if chain is None:  # the home's first entry; a racing first writer meets the unique rule
        with transaction.atomic():
            AuditChain.objects.get_or_create(home_id=home_id)
        chain = AuditChain.objects.select_for_update().get(home_id=home_id)
    seq = chain.last_seq + 1
    at = timezone.now()
    seal = link_mac(
        key=keys[key_id],
        key_id=key_id,
        record_digest=digest,
        prev_hash=chain.last_hash,
        home_id=home_id,
        seq=seq,
        at=at,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    event = AuditEvent(
        home_id=home_id,
        seq=seq,
        at=at,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        prev_hash=chain.last_hash,
        hash=seal,
        key_id=key_id,
        record_digest=digest,
    )
    chain.last_seq, chain.last_hash = seq, seal
    if connection.vendor == "postgresql":
        _link_and_head(event, chain)
    else:
        event.save(force_insert=True)
        chain.save(update_fields=["last_seq", "last_hash"])
    return event


def _link_and_head(event: AuditEvent, chain: AuditChain) -> None:
    """Insert the link and move the head in one statement (PostgreSQL: a data-modifying CTE),
    so the locked head is held for one round trip, not two (SPEC §11)."""
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
    # table and column names come from the models; every value is a parameter
    sql = (
        f"WITH link AS (INSERT INTO {AuditEvent._meta.db_table} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id) "
        f"UPDATE {AuditChain._meta.db_table} SET last_seq = %s, last_hash = %s "
        "WHERE id = %s RETURNING (SELECT id FROM link)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, chain.last_seq, chain.last_hash, chain.pk])
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, connection.alias


def audit_legacy_seal(*, event_model: type[models.Model], chain_model: type[models.Model]) -> int:
    """Close every chain that ends in legacy links with one keyed link ("audit.sealed").

    Run once by the migration that introduced keyed links (with the historical models); after
    it, a chain made only of legacy links cannot be genuine. Returns the chains sealed."""
    key_id, keys = audit_keys()
    sealed = 0
    for chain in chain_model.objects.select_for_update().filter(last_seq__gt=0).order_by("pk"):
        last = event_model.objects.filter(home_id=chain.home_id).order_by("-seq").first()
        if last is None or last.key_id != LEGACY:
            continue
        fields = {
            "prev_hash": chain.last_hash,
            "home_id": chain.home_id,
            "seq": chain.last_seq + 1,
            "at": timezone.now(),
            "actor_id": None,
            "action": "audit.sealed",
            "object_type": "",
            "object_id": "",
            "before": None,
            "after": {"legacy_entries": chain.last_seq},
        }
        seal = link_mac(key=keys[key_id], key_id=key_id, record_digest="", **fields)
        event_model.objects.create(
            home_id=chain.home_id,
            seq=fields["seq"],
            at=fields["at"],
            actor_id=None,
            action=fields["action"],
            before=None,
            after=fields["after"],
            prev_hash=chain.last_hash,
            hash=seal,
            key_id=key_id,
        )
        chain.last_seq, chain.last_hash = fields["seq"], seal
        chain.save(update_fields=["last_seq", "last_hash"])
        sealed += 1
    return sealed


# --- Checkpoints outside the database --------------------------------------------------------


def _checkpoint_dir() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def audit_checkpoint_write() -> int:
    """Append a signed checkpoint of every chain's head to today's checkpoint file and the log.

    Run by beat every 10 minutes. Each line is written with one `write` on a file opened for
    appending, under an exclusive lock, so runs that overlap only add lines; a repeated
    checkpoint is harmless. Returns the number of chains checkpointed."""
    key_id, keys = audit_keys()
    at = timezone.now().astimezone(dt.UTC).isoformat(timespec="seconds")
    lines = []
    for home_id, seq, head in (
        AuditChain.objects.filter(last_seq__gt=0)
        .order_by("home_id")
        .values_list("home_id", "last_seq", "last_hash")
    ):
        point = {"home": home_id, "seq": seq, "head": head, "at": at, "key": key_id}
        point["mac"] = _mac(keys[key_id], point)
        lines.append(json.dumps(point, sort_keys=True, separators=(",", ":")))
    if not lines:
        return 0
    folder = _checkpoint_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"audit-checkpoints-{at[:10]}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, ("\n".join(lines) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    for line in lines:
        logger.info("audit checkpoint %s", line)
    return len(lines)


@dataclass(frozen=True)
class Checkpoint:
    home_id: int
    seq: int
    head: str
    at: str


def _checkpoints_read(problems: list) -> dict[int, Checkpoint]:
    """The newest valid checkpoint of each home; a line whose seal fails is itself a problem."""
    _, keys = audit_keys()
    latest: dict[int, Checkpoint] = {}
    folder = _checkpoint_dir()
    if not folder.is_dir():
        return latest
    for path in sorted(folder.glob("audit-checkpoints-*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    point = json.loads(line)
                    mac = point.pop("mac")
                    key = keys[point["key"]]
                    good = hmac.compare_digest(mac, _mac(key, point))
                    found = Checkpoint(
                        int(point["home"]), int(point["seq"]), str(point["head"]), point["at"]
                    )
                except (ValueError, KeyError, TypeError, AttributeError):
                    good = False
                if not good:
                    problems.append(BadCheckpoint(path.name, number))
                    continue
                if found.home_id not in latest or found.seq >= latest[found.home_id].seq:
                    latest[found.home_id] = found
    return latest


# --- Verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    home_id: int
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"home {self.home_id}, entry {self.seq}: {self.reason}"


@dataclass(frozen=True)
class BadCheckpoint:
    file: str
    line: int
    reason: str = "the checkpoint's signature does not match (checkpoint file altered)"

    def __str__(self) -> str:
        return f"checkpoint {self.file} line {self.line}: {self.reason}"


@dataclass(frozen=True)
class TamperedRecord:
    label: str
    pk: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label} {self.pk}: {self.reason}"


def _verify_chain(home_id: int, chain: AuditChain | None, point: Checkpoint | None, keys):
    prev, expected_seq, keyed_seen = GENESIS, 1, False
    events = AuditEvent.objects.filter(home_id=home_id).order_by("seq")
    for event in events.iterator(chunk_size=CHUNK):
        if event.seq != expected_seq:
            return BrokenLink(home_id, expected_seq, "entry missing")
        if event.prev_hash != prev:
            return BrokenLink(home_id, event.seq, "does not follow the entry before")
        if event.key_id == LEGACY:
            if keyed_seen or event.record_digest:
                return BrokenLink(home_id, event.seq, "content was altered (unkeyed entry)")
            good = audit_hash(**_link_fields(event)) == event.hash
        elif event.key_id not in keys:
            return BrokenLink(
                home_id,
                event.seq,
                f"sealed with unknown key {event.key_id!r} (add it to AUDIT_TRAIL_OLD_KEYS)",
            )
        else:
            keyed_seen = True
            seal = link_mac(
                key=keys[event.key_id],
                key_id=event.key_id,
                record_digest=event.record_digest,
                **_link_fields(event),
            )
            good = hmac.compare_digest(seal, event.hash)
        if not good:
            return BrokenLink(home_id, event.seq, "content was altered")
        if point is not None and event.seq == point.seq and event.hash != point.head:
            return BrokenLink(
                home_id,
                event.seq,
                f"differs from the checkpoint of {point.at} (entries rewritten)",
            )
        prev, expected_seq = event.hash, expected_seq + 1
    last = expected_seq - 1
    if point is not None and last < point.seq:
        return BrokenLink(
            home_id,
            last + 1,
            f"chain ends at entry {last} but the checkpoint of {point.at} recorded entry "
            f"{point.seq} (entries removed)",
        )
    if last and not keyed_seen:
        return BrokenLink(home_id, 1, "no keyed entry: the chain was rewritten without the key")
    if chain is None:
        if last:
            return BrokenLink(home_id, last, "chain head missing")
        return None
    if chain.last_seq != last or chain.last_hash != prev:
        return BrokenLink(home_id, last + 1, "chain ends early (entries removed)")
    return None


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _verify_records(label: str) -> list[TamperedRecord]:
    """Every row of one digested model against the digest of the newest link recording it.

    Rows newer than the first digested row with no link at all are reported too (a row inserted
    behind the service's back); older rows predate digests and are not judged."""
    problems: list[TamperedRecord] = []
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return [TamperedRecord(label, "-", "the audit trail records a model that is gone")]
    digested = AuditEvent.objects.filter(object_type=label).exclude(record_digest="")
    integer_pk = isinstance(model._meta.pk, models.AutoField | models.IntegerField)
    # The first digested row of each home (of all homes, for a model without a home): rows
    # after it must have their own link; rows before it were written before digests were.
    first_pk: dict[int | None, int] = {}
    if integer_pk:
        first = Min(Cast("object_id", BigIntegerField()))
        first_pk = dict(
            digested.order_by()
            .values("home_id")
            .annotate(first=first)
            .values_list("home_id", "first")
        )
        first_pk[None] = min(first_pk.values(), default=None)
    covered_by = getattr(model, "audit_covered_by", None)
    rows = model._base_manager.order_by("pk")
    includes = getattr(model, "audit_digest_includes", ())
    if includes:
        rows = rows.prefetch_related(*includes)
    seen = 0
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK), CHUNK):
        latest: dict[str, tuple[int, str]] = {}
        for object_id, seq, digest in digested.filter(
            object_id__in=[str(r.pk) for r in chunk]
        ).values_list("object_id", "seq", "record_digest"):
            if object_id not in latest or seq > latest[object_id][0]:
                latest[object_id] = (seq, digest)
        for row in chunk:
            key = str(row.pk)
            if key in latest:
                seen += 1
                if record_digest(row) != latest[key][1]:
                    problems.append(TamperedRecord(label, key, "changed since it was recorded"))
            elif covered_by and getattr(row, f"{covered_by}_id", None) is not None:
                continue  # digested with the row it belongs to
            elif (since := first_pk.get(getattr(row, "home_id", None))) and row.pk > since:
                problems.append(TamperedRecord(label, key, "has no audit entry"))
    recorded = digested.values("object_id").distinct().count()
    if recorded > seen:
        ids = digested.values_list("object_id", flat=True).distinct().order_by("object_id")
        for chunk in _chunks(ids.iterator(chunk_size=CHUNK), CHUNK):
            pks = [int(i) if integer_pk else i for i in chunk]
            present = {
                str(pk)
                for pk in model._base_manager.filter(pk__in=pks).values_list("pk", flat=True)
            }
            problems.extend(
                TamperedRecord(label, i, "was removed after it was recorded")
                for i in chunk
                if i not in present
            )
    return problems


def audit_verify(*, home_ids: list[int] | None = None, records: bool = True) -> list:
    """Check every chain, the checkpoints outside the database and the digested clinical rows.

    Returns the problems found: the first broken link of each chain (`BrokenLink`), checkpoint
    lines whose seal fails (`BadCheckpoint`), and clinical rows that no longer match what was
    recorded, were removed, or have no audit entry (`TamperedRecord`)."""
    _, keys = audit_keys()
    problems: list = []
    points = _checkpoints_read(problems)
    chains = {c.home_id: c for c in AuditChain.objects.all()}
    homes = set(chains) | set(points)
    if home_ids is not None:
        homes &= set(home_ids)
    for home_id in sorted(homes):
        link = _verify_chain(home_id, chains.get(home_id), points.get(home_id), keys)
        if link is not None:
            problems.append(link)
    if records and home_ids is None:
        labels = (
            AuditEvent.objects.exclude(record_digest="")
            .order_by("object_type")
            .values_list("object_type", flat=True)
            .distinct()
        )
        for label in labels:
            problems.extend(_verify_records(label))
    return problems
