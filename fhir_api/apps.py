from django.apps import AppConfig


class FhirApiConfig(AppConfig):
    """The FHIR R4 API (R-FHIR-1..4): a thin interface over the selectors and services."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "fhir_api"
    verbose_name = "FHIR API"
