from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _forget_allergies(**_kwargs) -> None:
    """A write to an allergy: the request's memoised allergies are read afresh."""
    from emar.request_cache import forget

    forget("allergies")


class ResidentsConfig(AppConfig):
    name = "residents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .models import Allergy

        post_save.connect(_forget_allergies, sender=Allergy, dispatch_uid="allergies-forget")
        post_delete.connect(_forget_allergies, sender=Allergy, dispatch_uid="allergies-forget-d")
