"""Build the report: read each domain's sources, compute its metrics, add all domains together.

One failing domain never hides the others: its error is captured in its own block.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from sqlalchemy.exc import SQLAlchemyError

from mfastats.alerts import rules
from mfastats.clock import load_timezone, report_days
from mfastats.errors import SourceError
from mfastats.kratos.reader import KratosReader, Scope, connect
from mfastats.metrics import enrollment as enrollment_metrics
from mfastats.metrics.stepups import derived_stepups
from mfastats.model import (
    AllDomains,
    ChallengeFailures,
    DataQuality,
    DomainReport,
    EnrollmentDayCount,
    EnrollmentsOverTime,
    Report,
)
from mfastats.settings import STEPUP_DAYS, DomainSettings, Settings

log = logging.getLogger(__name__)

ENROLLMENT_NOTE = (
    "derived from credential created_at: misses factors that were later removed, and a re-enrolled "
    "TOTP shows its latest date"
)
LEGACY_SPLIT_NOTE = (
    "approximation: one Kratos database split by schema_id ('admin' = iam, anything else = ciam), as "
    "the seed page does; real deployments have one database per domain"
)


def build_report(settings: Settings, as_of: datetime) -> Report:
    zone = load_timezone(settings.timezone)
    domains = tuple(read_domain(domain, settings, as_of, zone) for domain in settings.domains)
    ok = [domain for domain in domains if domain.status == "ok"]
    all_domains = AllDomains(
        domains=tuple(domain.name for domain in ok),
        enrollment=enrollment_metrics.sum_enrollment([domain.enrollment for domain in ok]),
        methods=enrollment_metrics.sum_methods([domain.methods for domain in ok]),
    )
    return Report(as_of, settings.timezone, domains, all_domains)


def read_domain(domain: DomainSettings, settings: Settings, as_of: datetime, zone: tzinfo) -> DomainReport:
    try:
        return _read_domain(domain, settings, as_of, zone)
    except SourceError as exc:
        message = f"{domain.name} Kratos database at {domain.kratos_dsn}: {exc}"
    except SQLAlchemyError as exc:
        message = f"{domain.name} Kratos database at {domain.kratos_dsn} could not be read: {_short(exc)}"
    except Exception as exc:  # a bug must not hide the other domains; the traceback goes to the debug log
        log.debug("unexpected error in domain %s", domain.name, exc_info=True)
        message = f"{domain.name}: internal error {type(exc).__name__}: {exc} (run with -vv for details)"
    log.warning("%s", message)
    return DomainReport.failed(domain.name, message, _unevaluated_alerts("domain could not be read"))


def _short(exc: SQLAlchemyError) -> str:
    """The driver's first line: no SQL text, no parameters, no DSN."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def _read_domain(domain: DomainSettings, settings: Settings, as_of: datetime, zone: tzinfo) -> DomainReport:
    engine = connect(domain.kratos_dsn)
    try:
        with engine.connect() as conn:
            reader = KratosReader.open(conn, Scope(domain.nid, domain.schema_split))
            profiles = reader.identity_profiles()
            quality = reader.credential_quality(as_of)
            timeline = reader.enrollment_days(report_days(as_of, zone, settings.enrollment_days), as_of)
            summary = reader.session_summary()
            stepups, step_quality = derived_stepups(
                reader.amr_entries(), summary, report_days(as_of, zone, STEPUP_DAYS), as_of, zone)
            conn.rollback()
    finally:
        engine.dispose()

    enrollment = enrollment_metrics.enrollment(profiles, target=domain.target_percent,
                                               code_mfa_enabled=domain.code_mfa_enabled)
    methods = enrollment_metrics.methods(profiles, code_mfa_enabled=domain.code_mfa_enabled)
    failures = ChallengeFailures(available=False, reason="no audit source configured")
    alerts = (
        rules.not_evaluated("enrollment_dropping", "warning", "No snapshot history yet (run `mfastats snapshot`)."),
        rules.not_evaluated("challenge_failure_spike", "critical", "No audit source configured."),
        rules.aal2_stepup_zero(stepups, enrollment),
        rules.below_target(enrollment),
        rules.not_evaluated("audit_source_silent", "warning", "No audit source configured."),
    )
    data_quality = DataQuality(
        malformed_config=quality.malformed_config,
        unknown_credential_types=quality.unknown_credential_types,
        malformed_amr=summary.malformed_amr,
        stepup_without_completed_at=step_quality.stepup_without_completed_at,
        missing_timestamps=quality.missing_timestamps + step_quality.undated_aal2_entries,
        timestamps_after_as_of=quality.enrollments_after_as_of + step_quality.steps_after_as_of,
        unknown_state=sum(p.count for p in profiles if p.state == "unknown"),
        audit_rows_without_identity=0,
    )
    return DomainReport(
        name=domain.name, status="ok", error=None, enrollment=enrollment, methods=methods,
        stepups=stepups,
        enrollments_over_time=EnrollmentsOverTime(
            "derived", tuple(EnrollmentDayCount(d.day, d.totp, d.webauthn) for d in timeline), ENROLLMENT_NOTE),
        challenge_failures=failures, alerts=alerts, data_quality=data_quality,
        approximation=LEGACY_SPLIT_NOTE if domain.schema_split else None,
    )


def _unevaluated_alerts(reason: str) -> tuple:
    return (
        rules.not_evaluated("enrollment_dropping", "warning", reason),
        rules.not_evaluated("challenge_failure_spike", "critical", reason),
        rules.not_evaluated("aal2_stepup_zero", "critical", reason),
        rules.not_evaluated("below_target", "warning", reason),
        rules.not_evaluated("audit_source_silent", "warning", reason),
    )
