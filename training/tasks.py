"""Daily training and competency alerts (R-ALR-3): thin Celery wrappers over the service."""

from celery import shared_task

from emar.models import CareHome

from .services import expiry_alerts_send


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def training_expiry_alerts() -> int:
    """Tell each person and their managers once about training or competency expiring within
    30 days. Safe to run again: notifications are unique per item and expiry date."""
    return sum(expiry_alerts_send(home=home) for home in CareHome.objects.all())
