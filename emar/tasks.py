import datetime as dt

from celery import shared_task

from . import jobs
from .services import audit_checkpoint_write, notification_email_send


@shared_task(acks_late=True, ignore_result=False)
def heartbeat(name: str = "worker", sent_at: str | None = None) -> str:
    """Record that a worker ran a heartbeat sent by beat (R-RUN-5); `sent_at` is beat's send
    time, stamped into the arguments by the schedule (README "Background jobs")."""
    sent = dt.datetime.fromisoformat(sent_at) if sent_at else None
    return jobs.heartbeat_record(name=name, sent_at=sent).isoformat()


@shared_task(acks_late=True, soft_time_limit=90, time_limit=110)
def builds_stale_sweep() -> dict[str, int]:
    """Every 2 minutes: a build whose worker died is retried once, then marked failed."""
    return jobs.builds_stale_sweep()


@shared_task(
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_kwargs={"max_retries": 8},
)
def notification_email(notification_id: int) -> bool:
    """Email one notification (R-ALR-4); safe to run twice."""
    return notification_email_send(notification_id=notification_id)


@shared_task(acks_late=True, time_limit=240, soft_time_limit=200)
def audit_checkpoint() -> int:
    """Checkpoint every audit chain's head outside the database (R-SEC-4); safe to overlap."""
    return audit_checkpoint_write()
