from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _forget_gate(**_kwargs) -> None:
    """A write to training, an assessment or a suspension: the gate reads afresh."""
    from emar.request_cache import forget

    forget("gate")


class TrainingConfig(AppConfig):
    name = "training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .models import CompetencyAssessment, CompetencySuspension, TrainingRecord

        for model in (TrainingRecord, CompetencyAssessment, CompetencySuspension):
            post_save.connect(_forget_gate, sender=model, dispatch_uid=f"gate-{model.__name__}")
            post_delete.connect(_forget_gate, sender=model, dispatch_uid=f"gate-{model.__name__}-d")
