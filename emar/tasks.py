from celery import shared_task
from django.db.models import F
from django.utils import timezone

from .models import JobHeartbeat
from .services import audit_checkpoint_write, notification_email_send


@shared_task(acks_late=True, ignore_result=False)
def heartbeat(name: str = "beat") -> str:
    """Record that the worker ran a job sent by beat (or by the web process)."""
    now = timezone.now()
    updated = JobHeartbeat.objects.filter(name=name).update(last_run=now, runs=F("runs") + 1)
    if not updated:
        JobHeartbeat.objects.get_or_create(name=name, defaults={"last_run": now, "runs": 1})
    return now.isoformat()


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
