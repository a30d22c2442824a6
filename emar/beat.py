"""Called by Celery beat from the schedule in settings (which cannot import models)."""


def heartbeat_sent_at() -> str:
    """Evaluated by beat when it sends a heartbeat: the send time (R-RUN-5)."""
    from .jobs import heartbeat_sent

    return heartbeat_sent()
