"""Build the report: read each domain's sources, compute its metrics, add all domains together.

One failing domain never hides the others: its error is captured in its own block. A failing audit
source keeps the domain's Kratos numbers and says what it could not read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from mfastats.alerts import rules
from mfastats.audit.reader import AuditReader, resolve_table
from mfastats.clock import DayWindow, load_timezone, report_days
from mfastats.errors import SourceError
from mfastats.kratos.reader import KratosReader, Scope, connect
from mfastats.metrics import enrollment as enrollment_metrics
from mfastats.metrics.failures import failure_days, hints
from mfastats.metrics.stepups import StepupQuality, derived_stepups
from mfastats.metrics.trend import last_per_day
from mfastats.model import (
    AllDomains,
    ChallengeFailures,
    DataQuality,
    DomainReport,
    EnrollmentDayCount,
    EnrollmentsOverTime,
    Report,
    StepupDay,
    Stepups,
    TrendPoint,
)
from mfastats.rows import CredentialQuality, EnrollmentDay, IdentityProfile, SessionSummary, Snapshot
from mfastats.settings import STEPUP_DAYS, AlertSettings, AuditSettings, DomainSettings, Settings
from mfastats.store.history import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

ENROLLMENT_NOTE = (
    "derived from credential created_at: misses factors that were later removed, and a re-enrolled "
    "TOTP shows its latest date"
)
LEGACY_SPLIT_NOTE = (
    "approximation: one Kratos database split by schema_id ('admin' = iam, anything else = ciam), as "
    "the seed page does; real deployments have one database per domain"
)
SPIKE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class KratosFacts:
    profiles: list[IdentityProfile]
    quality: CredentialQuality
    timeline: list[EnrollmentDay]
    summary: SessionSummary
    stepups: Stepups
    step_quality: StepupQuality
    aal_cache: bool  # the database has identities.available_aal


@dataclass(frozen=True)
class AuditFacts:
    totals: dict[str, int]  # rows ever recorded per event name, up to as_of
    recent_events: int  # any event in (as_of - silent_hours, as_of]
    stepup_days: list[int]
    enrollment_days: list[tuple[int, int]]
    failures: ChallengeFailures
    spike_windows: list[int] | None
    rows_without_identity: int
    missing_timestamps: int
    timestamps_after_as_of: int


def build_report(settings: Settings, as_of: datetime, store: Store | None = None) -> Report:
    zone = load_timezone(settings.timezone)
    domains = tuple(read_domain(domain, settings, as_of, zone, store) for domain in settings.domains)
    ok = [domain for domain in domains if domain.status == "ok"]
    all_domains = AllDomains(
        domains=tuple(domain.name for domain in ok),
        enrollment=enrollment_metrics.sum_enrollment([domain.enrollment for domain in ok]),
        methods=enrollment_metrics.sum_methods([domain.methods for domain in ok]),
    )
    return Report(as_of, settings.timezone, domains, all_domains)


def _guard(what: str, read: Callable[..., T], *args: Any) -> tuple[T | None, str | None]:
    """Run a source read; return (result, None) or (None, message) with no SQL, parameters or password."""
    try:
        return read(*args), None
    except SourceError as exc:
        message = f"{what}: {exc}"
    except SQLAlchemyError as exc:
        message = f"{what} could not be read: {_short(exc)}"
    except Exception as exc:  # a bug must not hide the other domains; the traceback goes to the debug log
        log.debug("unexpected error reading %s", what, exc_info=True)
        message = f"{what}: internal error {type(exc).__name__}: {exc} (run with -vv for details)"
    log.info("%s", message)
    return None, message


def _short(exc: SQLAlchemyError) -> str:
    """The driver's first line: no SQL text, no parameters, no DSN."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def read_domain(domain: DomainSettings, settings: Settings, as_of: datetime, zone: tzinfo,
                store: Store | None = None) -> DomainReport:
    stepup_windows = report_days(as_of, zone, STEPUP_DAYS)
    kratos, error = _guard(f"{domain.name} Kratos database at {domain.kratos_dsn}", _read_kratos, domain,
                           settings, as_of, zone, stepup_windows)
    if kratos is None:
        return DomainReport.failed(domain.name, error, _unevaluated_alerts("domain could not be read"))
    audit, audit_error = None, None
    if domain.audit is not None:
        audit, audit_error = _guard(f"{domain.name} audit source at {domain.audit.dsn}", _read_audit, domain,
                                    settings, as_of, zone, stepup_windows)
    history: list[Snapshot] = []
    if store is not None:
        history, _ = _guard("history store", store.history, domain.name, as_of)
        history = history or []
    return assemble(domain, settings, as_of, zone, kratos, audit, audit_error, history)


def _read_kratos(domain: DomainSettings, settings: Settings, as_of: datetime, zone: tzinfo,
                 stepup_windows: list[DayWindow]) -> KratosFacts:
    started = time.monotonic()
    log.info("%s: reading Kratos database at %s", domain.name, domain.kratos_dsn)
    engine = connect(domain.kratos_dsn)
    try:
        with engine.connect() as conn:
            reader = KratosReader.open(conn, Scope(domain.nid, domain.schema_split))
            profiles = reader.identity_profiles()
            quality = reader.credential_quality(as_of)
            timeline = reader.enrollment_days(report_days(as_of, zone, settings.enrollment_days), as_of)
            summary = reader.session_summary()
            stepups, step_quality = derived_stepups(reader.amr_entries(), summary, stepup_windows, as_of, zone)
            conn.rollback()
    finally:
        engine.dispose()
    log.debug("%s: %d identity profiles, %d sessions at aal2, optional columns %s", domain.name, len(profiles),
              summary.aal2_sessions, sorted(reader.caps.columns))
    log.info("%s: Kratos read in %.2f s", domain.name, time.monotonic() - started)
    return KratosFacts(profiles, quality, timeline, summary, stepups, step_quality,
                       reader.caps.has("identities", "available_aal"))


def _read_audit(domain: DomainSettings, settings: Settings, as_of: datetime, zone: tzinfo,
                stepup_windows: list[DayWindow]) -> AuditFacts:
    audit = domain.audit
    assert audit is not None
    config = settings.alerts
    log.info("%s: reading audit source at %s", domain.name, audit.dsn)
    events = audit.events
    engine = connect(audit.dsn)
    try:
        with engine.connect() as conn:
            table = resolve_table(conn, domain.name, audit)
            log.debug("%s: audit table %s (domain filter %s)", domain.name, table.name, table.domain_filter)
            reader = AuditReader(conn, table)
            names = list(events.values()) + ([audit.success_event] if audit.success_event else [])
            totals = reader.event_totals(names, as_of)
            recent = reader.any_event_between(as_of - timedelta(hours=config.silent_hours), as_of)
            day_bounds = [(w.start, w.end) for w in stepup_windows]
            stepup_days = (reader.counts_in_windows(events["stepup_completed"], day_bounds, until=as_of)
                           if totals[events["stepup_completed"]] else [])
            enroll_windows = report_days(as_of, zone, settings.enrollment_days)
            enroll_bounds = [(w.start, w.end) for w in enroll_windows]
            enrolled = []
            if totals[events["totp_enrolled"]] or totals[events["webauthn_enrolled"]]:
                totp = reader.counts_in_windows(events["totp_enrolled"], enroll_bounds, until=as_of)
                webauthn = reader.counts_in_windows(events["webauthn_enrolled"], enroll_bounds, until=as_of)
                enrolled = list(zip(totp, webauthn, strict=True))
            failures, spike, without_identity = _read_failures(reader, audit, config, as_of, stepup_windows,
                                                               day_bounds, totals)
            missing, after = reader.timestamp_quality(as_of)
            conn.rollback()
    finally:
        engine.dispose()
    return AuditFacts(totals, recent, stepup_days, enrolled, failures, spike, without_identity, missing, after)


def _read_failures(reader: AuditReader, audit: AuditSettings, config: AlertSettings, as_of: datetime,
                   windows: list[DayWindow], day_bounds: list[tuple[datetime, datetime]],
                   totals: dict[str, int]) -> tuple[ChallengeFailures, list[int] | None, int]:
    event = audit.events["challenge_failed"]
    if not totals[event]:
        return (ChallengeFailures(False, f"the audit source has never recorded {event}", "audit",
                                  config.failure_threshold, config.failure_window_days), None, 0)
    start = as_of - timedelta(days=config.failure_window_days)
    groups = reader.failing_identities(event, start, as_of, config.failure_threshold, audit.success_event)
    failures_per_day = reader.counts_in_windows(event, day_bounds, until=as_of)
    successes_per_day = (reader.counts_in_windows(audit.success_event, day_bounds, until=as_of)
                         if audit.success_event else None)
    spike_bounds = [(as_of - SPIKE_WINDOW * (k + 1), as_of - SPIKE_WINDOW * k)
                    for k in range(config.spike_baseline_windows + 1)]
    earliest = reader.earliest_event()
    spike = None
    if earliest is not None and earliest <= spike_bounds[-1][0]:
        spike = reader.counts_in_windows(event, spike_bounds, until=as_of, end_inclusive=True)
    without_identity = reader.rows_without_identity(event, start, as_of)
    failures = ChallengeFailures(
        available=True, reason=None, source="audit", threshold=config.failure_threshold,
        window_days=config.failure_window_days,
        identities=tuple(hints(groups, success_configured=audit.success_event is not None)),
        days=failure_days([w.day for w in windows], failures_per_day, successes_per_day),
    )
    return failures, spike, without_identity


def assemble(domain: DomainSettings, settings: Settings, as_of: datetime, zone: tzinfo, kratos: KratosFacts,
             audit: AuditFacts | None, audit_error: str | None, history: list[Snapshot]) -> DomainReport:
    """Pure: the domain block from what the sources returned."""
    config = settings.alerts
    enrollment = enrollment_metrics.enrollment(kratos.profiles, target=domain.target_percent,
                                               code_mfa_enabled=domain.code_mfa_enabled, aal_cache=kratos.aal_cache)
    methods = enrollment_metrics.methods(kratos.profiles, code_mfa_enabled=domain.code_mfa_enabled)
    stepups = kratos.stepups
    timeline = EnrollmentsOverTime(
        "derived", tuple(EnrollmentDayCount(d.day, d.totp, d.webauthn) for d in kratos.timeline), ENROLLMENT_NOTE)
    spike_reason = "No audit source configured."
    if audit is not None:
        if audit.stepup_days:
            stepups = Stepups("audit", tuple(StepupDay(day.date, count) for day, count in
                                             zip(stepups.days, audit.stepup_days, strict=True)),
                              kratos.summary.aal2_sessions, None, None, None,
                              "from audit events; at_login / later need session AMR")
        if audit.enrollment_days:
            timeline = EnrollmentsOverTime("audit", tuple(
                EnrollmentDayCount(d.date, totp, webauthn)
                for d, (totp, webauthn) in zip(timeline.days, audit.enrollment_days, strict=True)), None)
        failures = audit.failures
        spike_reason = failures.reason if not failures.available else "Audit history shorter than the baseline."
    elif audit_error:
        failures = ChallengeFailures(False, audit_error, None, config.failure_threshold, config.failure_window_days)
        spike_reason = audit_error
    else:
        failures = ChallengeFailures(False, "no audit source configured", None, config.failure_threshold,
                                     config.failure_window_days)
    alerts = (
        rules.enrollment_dropping(enrollment, history, as_of, config),
        rules.challenge_failure_spike(audit.spike_windows if audit else None, config, spike_reason),
        rules.aal2_stepup_zero(stepups, enrollment, config,
                               kratos.step_quality.stepup_without_completed_at if stepups.source == "derived" else 0),
        rules.below_target(enrollment),
        rules.audit_source_silent(domain.audit is not None, audit.recent_events if audit else None, config,
                                  audit_error),
    )
    quality, steps = kratos.quality, kratos.step_quality
    data_quality = DataQuality(
        malformed_config=quality.malformed_config,
        unknown_credential_types=quality.unknown_credential_types,
        malformed_amr=kratos.summary.malformed_amr,
        stepup_without_completed_at=steps.stepup_without_completed_at,
        missing_timestamps=quality.missing_timestamps + steps.undated_aal2_entries
        + (audit.missing_timestamps if audit else 0),
        timestamps_after_as_of=quality.enrollments_after_as_of + steps.steps_after_as_of
        + (audit.timestamps_after_as_of if audit else 0),
        unknown_state=sum(p.count for p in kratos.profiles if p.state == "unknown"),
        audit_rows_without_identity=audit.rows_without_identity if audit else 0,
    )
    trend = tuple(TrendPoint(day, s.enrolled, s.total, s.percent)
                  for day, s in sorted(last_per_day(history, zone).items()))
    return DomainReport(
        name=domain.name, status="ok", error=audit_error, enrollment=enrollment, methods=methods,
        stepups=stepups, enrollments_over_time=timeline, challenge_failures=failures, alerts=alerts,
        data_quality=data_quality, approximation=LEGACY_SPLIT_NOTE if domain.schema_split else None,
        enrollment_trend=trend,
    )


def _unevaluated_alerts(reason: str) -> tuple:
    return tuple(rules.not_evaluated(name, severity, reason) for name, severity in (
        ("enrollment_dropping", "warning"), ("challenge_failure_spike", "critical"),
        ("aal2_stepup_zero", "critical"), ("below_target", "warning"), ("audit_source_silent", "warning")))
