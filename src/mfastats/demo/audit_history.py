"""The demo's Olympus audit log (both table shapes) and its snapshot history.

CIAM uses the SDK's own table `ciam_security_audit_log` (IP in `metadata.ip`) and records step-ups,
challenge failures and successes, so its step-up series comes from the audit log; its enrollments stay
`derived`. IAM uses the documented shared `security_audit` table and records failures, successes and
enrollments, so its step-ups stay `derived`. Together the report shows every source.

A credential-stuffing wave in the last 24 hours (many identities, many IPs) makes the
`challenge_failure_spike` alert fire, and a handful of users fail repeatedly from one IP with no
success since: the "lost authenticator" pattern. The history is 30 daily snapshots whose enrollment
rises slowly towards today's value, so the trend chart has a shape.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, insert

from mfastats.audit.tables import AuditEvent, write_audit
from mfastats.clock import as_naive_utc
from mfastats.model import Report
from mfastats.outputs.document import plain
from mfastats.store.history import Store, snapshots

AUDIT_DAYS = 30
SUCCESS_EVENT = "mfa.challenge_succeeded"


def _ip(rng: random.Random) -> str:
    return f"203.0.113.{rng.randint(1, 254)}" if rng.random() < 0.5 else f"198.51.100.{rng.randint(1, 254)}"


def _moment(rng: random.Random, day_start: datetime) -> datetime:
    return day_start + timedelta(seconds=rng.randint(0, 86_399))


def ciam_events(rng: random.Random, as_of: datetime, users: list[str]) -> list[AuditEvent]:
    """Daily step-ups, successes and a few failures; lost authenticators; an attack in the last 24 h."""
    events: list[AuditEvent] = []
    for back in range(AUDIT_DAYS, 0, -1):
        day = as_of - timedelta(days=back)
        for _ in range(rng.randint(20, 32)):
            who = rng.choice(users)
            at = _moment(rng, day)
            events.append(AuditEvent("auth.aal2_stepup_completed", at, who, _ip(rng)))
            events.append(AuditEvent(SUCCESS_EVENT, at - timedelta(seconds=2), who, _ip(rng)))
        for _ in range(rng.randint(2, 6)):  # mistyped codes
            events.append(AuditEvent("mfa.challenge_failed", _moment(rng, day), rng.choice(users), _ip(rng)))
        events.append(AuditEvent("lockout_created", _moment(rng, day), rng.choice(users), _ip(rng)))
    for who in rng.sample(users, 3):  # lost authenticator: one IP, no success since
        ip = _ip(rng)
        for hours in (70, 47, 30, 5):
            events.append(AuditEvent("mfa.challenge_failed", as_of - timedelta(hours=hours), who, ip))
    for who in rng.sample(users, 14):  # credential stuffing with stolen passwords, hour before as_of
        for _ in range(3):
            at = as_of - timedelta(minutes=rng.randint(5, 55))
            events.append(AuditEvent("mfa.challenge_failed", at, who, f"192.0.2.{rng.randint(1, 254)}"))
    events.append(AuditEvent("mfa.challenge_failed", as_of - timedelta(hours=3), None, _ip(rng)))
    events.append(AuditEvent("auth.aal2_stepup_completed", as_of, rng.choice(users), _ip(rng)))  # just now
    return [e for e in events if e.created_at <= as_of]


def iam_events(rng: random.Random, as_of: datetime, users: list[str]) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for back in range(90, 0, -1):
        day = as_of - timedelta(days=back)
        if rng.random() < 0.3:
            kind = "mfa.webauthn_enrolled" if rng.random() < 0.7 else "mfa.totp_enrolled"
            events.append(AuditEvent(kind, _moment(rng, day), rng.choice(users), _ip(rng), domain="iam"))
        if back <= AUDIT_DAYS:
            for _ in range(rng.randint(30, 45)):
                events.append(AuditEvent(SUCCESS_EVENT, _moment(rng, day), rng.choice(users), _ip(rng), domain="iam"))
            if rng.random() < 0.4:
                events.append(AuditEvent("mfa.challenge_failed", _moment(rng, day), rng.choice(users), _ip(rng),
                                         domain="iam"))
    events.append(AuditEvent(SUCCESS_EVENT, as_of - timedelta(minutes=20), rng.choice(users), _ip(rng), domain="iam"))
    return [e for e in events if e.created_at <= as_of]


def write_demo_audit(path: Path, rng: random.Random, as_of: datetime, ciam_users: list[str],
                     iam_users: list[str]) -> None:
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    try:
        write_audit(engine, ciam_events(rng, as_of, ciam_users), shape="sdk", domain="ciam")
        write_audit(engine, iam_events(rng, as_of, iam_users), shape="documented", domain="iam")
    finally:
        engine.dispose()


def write_demo_history(store: Store, report: Report, rng: random.Random, days: int = AUDIT_DAYS) -> None:
    """One snapshot a day for `days` days before today, enrollment rising slowly to today's value."""
    rows = []
    for domain in report.domains:
        enrollment = domain.enrollment
        if enrollment.enrolled is None or not enrollment.total:
            continue
        enrolled = enrollment.enrolled
        for back in range(1, days + 1):
            enrolled = max(enrolled - rng.randint(0, max(enrollment.total // 1500, 1)), 0)
            percent = (Decimal(enrolled * 100) / Decimal(enrollment.total)).quantize(Decimal("0.01"))
            past = replace(enrollment, enrolled=enrolled, percent=percent)
            as_of = report.as_of - timedelta(days=back)
            rows.append({"domain": domain.name, "as_of": as_naive_utc(as_of), "taken_at": as_naive_utc(as_of),
                         "status": "ok", "total": enrollment.total, "enrolled": enrolled, "percent": percent,
                         "aal2_capable": enrollment.aal2_capable,
                         "document": json.dumps(plain(replace(domain, enrollment=past)))})
    with store.engine.begin() as conn:
        conn.execute(insert(snapshots), rows)


