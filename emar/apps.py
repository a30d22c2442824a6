from django.apps import AppConfig


class EmarConfig(AppConfig):
    name = "emar"
    verbose_name = "eMAR core"
    default_auto_field = "django.db.models.BigAutoField"
