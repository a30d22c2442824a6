from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "medications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # R-RX-11: every allergy change re-checks the resident's lines in the same transaction.
        from emar.services import schedule_changed_register
        from residents.services import allergy_recheck_register

        from .services.prescriptions import _doses_resync, line_allergies_recheck

        allergy_recheck_register(line_allergies_recheck)
        # R-ORG-5: new round times, dose window or timezone move today's and tomorrow's doses.
        schedule_changed_register(_doses_resync)
