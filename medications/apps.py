from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "medications"
    default_auto_field = "django.db.models.BigAutoField"
