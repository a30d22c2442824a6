"""API tokens (R-FHIR-4): a token acts with its user's roles. Only a SHA-256 hash of the secret
is stored; the secret is shown once, when the token is made."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from emar.models import User


class ApiToken(models.Model):
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=16, help_text="The first characters, to tell tokens apart."
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="api_token_expires_after_made"
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_by__isnull=False),
                name="api_token_revoked_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return f"API token {self.prefix}… of {self.user}"

    def state(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"


class ApiIdentifier(models.Model):
    """The `identifier` a client sent with a MedicationAdministration (R-FHIR-2), shown back on
    the resource. Idempotency itself is the record's key (a UUID derived from it)."""

    administration = models.OneToOneField(
        "medications.Administration", on_delete=models.PROTECT, related_name="api_identifier"
    )
    system = models.CharField(max_length=300, blank=True)
    value = models.CharField(max_length=300)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(value=""), name="api_identifier_value_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.system}|{self.value}"
