from django.apps import AppConfig


class EmarConfig(AppConfig):
    name = "emar"
    verbose_name = "eMAR core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import checks  # noqa: F401 (registers the system checks)
        from .celery import app as celery_app
        from .middleware import mark_active_on_login

        user_logged_in.connect(mark_active_on_login, dispatch_uid="emar_idle_reset")
        # Services enqueue tasks by name (the task modules import the services, not the other
        # way round); registering every app's tasks here lets an eager run find them by name.
        celery_app.autodiscover_tasks(force=True)
