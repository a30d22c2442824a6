"""Celery application (R-ALR-5, R-RUN-1).

The broker comes from settings: Redis when REDIS_URL is set, otherwise kombu's filesystem
transport under var/, so that `make run` has a real worker and beat without Redis.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emar.settings")

app = Celery("emar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
