"""eMAR settings, driven by environment variables (README "Configuration").

Defaults give the embedded run: SQLite under var/, Celery on kombu's filesystem transport,
console email. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis. A malformed value
stops start-up with a message naming the variable.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.beat import BeatLazyFunc
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from emar.beat import heartbeat_sent_at

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A strict boolean: anything but the usual spellings is a configuration error."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}")
    return value


def _url(name: str, allowed: set[str]) -> str | None:
    raw = env.str(name, default="").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in allowed or not (parts.hostname or parts.path):
        raise ImproperlyConfigured(
            f"{name} must be a URL with scheme {' or '.join(sorted(allowed))}, got {raw!r}"
        )
    return raw


VAR_DIR = Path(env.str("EMAR_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-emar-development-key-never-use-in-production"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "bootstrap",  # django-bootstrap-static: Bootstrap 5 from a package (static/bootstrap/)
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "emar",
    "residents",
    "medications",
    "training",
    "audits",
    "fhir_api",
    "demo",  # demo data and `seed_demo` (R-RUN-4), apart from the domain apps
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "emar.middleware.RequestGuardMiddleware",
    "emar.request_cache.RequestCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "emar.middleware.DeviceCookieMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "emar.middleware.IdleLogoutMiddleware",
    "emar.middleware.TwoFactorMiddleware",
    "emar.middleware.PasswordChangeRequiredMiddleware",
    "emar.middleware.InspectorAccessLogMiddleware",
    "emar.middleware.SecurityHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "emar.urls"
WSGI_APPLICATION = "emar.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["emar.templatetags.emar_format"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "emar.context_processors.emar",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = _url("DATABASE_URL", {"postgres", "postgresql", "pgsql", "sqlite"})
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "emar.sqlite3",
            # The embedded run has a web server, a worker and beat writing at once.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "emar.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "emar.auth.PinBackend",  # quick user switch on a shared tablet (R-SEC-2)
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

# R-SEC-2: lockout after repeated failures, per account (a shared tablet has one address).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username"]
# Locking by address would lock every tablet of a home behind one router at once; the account
# is what an attacker guesses at, so the account is what locks.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# R-SEC-6: wrong witness passwords on one tablet before that witness is refused there for
# AXES_COOLOFF_TIME (counted apart from the witness's own sign-in lockout: emar/witness.py).
WITNESS_FAILURE_LIMIT = env_int("WITNESS_FAILURE_LIMIT", 3, minimum=1)

# Called by InspectorAccessLogMiddleware with (request, response) after each successful GET
# (R-INS-1); a dotted path so the core app does not import the audits app.
EMAR_ACCESS_LOGGER = "audits.services.access_log_request"
# R-DASH-1: the home dashboard's panel on the start page, (request, home) -> HTML.
EMAR_HOME_DASHBOARD = "audits.dashboard_views.home_panel_html"

# R-SEC-2: managers, provider admins and inspectors sign in with a one-time code (TOTP) too.
TWO_FACTOR_REQUIRED = env_bool("TWO_FACTOR_REQUIRED", True)
OTP_TOTP_ISSUER = "eMAR"

# R-SEC-2: an idle session on a shared tablet ends after this many minutes.
IDLE_LOGOUT_MINUTES = env_int("IDLE_LOGOUT_MINUTES", 10, minimum=1)
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- Internationalisation: British dates, 24-hour clock (R-ORG-5) -----------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "d/m/Y"
TIME_FORMAT = "H:i"

# --- Static and uploaded files --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("STATIC_MANIFEST", False)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not env_bool("STATIC_MANIFEST", False)
# R-SEC-5: uploads live outside the static tree and are served only through checked views.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Resident documents (R-RES-7): a larger body is refused with 413 before it is read.
DOCUMENT_UPLOAD_MAX_MB = env_int("DOCUMENT_UPLOAD_MAX_MB", 10, minimum=1)

# --- Forms and front end --------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="eMAR <emar@localhost>")

# --- Celery (R-ALR-5, R-RUN-1) ----------------------------------------------------------------
REDIS_URL = _url("REDIS_URL", {"redis", "rediss"})
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    for sub in ("queue", "processed", "results", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{BROKER_DIR / 'results'}"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Two queues (README "Background jobs"): reminders, escalations, dose materialisation and
# notifications run on "reminders" (the default); PDF and ZIP builds on "reports", with their
# own worker, so a long report never delays a reminder.
CELERY_TASK_DEFAULT_QUEUE = "reminders"
CELERY_TASK_ROUTES = {
    "audits.tasks.audit_report_build": {"queue": "reports"},
    "audits.tasks.evidence_pack_build": {"queue": "reports"},
    "audits.tasks.monthly_audits_prepare": {"queue": "reports"},
    "medications.tasks.mar_print_build": {"queue": "reports"},
    "medications.tasks.downtime_kit_build": {"queue": "reports"},
}
# R-RUN-5: a heartbeat older than this makes /healthz answer 503 naming the worker or beat;
# for this long after the web process starts, missing heartbeats say "starting" (200).
JOBS_STALE_MINUTES = env_int("JOBS_STALE_MINUTES", 3, minimum=2)
JOBS_STARTUP_GRACE_MINUTES = env_int("JOBS_STARTUP_GRACE_MINUTES", 3, minimum=0)
# A background build (report, evidence pack, MAR print) with no progress for this long has lost
# its worker: it is retried once, then marked failed.
BUILD_STALE_MINUTES = env_int("BUILD_STALE_MINUTES", 10, minimum=2)
# R-OFF-4: a unit's downtime kit is rebuilt this long after the first of a run of prescription
# changes (one build for the run), and from local midnight every day.
DOWNTIME_KIT_DEBOUNCE_MINUTES = env_int("DOWNTIME_KIT_DEBOUNCE_MINUTES", 5, minimum=1)


# The beat schedule lives in code (README "Background jobs"); later features add entries.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # R-RUN-5: one heartbeat per queue; beat stamps the send time (and records its own beat).
    **{
        f"heartbeat-{queue}": {
            "task": "emar.tasks.heartbeat",
            "schedule": crontab(minute="*"),
            "kwargs": {
                "name": f"queue:{queue}",
                "sent_at": BeatLazyFunc(heartbeat_sent_at),
            },
            "options": {"queue": queue, "expires": 170},
        }
        for queue in ("reminders", "reports")
    },
    "builds-stale-sweep": {
        "task": "emar.tasks.builds_stale_sweep",
        "schedule": crontab(minute="*/2"),
        "options": {"expires": 110},
    },
    # R-OFF-4: queue the downtime kits whose changes have settled, and each unit's daily kit.
    "downtime-kits-sweep": {
        "task": "medications.tasks.downtime_kits_sweep",
        "schedule": crontab(minute="*"),
        "options": {"expires": 55},
    },
    "training-expiry-alerts": {
        "task": "training.tasks.training_expiry_alerts",
        "schedule": crontab(hour=6, minute=30),
    },
    # R-ALR-1/2: a sweep that beat could not deliver on time is dropped (expires), the next one
    # looks back 30 minutes and catches up; notifications are unique, so overlaps are harmless.
    "dose-reminders-sweep": {
        "task": "medications.tasks.dose_reminders_sweep",
        "schedule": crontab(minute="*"),
        "options": {"expires": 55},
    },
    "doses-sync-all": {
        "task": "medications.tasks.doses_sync_all",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 540},
    },
    "prn-follow-up-alerts": {
        "task": "medications.tasks.prn_follow_up_alerts",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 240},
    },
    # R-RES-6, H-16: doses of residents away coded H or L (exactly once per dose).
    "away-doses-record": {
        "task": "medications.tasks.away_doses_record",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 240},
    },
    # R-ORD-1: each home's order for its next cycle, on its order date (once per home and cycle).
    "orders-prepare": {
        "task": "medications.tasks.orders_prepare",
        "schedule": crontab(minute=20),
        "options": {"expires": 3000},
    },
    "medicines-daily-alerts": {
        "task": "medications.tasks.medicines_daily_alerts",
        "schedule": crontab(hour=7, minute=0),
    },
    # R-SEC-4, H-9: signed checkpoints of the audit chains' heads, outside the database.
    "audit-checkpoint": {
        "task": "emar.tasks.audit_checkpoint",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 540},
    },
    # R-AUD-1: every home's audit of the previous month, on the 1st (idempotent per home/month).
    "monthly-audits-prepare": {
        "task": "audits.tasks.monthly_audits_prepare",
        "schedule": crontab(day_of_month="1", hour=5, minute=15),
    },
}

# --- Security (R-SEC-1, R-SEC-3) ---------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [
    r"^healthz(/web)?$"
]  # load balancers and the container healthcheck probe over http
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

# R-SEC-4, H-9: the audit trail's links are sealed with an HMAC key that lives here, never in
# the database. Unset gives a key derived from SECRET_KEY (embedded run, tests); production sets
# one (`check --deploy` refuses to pass without it). Rotation: give the new key a new id and
# move the old one to AUDIT_TRAIL_OLD_KEYS (`id=key,id=key`), so older links still verify.
AUDIT_TRAIL_KEY = env.str("AUDIT_TRAIL_KEY", default="")
AUDIT_TRAIL_KEY_ID = env.str("AUDIT_TRAIL_KEY_ID", default="1")
AUDIT_TRAIL_OLD_KEYS: dict[str, str] = env.dict("AUDIT_TRAIL_OLD_KEYS", default={})
for _kid in (AUDIT_TRAIL_KEY_ID, *AUDIT_TRAIL_OLD_KEYS):
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,20}", _kid) or _kid == "dev":
        raise ImproperlyConfigured(
            f"Audit trail key id {_kid!r}: use 1-20 letters, digits, '.', '_' or '-' (not 'dev')"
        )
if AUDIT_TRAIL_KEY_ID in AUDIT_TRAIL_OLD_KEYS:
    raise ImproperlyConfigured("AUDIT_TRAIL_OLD_KEYS must not repeat AUDIT_TRAIL_KEY_ID")
# Signed checkpoints of every chain's head (append-only JSON lines), written by beat; keep this
# directory off the database server and ship it (or the log lines) somewhere the DB can't reach.
AUDIT_CHECKPOINT_DIR = Path(
    env.str("AUDIT_CHECKPOINT_DIR", default=str(VAR_DIR / "audit-checkpoints"))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
