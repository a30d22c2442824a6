"""System checks of the core (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def audit_trail_key_check(app_configs, **kwargs) -> list[Error]:
    """R-SEC-4: in production the audit trail's key comes from the environment, not SECRET_KEY."""
    key = settings.AUDIT_TRAIL_KEY
    if not key:
        return [
            Error(
                "AUDIT_TRAIL_KEY is not set: the audit trail would be sealed with a key derived "
                "from SECRET_KEY.",
                hint="Set AUDIT_TRAIL_KEY to a random secret of at least 32 characters, kept "
                "away from the database and its backups (README 'Security').",
                id="emar.E010",
            )
        ]
    if len(key) < 32 or key == settings.SECRET_KEY:
        return [
            Error(
                "AUDIT_TRAIL_KEY is too short or equals SECRET_KEY.",
                hint="Use a random secret of at least 32 characters of its own.",
                id="emar.E011",
            )
        ]
    return []
