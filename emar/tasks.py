from celery import shared_task
from django.db.models import F
from django.utils import timezone

from .models import JobHeartbeat


@shared_task(acks_late=True, ignore_result=False)
def heartbeat(name: str = "beat") -> str:
    """Record that the worker ran a job sent by beat (or by the web process)."""
    now = timezone.now()
    updated = JobHeartbeat.objects.filter(name=name).update(last_run=now, runs=F("runs") + 1)
    if not updated:
        JobHeartbeat.objects.get_or_create(name=name, defaults={"last_run": now, "runs": 1})
    return now.isoformat()
