from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "medications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # R-RX-11: every allergy change re-checks the resident's lines in the same transaction.
        from emar.services import schedule_changed_register
        from residents.services import (
            absence_changed_register,
            allergy_recheck_register,
            readmitted_register,
        )

        from .services.away import absence_changed, resident_readmitted
        from .services.prescriptions import _doses_resync, line_allergies_recheck

        allergy_recheck_register(line_allergies_recheck)
        # R-ORG-5: new round times, dose window or timezone move today's and tomorrow's doses.
        schedule_changed_register(_doses_resync)
        # R-RES-6: away doses coded at once, held lines leave the round on return/readmission.
        absence_changed_register(absence_changed)
        readmitted_register(resident_readmitted)
