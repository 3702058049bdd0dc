"""The report document of SPEC 6.1 as frozen dataclasses: one model feeds every output.

Terminal, JSON, CSV, HTML and Prometheus all render this model, so their numbers cannot differ.
A domain in error keeps every block with null values (`DomainReport.failed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

BUCKETS_REMAINING = ("0", "1-3", "4+")
BUCKETS_FACTORS = ("0", "1", "2", "3+")
STRENGTH_TIERS = ("phishing_resistant", "app_code", "email_sms_code", "recovery_codes_only", "none")


@dataclass(frozen=True)
class Enrollment:
    total: int | None = None
    enrolled: int | None = None
    percent: Decimal | None = None
    aal2_capable: int | None = None
    seed_enrolled: int | None = None
    inactive_total: int | None = None
    inactive_with_mfa: int | None = None
    target_percent: Decimal | None = None
    meets_target: bool | None = None
    available_aal_mismatch: int | None = None
    available_aal_null: int | None = None


@dataclass(frozen=True)
class Methods:
    totp_users: int | None = None
    webauthn_users: int | None = None
    both: int | None = None
    lookup_secret_usable: int | None = None
    lookup_secret_exhausted: int | None = None
    lookup_codes_remaining: dict[str, int | None] = field(
        default_factory=lambda: dict.fromkeys(BUCKETS_REMAINING))
    code_users: int | None = None
    passkey_users: int | None = None
    webauthn_passwordless_only: int | None = None
    factors_per_identity: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(BUCKETS_FACTORS))
    strength_tiers: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(STRENGTH_TIERS))


@dataclass(frozen=True)
class StepupDay:
    date: date
    count: int


@dataclass(frozen=True)
class Stepups:
    source: str | None = None  # "audit" or "derived"
    days: tuple[StepupDay, ...] = ()
    aal2_sessions: int | None = None
    at_login: int | None = None
    later: int | None = None
    unknown: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class EnrollmentDayCount:
    date: date
    totp: int
    webauthn: int


@dataclass(frozen=True)
class EnrollmentsOverTime:
    source: str | None = None
    days: tuple[EnrollmentDayCount, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class FailingIdentity:
    identity_id: str
    failures: int
    first_at: datetime
    last_at: datetime
    distinct_ips: int | None
    successes_after_last_failure: int | None
    hint: str


@dataclass(frozen=True)
class FailureDay:
    date: date
    failures: int
    successes: int | None  # None without a configured success event
    failure_ratio: Decimal | None  # failures / (failures + successes), 0-1


@dataclass(frozen=True)
class ChallengeFailures:
    available: bool = False
    reason: str | None = None
    source: str | None = None
    threshold: int = 3
    window_days: int = 7
    identities: tuple[FailingIdentity, ...] = ()
    days: tuple[FailureDay, ...] = ()


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str  # "warning" | "critical"
    state: str  # "ok" | "firing" | "insufficient_data"
    value: Decimal | int | None
    threshold: Decimal | int | None
    message: str


@dataclass(frozen=True)
class DataQuality:
    malformed_config: int | None = None
    unknown_credential_types: int | None = None
    malformed_amr: int | None = None
    stepup_without_completed_at: int | None = None
    missing_timestamps: int | None = None
    timestamps_after_as_of: int | None = None
    unknown_state: int | None = None
    audit_rows_without_identity: int | None = None


@dataclass(frozen=True)
class TrendPoint:
    """The last stored snapshot of a day (SPEC 5)."""

    date: date
    enrolled: int | None
    total: int | None
    percent: Decimal | None


@dataclass(frozen=True)
class DomainReport:
    name: str
    status: str  # "ok" | "error"
    error: str | None
    enrollment: Enrollment
    methods: Methods
    stepups: Stepups
    enrollments_over_time: EnrollmentsOverTime
    challenge_failures: ChallengeFailures
    alerts: tuple[Alert, ...]
    data_quality: DataQuality
    # Set when the domain is one side of the seed's schema_id split of a single database.
    approximation: str | None = None
    enrollment_trend: tuple[TrendPoint, ...] = ()

    @classmethod
    def failed(cls, name: str, error: str, alerts: tuple[Alert, ...] = ()) -> DomainReport:
        return cls(name, "error", error, Enrollment(), Methods(), Stepups(), EnrollmentsOverTime(),
                   ChallengeFailures(available=False, reason="domain could not be read"), alerts,
                   DataQuality())


@dataclass(frozen=True)
class AllDomains:
    domains: tuple[str, ...]
    enrollment: Enrollment
    methods: Methods


@dataclass(frozen=True)
class Report:
    as_of: datetime
    timezone: str
    domains: tuple[DomainReport, ...]
    all_domains: AllDomains

    @property
    def failed_domains(self) -> tuple[DomainReport, ...]:
        """Domains that failed, or whose audit source failed (their Kratos numbers are still shown)."""
        return tuple(domain for domain in self.domains if domain.status != "ok" or domain.error)
