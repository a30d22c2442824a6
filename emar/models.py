"""The shared core: organisation (R-ORG-1), staff and roles (R-ORG-2, R-ORG-4), home settings
(R-ORG-5, R-MAR-6) and the hash-chained audit trail (R-SEC-4)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known timezone", code="bad_timezone") from None


# R-REL-1: free text is bounded in the database as in the forms (emar.forms uses these), so a
# write around the forms (a script, the shell, a future view) cannot store a megabyte either.
TEXT_MAX = 2000  # a note, need, reason or comment
LONG_TEXT_MAX = 5000  # an incident's account, an audit's summary


def text_max_length(*fields: str, limit: int = TEXT_MAX) -> list[models.CheckConstraint]:
    """Named database bounds on free-text fields, e.g. `medications_administration_note_max_
    length` (tests/*/test_text_bounds.py checks every TextField of every model has one)."""
    return [
        models.CheckConstraint(
            condition=LessThanOrEqual(Length(field), limit),
            name=f"%(app_label)s_%(class)s_{field}_max_length",
        )
        for field in fields
    ]


def idempotency_unique() -> models.UniqueConstraint:
    """The named unique rule on a record's idempotency key (one record per submitted form).
    The name is expanded per model, e.g. `medications_stockmovement_one_per_key`."""
    return models.UniqueConstraint(
        fields=["idempotency_key"], name="%(app_label)s_%(class)s_one_per_key"
    )


class IdempotentRecord(models.Model):
    """A record created from a form that carries an idempotency key: the same form submitted
    twice (a double tap, a retry after a dropped connection) stores one record, and the
    database, not a check-then-insert, is what refuses the second. Empty for rows made before
    the key existed and for records no form created. A model with its own `Meta.constraints`
    lists `idempotency_unique()` there too (tests/emar/test_idempotency.py checks every one)."""

    idempotency_key = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True
        constraints = [idempotency_unique()]


class Provider(models.Model):
    name = models.CharField(max_length=200, unique=True)

    def __str__(self) -> str:
        return self.name


class Scanning(models.TextChoices):
    """A home's choice for pack barcodes at the round (R-SCAN-1)."""

    OPTIONAL = "optional", "Optional: staff may scan packs at the round"
    REQUIRED = "required", "Required: 'Given' needs a matching scan or a recorded reason"


class CareHome(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="homes")
    name = models.CharField(max_length=200, unique=True)
    timezone = models.CharField(
        max_length=64, default="Europe/London", validators=[validate_timezone]
    )
    dose_window_minutes = models.PositiveSmallIntegerField(
        default=60, help_text="How long either side of the scheduled time a dose may be given."
    )
    time_sensitive_tolerance_minutes = models.PositiveSmallIntegerField(default=15)
    nursing = models.BooleanField(default=False, help_text="Care home with nursing.")
    scanning = models.CharField(
        "barcode scanning at the round",
        max_length=8,
        choices=Scanning,
        default=Scanning.OPTIONAL,
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dose_window_minutes__gte=5) & Q(dose_window_minutes__lte=240),
                name="carehome_dose_window_between_5_and_240",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local_now(self) -> dt.datetime:
        return timezone.now().astimezone(self.tz)

    def local_today(self) -> dt.date:
        return self.local_now().date()


class Unit(models.Model):
    """A floor or wing of a home (R-ORG-1)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="units")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["home__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["home", "name"], name="unit_name_unique_in_home")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.home.name})"


class Round(IdempotentRecord):
    """A named medicines round of a home (R-ORG-5; default 08:00, 12:00, 17:00, 22:00)."""

    home = models.ForeignKey(CareHome, on_delete=models.CASCADE, related_name="rounds")
    name = models.CharField(max_length=50)
    time = models.TimeField()

    class Meta:
        ordering = ["home", "time"]
        constraints = [
            models.UniqueConstraint(fields=["home", "name"], name="round_name_unique_in_home"),
            models.UniqueConstraint(fields=["home", "time"], name="round_time_unique_in_home"),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.time:%H:%M}"


class CodeCategory(models.TextChoices):
    REFUSED = "refused", "Refused"
    CLINICAL = "clinical", "Clinical"
    ABSENT = "absent", "Absent"
    STOCK = "stock", "Stock"
    OTHER = "other", "Other"


class NonAdministrationCode(IdempotentRecord):
    """A reason a dose was not given, configurable per home (R-MAR-6)."""

    home = models.ForeignKey(CareHome, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=2)
    label = models.CharField(max_length=100)
    category = models.CharField(max_length=10, choices=CodeCategory)
    note_required = models.BooleanField(default=False)
    destroys_dose = models.BooleanField(
        default=False, help_text="The prepared dose is destroyed; its quantity goes to disposal."
    )
    raises_stock_alert = models.BooleanField(default=False)
    retry_later = models.BooleanField(default=False, help_text="e.g. asleep: offer again later")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["home", "code"]
        constraints = [
            models.UniqueConstraint(fields=["home", "code"], name="code_unique_in_home"),
            models.CheckConstraint(condition=~Q(code=""), name="code_not_blank"),
            idempotency_unique(),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.label}"


class User(AbstractUser):
    """A staff account. What it may do comes from its roles per home (R-ORG-2)."""

    display_name = models.CharField(max_length=150, blank=True)
    initials = models.CharField(
        max_length=4, blank=True, help_text="Shown on the MAR chart, like a paper MAR."
    )
    admin_of = models.ForeignKey(
        Provider,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="admins",
        help_text="Provider admins see every home of their provider.",
    )
    # R-SEC-2 quick user switch on a shared tablet: a hashed PIN, never the PIN itself.
    pin_hash = models.CharField(max_length=256, blank=True)
    email_notifications = models.BooleanField(
        default=False, help_text="Also send notifications by email (R-ALR-4)."
    )
    # R-ORG-6: an account a manager made (or whose password a manager set) signs in with the
    # initial password once, then must choose its own before anything else.
    must_change_password = models.BooleanField(default=False)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def shown_initials(self) -> str:
        if self.initials:
            return self.initials
        parts = [p for p in (self.first_name, self.last_name) if p]
        return "".join(p[0] for p in parts).upper() or self.username[:2].upper()


class Role(models.TextChoices):
    CARER = "carer", "Carer"
    SENIOR = "senior", "Senior carer / nurse"
    MANAGER = "manager", "Manager"
    INSPECTOR = "inspector", "Inspector"


class MembershipQuerySet(models.QuerySet):
    def current(self, at: dt.datetime | None = None) -> MembershipQuerySet:
        """Roles in force now: inspector grants end on their expiry date (R-ORG-4)."""
        at = at or timezone.now()
        return self.filter(active=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))


class Membership(IdempotentRecord):
    """A staff member's role in one home (R-ORG-2). A change of role ends the current row and
    starts a new one, so who held which role when stays on record (R-ORG-6); at most one row
    per person and home is active."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    home = models.ForeignKey(CareHome, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role)
    expires_at = models.DateTimeField(null=True, blank=True)
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(default=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "home"],
                condition=Q(active=True),
                name="one_active_role_per_user_per_home",
            ),
            models.CheckConstraint(
                condition=~Q(role="inspector") | Q(expires_at__isnull=False),
                name="inspector_access_has_expiry",
            ),
            idempotency_unique(),
        ]
        indexes = [models.Index(fields=["home", "role"], name="membership_home_role")]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.home}"


class WitnessThrottle(models.Model):
    """Wrong passwords typed for one witness (or second senior) on one device (R-SEC-6).

    A witness confirms on someone else's tablet; wrong attempts there are counted here, per
    device and witness, and never against the witness's own sign-in lockout, so a carer cannot
    lock a senior out of their account for the night. `device` is the tablet's device cookie
    (`emar.witness.device_id`)."""

    device = models.CharField(max_length=64)
    username = models.CharField(max_length=150, help_text="As typed, in lower case.")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="witness_throttles"
    )
    home = models.ForeignKey(
        CareHome,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="witness_throttles",
        help_text="The home whose screen the attempts were typed on.",
    )
    failures = models.PositiveSmallIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "username"], name="witness_throttle_one_per_device_and_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} on device {self.device[:8]}: {self.failures} wrong"


class AuditChain(models.Model):
    """The head of one home's audit chain. Locking this row serialises appends for one home
    only, so homes never wait on each other's writes (R-SEC-4)."""

    home = models.OneToOneField(CareHome, on_delete=models.PROTECT, related_name="audit_chain")
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit chain of home {self.home_id} at {self.last_seq}"


class AuditEvent(models.Model):
    """One link of a home's append-only, hash-chained audit trail (R-SEC-4)."""

    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="audit_events")
    seq = models.PositiveBigIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Which HMAC key sealed the link (emar/audit_trail.py); "" marks a link written before
    # keyed links (plain SHA-256), accepted only at the start of a chain.
    key_id = models.CharField(max_length=20, blank=True)
    # SHA-256 of the clinical row this entry records, as saved (emar/audit_trail.py).
    record_digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["home", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["home", "seq"], name="audit_seq_unique_in_home"),
        ]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.home_id}#{self.seq} {self.action}"


class JobHeartbeat(models.Model):
    """Signs of life of the background jobs (R-RUN-5, R-ALR-5): the row "beat" is written by
    beat itself each time it sends a heartbeat; a row "queue:<name>" by the worker that ran the
    heartbeat sent on that queue, with the time beat sent it (`sent_at`). A dead beat leaves
    "beat" old; a dead or starved worker leaves its queue's row old while beat's is fresh."""

    name = models.CharField(max_length=80, unique=True)
    last_run = models.DateTimeField()
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When beat sent the heartbeat that ran last."
    )
    runs = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_run:%Y-%m-%d %H:%M}"


class Shift(models.Model):
    """A staff member clocked in to a unit of a home: who is told about doses due (R-ALR-1)."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="shifts")
    home = models.ForeignKey(CareHome, on_delete=models.PROTECT, related_name="shifts")
    unit = models.ForeignKey(
        Unit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shifts",
        help_text="Empty: the whole home (e.g. the manager or the senior in charge).",
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(ended_at__isnull=True),
                name="one_open_shift_per_person",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="shift_ends_after_it_starts",
            ),
        ]
        indexes = [
            models.Index(
                fields=["home", "unit"],
                condition=Q(ended_at__isnull=True),
                name="shift_open_by_unit",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} on shift at {self.home} from {self.started_at:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """One message to one person (R-ALR-4). The unique rule on (kind, subject, recipient,
    window) is what makes every reminder and escalation exactly-once, however often and on
    however many workers the job that raises it runs (R-ALR-5)."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    home = models.ForeignKey(CareHome, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    subject = models.CharField(max_length=80, help_text="What it is about, e.g. dose:123")
    window = models.CharField(max_length=40, blank=True, help_text="e.g. a date or round start")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    urgent = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            *text_max_length("body"),
            models.UniqueConstraint(
                fields=["kind", "subject", "recipient", "window"], name="notification_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["recipient", "home"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(fields=["recipient", "-created_at"], name="notification_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient}: {self.title}"


# --- Files built by background jobs --------------------------------------------------------------


class BuildStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


# A build may be retried automatically this many times after it stopped (its worker died).
MAX_AUTO_RETRIES = 1


class BackgroundBuild(models.Model):
    """What every file built in the background (audit report, evidence pack, MAR print) keeps so
    that a build whose worker died is noticed and retried (`emar.jobs.builds_stale_sweep`).

    Concrete models also have `status` (BuildStatus), `progress`, `error` and `finished_at`,
    name the task that builds them in `build_task` (called with the row's id and `attempt`), and
    add the `auto_retry_constraint` to their Meta."""

    updated_at = models.DateTimeField(
        default=timezone.now, help_text="Last sign of life: every status or progress change."
    )
    attempt = models.PositiveSmallIntegerField(
        default=1, help_text="Raised on every retry; a job of an older attempt does nothing."
    )
    auto_retries = models.PositiveSmallIntegerField(default=0)

    build_task: str = ""

    class Meta:
        abstract = True

    @property
    def is_stale(self) -> bool:
        """Queued or building with no sign of life for `BUILD_STALE_MINUTES`: its worker died."""
        from django.conf import settings

        limit = dt.timedelta(minutes=settings.BUILD_STALE_MINUTES)
        status = getattr(self, "status", "")
        return status in ("queued", "building") and timezone.now() - self.updated_at > limit


def auto_retry_constraint(prefix: str) -> models.CheckConstraint:
    """At most MAX_AUTO_RETRIES automatic retries, enforced by the database."""
    return models.CheckConstraint(
        condition=Q(auto_retries__lte=MAX_AUTO_RETRIES), name=f"{prefix}_auto_retry_once"
    )
