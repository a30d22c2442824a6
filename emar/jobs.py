"""The background jobs' own state (R-RUN-5, R-ALR-5): heartbeats of beat and of the worker of
each queue, and the files built in the background (`BackgroundBuild` rows).

Heartbeats: beat sends `emar.tasks.heartbeat` every minute on each queue with the send time in
its arguments, and records in the row "beat" that it sent (`heartbeat_sent`, evaluated by beat
at send time). The worker that runs it records the run in the row "queue:<name>"
(`heartbeat_record`). So a dead beat shows as an old "beat" row, and a dead or starved worker as
a queue row older than beat's.

Builds: every change of a build row stamps `updated_at`. A build queued or building with no
change for `BUILD_STALE_MINUTES` has lost its worker: `builds_stale_sweep` queues it once more
(at most `MAX_AUTO_RETRIES`, enforced by a database constraint), then marks it failed; a
manager can retry a failed or stalled build (`build_retry`). Each (re)queue raises `attempt` and
the job carries it, so a job of an earlier attempt (redelivered after its worker died) does
nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import TypeVar

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .celery import app as celery_app
from .models import MAX_AUTO_RETRIES, BackgroundBuild, BuildStatus, JobHeartbeat, User
from .services import DomainError, audit_append

log = logging.getLogger(__name__)

BEAT = "beat"
# The queues (README "Background jobs"): reminders, escalations, dose materialisation and
# notifications on one; PDF and ZIP builds on the other, so that reports never delay a reminder.
REMINDERS_QUEUE = "reminders"
REPORTS_QUEUE = "reports"
QUEUES = (REMINDERS_QUEUE, REPORTS_QUEUE)

# When this web process started: a fresh start has a grace period before missing heartbeats
# count as a failure (beat sends its first heartbeat at the next whole minute).
STARTED_AT = timezone.now()


B = TypeVar("B", bound=BackgroundBuild)


class BuildError(DomainError):
    """A build cannot be retried now; `code` is stable."""


def queue_row(queue: str) -> str:
    return f"queue:{queue}"


# --- Heartbeats -----------------------------------------------------------------------------------


def heartbeat_sent() -> str:
    """Evaluated by beat each time it sends a heartbeat (a `BeatLazyFunc` in the schedule):
    records that beat is alive and returns the send time for the task's arguments. Beat must
    keep sending if the database is down, so a failure to record is logged, not raised."""
    now = timezone.now()
    try:
        updated = JobHeartbeat.objects.filter(name=BEAT).update(last_run=now, runs=F("runs") + 1)
        if not updated:
            JobHeartbeat.objects.get_or_create(name=BEAT, defaults={"last_run": now, "runs": 1})
    except Exception:  # the heartbeat itself must still be sent
        log.exception("beat could not record its heartbeat")
    return now.isoformat()


def heartbeat_record(*, name: str, sent_at: dt.datetime | None = None) -> dt.datetime:
    """The worker ran a heartbeat: record when, and when beat sent it."""
    now = timezone.now()
    updated = JobHeartbeat.objects.filter(name=name).update(
        last_run=now, sent_at=sent_at, runs=F("runs") + 1
    )
    if not updated:
        JobHeartbeat.objects.get_or_create(
            name=name, defaults={"last_run": now, "sent_at": sent_at, "runs": 1}
        )
    return now


@dataclass(frozen=True)
class JobsHealth:
    """What `/healthz` and the managers' dashboard say about the worker and beat."""

    worker: str
    beat: str

    @property
    def parts(self) -> tuple[str, str]:
        return (self.worker, self.beat)

    @property
    def ok(self) -> bool:
        return all(p == "ok" for p in self.parts)

    @property
    def starting(self) -> bool:
        return not self.stopped and any(p.startswith("starting") for p in self.parts)

    @property
    def stopped(self) -> bool:
        return any(p.startswith(("stale", "unknown")) for p in self.parts)


def _ago(now: dt.datetime, then: dt.datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    return "under a minute ago" if minutes < 1 else f"{minutes} min ago"


def jobs_health(*, now: dt.datetime | None = None) -> JobsHealth:
    """Beat is stale when it has not sent a heartbeat for `JOBS_STALE_MINUTES`; the worker is
    stale when the last heartbeat it ran on any queue was sent longer ago than that (beat sends
    but nobody runs them, or they wait behind other jobs). During the first
    `JOBS_STARTUP_GRACE_MINUTES` of the web process, missing or old heartbeats say "starting"."""
    now = now or timezone.now()
    limit = dt.timedelta(minutes=settings.JOBS_STALE_MINUTES)
    in_grace = now - STARTED_AT < dt.timedelta(minutes=settings.JOBS_STARTUP_GRACE_MINUTES)
    rows = {
        hb.name: hb for hb in JobHeartbeat.objects.filter(name__in=[BEAT, *map(queue_row, QUEUES)])
    }

    beat_row = rows.get(BEAT)
    if beat_row is not None and now - beat_row.last_run <= limit:
        beat = "ok"
    elif in_grace:
        beat = "starting: no heartbeat sent yet"
    elif beat_row is None:
        beat = "stale: beat has never sent a heartbeat"
    else:
        beat = f"stale: beat last sent a heartbeat {_ago(now, beat_row.last_run)}"

    late = []
    for queue in QUEUES:
        row = rows.get(queue_row(queue))
        sent = (row.sent_at or row.last_run) if row else None
        if sent is None:
            late.append(f"no heartbeat has run on the {queue} queue")
        elif now - sent > limit:
            late.append(f"the {queue} queue last ran a heartbeat sent {_ago(now, sent)}")
    if not late:
        worker = "ok"
    elif in_grace:
        worker = "starting: " + "; ".join(late)
    elif beat != "ok":
        worker = "unknown: beat is not sending heartbeats"
    else:
        worker = "stale: " + "; ".join(late)
    return JobsHealth(worker=worker, beat=beat)


# --- Builds ---------------------------------------------------------------------------------------


def build_models() -> list[type[BackgroundBuild]]:
    return [m for m in apps.get_models() if issubclass(m, BackgroundBuild)]


def build_enqueue(build: BackgroundBuild) -> None:
    """Queue the build's job after the transaction commits."""
    task = celery_app.signature(build.build_task)  # by name: the task modules import services
    pk, attempt = build.pk, build.attempt
    transaction.on_commit(lambda: task.delay(pk, attempt=attempt))


def build_start(*, model: type[B], pk: int, attempt: int | None = None) -> B | None:
    """Claim the build for this job: None when there is nothing to do (ready already, or the
    job belongs to an earlier attempt). The row lock stops two jobs building at once."""
    with transaction.atomic():
        build = model.objects.select_for_update().get(pk=pk)
        if build.status == BuildStatus.READY:
            return None
        if attempt is not None and attempt != build.attempt:
            log.info(
                "%s %s: job of attempt %s superseded by %s",
                model.__name__,
                pk,
                attempt,
                build.attempt,
            )
            return None
        build.status, build.progress, build.error = BuildStatus.BUILDING, 1, ""
        build.updated_at = timezone.now()
        build.save(update_fields=["status", "progress", "error", "updated_at"])
    return build


def build_progress(build: BackgroundBuild, percent: int, step: str | None = None) -> None:
    """A sign of life from the job: the page shows it and the stale sweep reads it."""
    fields: dict = {"progress": max(0, min(percent, 99)), "updated_at": timezone.now()}
    if step is not None:
        fields["step"] = step[:120]
    type(build).objects.filter(pk=build.pk, status=BuildStatus.BUILDING).update(**fields)


def build_fail(build: BackgroundBuild, error: str) -> None:
    type(build).objects.filter(pk=build.pk).exclude(status=BuildStatus.READY).update(
        status=BuildStatus.FAILED, error=error[:500], progress=0, updated_at=timezone.now()
    )


def build_finish(*, build: B, content: bytes, suffix: str, **fields) -> B:
    """Store the file under an unguessable name and mark the build ready (once)."""
    model = type(build)
    with transaction.atomic():
        build = model.objects.select_for_update().get(pk=build.pk)
        if build.status == BuildStatus.READY:  # another job finished first
            return build
        build.file.save(f"{secrets.token_urlsafe(24)}{suffix}", ContentFile(content), save=False)
        build.sha256 = hashlib.sha256(content).hexdigest()
        build.size = len(content)
        for name, value in fields.items():
            setattr(build, name, value)
        build.status, build.progress = BuildStatus.READY, 100
        build.finished_at = build.updated_at = timezone.now()
        build.save()
    return build


@transaction.atomic
def build_retry(*, build: B, by: User) -> B:
    """A person asks again for a build that failed or stopped (the caller checked that they may).
    A build still making progress, or ready, is left alone."""
    model = type(build)
    build = model.objects.select_for_update().get(pk=build.pk)
    if build.status == BuildStatus.READY:
        raise BuildError("This file is ready: download it.", code="build_ready")
    if build.status != BuildStatus.FAILED and not build.is_stale:
        raise BuildError(
            "This file is still being built. Wait for it to finish, or try again if it shows "
            "no progress for a few minutes.",
            code="build_in_progress",
        )
    build.status, build.progress, build.error = BuildStatus.QUEUED, 0, ""
    build.attempt += 1
    build.updated_at = timezone.now()
    build.save(update_fields=["status", "progress", "error", "attempt", "updated_at"])
    home = getattr(build, "home", None) or build.audit.home
    audit_append(
        home=home,
        actor=by,
        action="build.retried",
        obj=build,
        after={"kind": model.__name__, "attempt": build.attempt},
    )
    build_enqueue(build)
    return build


def builds_stale_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Beat: builds with no sign of life for `BUILD_STALE_MINUTES` are queued once more, or
    marked failed when their automatic retry is used up. Each row is claimed by a conditional
    update, so two sweeps at once never retry a build twice."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.BUILD_STALE_MINUTES)
    minutes = settings.BUILD_STALE_MINUTES
    result = {"retried": 0, "failed": 0}
    for model in build_models():
        stale = model.objects.filter(
            status__in=[BuildStatus.QUEUED, BuildStatus.BUILDING], updated_at__lt=cutoff
        )
        for pk, auto_retries in stale.values_list("pk", "auto_retries"):
            with transaction.atomic():
                claim = model.objects.filter(
                    Q(pk=pk, updated_at__lt=cutoff)
                    & Q(status__in=[BuildStatus.QUEUED, BuildStatus.BUILDING])
                )
                if auto_retries < MAX_AUTO_RETRIES and claim.filter(
                    auto_retries__lt=MAX_AUTO_RETRIES
                ).update(
                    auto_retries=F("auto_retries") + 1,
                    attempt=F("attempt") + 1,
                    status=BuildStatus.QUEUED,
                    progress=0,
                    updated_at=now,
                ):
                    build_enqueue(model.objects.get(pk=pk))
                    result["retried"] += 1
                    log.warning("%s %s stalled: queued again", model.__name__, pk)
                elif claim.update(
                    status=BuildStatus.FAILED,
                    attempt=F("attempt") + 1,
                    progress=0,
                    updated_at=now,
                    error=(
                        f"The build stopped (no progress for {minutes} minutes) and stopped "
                        "again when it was retried. Press Try again; if it fails again, tell "
                        "your IT support that the reports worker is not running."
                    ),
                ):
                    result["failed"] += 1
                    log.error("%s %s stalled twice: marked failed", model.__name__, pk)
    return result
