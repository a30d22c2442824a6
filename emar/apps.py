from django.apps import AppConfig


class EmarConfig(AppConfig):
    name = "emar"
    verbose_name = "eMAR core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from . import checks  # noqa: F401 (registers the system checks)
        from .middleware import mark_active_on_login

        user_logged_in.connect(mark_active_on_login, dispatch_uid="emar_idle_reset")
