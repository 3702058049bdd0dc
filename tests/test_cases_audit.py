"""Cases C11-C13 of shared/cases/README.md (audit events), plus the audit-sourced series, on every dialect.

The Kratos side is a tiny writer-built database (one active identity with a password and a TOTP), and
the audit table lives in the same database unless a test needs two shapes side by side. Every expected
number is worked out by hand from the rows written (SPEC 2.2, 3.3-3.5, 4).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dbservers import KratosDb
from reporthelp import PASSWORD, TOTP, assert_stepup_days, new_ids, thirty_days
from sqlalchemy import text

from mfastats.audit.tables import AuditEvent, write_audit
from mfastats.cli import cli
from mfastats.clock import format_time
from mfastats.demo.kratos_schema import Credential, Identity, write_kratos
from mfastats.outputs.document import report_document
from mfastats.report import build_report
from mfastats.settings import Flags, load_settings

FAILED, STEPUP = "mfa.challenge_failed", "auth.aal2_stepup_completed"
TOTP_ENROLLED, WEBAUTHN_ENROLLED = "mfa.totp_enrolled", "mfa.webauthn_enrolled"
SUCCEEDED = "mfa.challenge_succeeded"
FIXED = datetime(2024, 5, 10, 12, 0, 0, tzinfo=UTC)  # a Friday; the 30 step-up dates are 2024-04-11 .. 2024-05-10


def now() -> datetime:
    """`--as-of` now, to the second (SQLite's datetime() compares whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


def kratos(db: KratosDb, totp_created: datetime = datetime(2024, 1, 2, 3, 4, 5)) -> str:
    """One active identity with a password and a TOTP (enrolled 1 of 1)."""
    (i0,) = new_ids(1)
    write_kratos(db.engine, [Identity(i0, created_at=datetime(2024, 1, 1))],
                 [Credential(i0, "password", PASSWORD, created_at=datetime(2024, 1, 1)),
                  Credential(i0, "totp", TOTP, created_at=totp_created)])
    return i0


def report(flags: Flags, as_of: datetime) -> dict[str, Any]:
    return report_document(build_report(load_settings(flags), as_of))


def domain(kratos_url: str, audit_url: str | None, as_of: datetime, name: str = "ciam") -> dict[str, Any]:
    flags = Flags(kratos=[f"{name}={kratos_url}"], audit=[f"{name}={audit_url}"] if audit_url else [])
    (block,) = report(flags, as_of)["domains"]
    assert block["status"] == "ok" and block["error"] is None, block["error"]
    return block


def alert(block: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [a for a in block["alerts"] if a["name"] == name]
    return found


def fails(identity: str | None, at: datetime, ip: str | None = "198.51.100.1", n: int = 1,
          step: timedelta = timedelta(minutes=1), event: str = FAILED) -> list[AuditEvent]:
    return [AuditEvent(event, at + k * step, identity, ip=ip) for k in range(n)]


# -- C11 --------------------------------------------------------------------------------------------
def c11_events(as_of: datetime) -> tuple[list[str], list[AuditEvent]]:
    i1, i2, i3, i4 = new_ids(4)
    d = timedelta(days=1)
    events = [
        # I1: three failures inside the window from two IPs.
        AuditEvent(FAILED, as_of - 1 * d, i1, ip="198.51.100.1"),
        AuditEvent(FAILED, as_of - 2 * d, i1, ip="198.51.100.2"),
        AuditEvent(FAILED, as_of - 3 * d, i1, ip="198.51.100.1"),
        # I2: two inside, one at now-8 d (outside).
        *(AuditEvent(FAILED, as_of - k * d, i2, ip="198.51.100.3") for k in (1, 2, 8)),
        # I3: five rows one minute apart from now-1 h, one IP.
        *fails(i3, as_of - timedelta(hours=1), ip="203.0.113.9", n=5),
        # I4: now-1 d, now-2 d and exactly now-7 d (the window is (now-7 d, now]).
        *(AuditEvent(FAILED, as_of - k * d, i4, ip="198.51.100.4") for k in (1, 2, 7)),
    ]
    return [i1, i2, i3, i4], events


def test_c11_threshold_and_window(kratos_db: KratosDb) -> None:
    kratos(kratos_db)
    as_of = now()
    (i1, _i2, i3, _i4), events = c11_events(as_of)
    write_audit(kratos_db.engine, events, shape="sdk")
    result = CliRunner().invoke(cli, ["report", "--format", "json", "--kratos", f"ciam={kratos_db.url}",
                                      "--audit", f"ciam={kratos_db.url}", "--as-of", format_time(as_of)])
    assert result.exit_code == 0, result.output
    (block,) = json.loads(result.stdout)["domains"]
    failures = block["challenge_failures"]
    assert failures["available"] is True and failures["reason"] is None and failures["source"] == "audit"
    assert (failures["threshold"], failures["window_days"]) == (3, 7)
    listed = [{k: v for k, v in row.items() if k != "hint"} for row in failures["identities"]]
    assert listed == [  # most failures first
        {"identity_id": i3, "failures": 5, "first_at": format_time(as_of - timedelta(hours=1)),
         "last_at": format_time(as_of - timedelta(minutes=56)), "distinct_ips": 1,
         "successes_after_last_failure": None},
        {"identity_id": i1, "failures": 3, "first_at": format_time(as_of - timedelta(days=3)),
         "last_at": format_time(as_of - timedelta(days=1)), "distinct_ips": 2,
         "successes_after_last_failure": None},
    ]
    hints = [row["hint"] for row in failures["identities"]]
    assert hints[0].startswith("lost authenticator") and "one IP" in hints[0], hints
    assert hints[1].startswith("lost authenticator") and "two IPs" in hints[1], hints
    assert block["data_quality"]["audit_rows_without_identity"] == 0
    # Daily failures: the 30 dates ending today; count each row on its own UTC date (none is after as_of).
    expected_days: dict[str, int] = {}
    for event in events:
        day = event.created_at.date().isoformat()
        if event.created_at.date() > as_of.date() - timedelta(days=30):
            expected_days[day] = expected_days.get(day, 0) + 1
    assert [d["date"] for d in failures["days"]] == thirty_days(as_of.date())
    assert {d["date"]: d["failures"] for d in failures["days"]} == {
        day: expected_days.get(day, 0) for day in thirty_days(as_of.date())}
    assert all(d["successes"] is None and d["failure_ratio"] is None for d in failures["days"])
    assert alert(block, "audit_source_silent")["state"] == "ok"


# -- C12 --------------------------------------------------------------------------------------------
def test_c12_missing_events_are_not_zero(kratos_db: KratosDb) -> None:
    i0 = kratos(kratos_db)
    as_of = now()
    write_audit(kratos_db.engine, [AuditEvent("lockout_created", as_of - timedelta(hours=h), i0, ip="192.0.2.1")
                                   for h in (1, 2, 30)], shape="sdk", domain="ciam")
    # Domain A (ciam) has the audit table; domain B (iam) reads the same Kratos data with no audit source.
    flags = Flags(kratos=[f"ciam={kratos_db.url}", f"iam={kratos_db.url}"], audit=[f"ciam={kratos_db.url}"])
    a, b = report(flags, as_of)["domains"]
    assert (a["name"], b["name"]) == ("ciam", "iam")
    assert a["status"] == b["status"] == "ok" and a["error"] is None and b["error"] is None

    fa = a["challenge_failures"]
    assert fa["available"] is False and fa["identities"] == []
    assert "never recorded" in fa["reason"] and FAILED in fa["reason"], fa["reason"]
    assert alert(a, "audit_source_silent")["state"] == "ok"
    assert alert(a, "audit_source_silent")["value"] == 2  # two rows in (now-24 h, now]
    assert alert(a, "challenge_failure_spike")["state"] == "insufficient_data"

    fb = b["challenge_failures"]
    assert fb["available"] is False and fb["identities"] == []
    assert fb["reason"] == "no audit source configured"
    assert alert(b, "audit_source_silent")["state"] == "insufficient_data"
    assert alert(b, "challenge_failure_spike")["state"] == "insufficient_data"
    for block in (a, b):  # no audit series replaces the derived ones
        assert block["stepups"]["source"] == "derived"
        assert block["enrollments_over_time"]["source"] == "derived"


def test_audit_source_silent_fires_without_recent_event(kratos_db: KratosDb) -> None:
    i0 = kratos(kratos_db)
    as_of = FIXED
    # The newest row is exactly 24 h old: outside (as_of - 24 h, as_of]; one after as_of does not count.
    write_audit(kratos_db.engine, [AuditEvent(FAILED, as_of - timedelta(hours=24), i0),
                                   AuditEvent(FAILED, as_of + timedelta(seconds=1), i0)], shape="sdk")
    silent = alert(domain(kratos_db.url, kratos_db.url, as_of), "audit_source_silent")
    assert (silent["state"], silent["value"], silent["severity"]) == ("firing", 0, "warning")
    write_audit(kratos_db.engine, [AuditEvent("login", as_of, None)], shape="sdk")  # exactly at as_of: inside
    silent = alert(domain(kratos_db.url, kratos_db.url, as_of), "audit_source_silent")
    assert (silent["state"], silent["value"]) == ("ok", 1)


# -- C13 --------------------------------------------------------------------------------------------
def c13_events(as_of: datetime) -> list[AuditEvent]:
    _, events = c11_events(as_of)
    (i5,) = new_ids(1)
    d = timedelta(days=1)
    return [
        *events,
        *fails(i5, as_of - 2 * d, ip="192.0.2.7", n=4, step=timedelta(minutes=20)),
        AuditEvent(FAILED, as_of - timedelta(hours=3), None, ip="192.0.2.99"),  # no identity: counted apart
        *(AuditEvent(STEPUP, as_of - k * d, i5, ip="192.0.2.7") for k in (0, 1, 1, 5, 29)),
        AuditEvent(TOTP_ENROLLED, as_of - 3 * d, i5),
        AuditEvent(TOTP_ENROLLED, as_of - 40 * d, i5),
        AuditEvent(WEBAUTHN_ENROLLED, as_of - 3 * d, i5),
    ]


def test_c13_both_table_shapes_give_identical_metrics(kratos_db: KratosDb, fresh_db_factory) -> None:  # noqa: ANN001
    kratos(kratos_db)
    as_of = now()
    events = c13_events(as_of)
    noise = [AuditEvent(FAILED, as_of - timedelta(hours=2), new_ids(1)[0], domain="iam") for _ in range(3)]
    # SDK shape beside the Kratos tables (plus another domain's table); documented shape in its own database.
    write_audit(kratos_db.engine, events, shape="sdk", domain="ciam")
    write_audit(kratos_db.engine, noise, shape="sdk", domain="iam")
    documented = fresh_db_factory(kratos_db.dialect)
    write_audit(documented.engine, events + noise, shape="documented")

    sdk_block = domain(kratos_db.url, kratos_db.url, as_of)
    doc_block = domain(kratos_db.url, documented.url, as_of)
    for key in ("challenge_failures", "stepups", "enrollments_over_time", "alerts", "data_quality"):
        assert sdk_block[key] == doc_block[key], key
    # And the shared numbers are the hand-computed ones, not an identical failure.
    failures = sdk_block["challenge_failures"]
    assert [(row["failures"], row["distinct_ips"]) for row in failures["identities"]] == [(5, 1), (4, 1), (3, 2)]
    assert sdk_block["data_quality"]["audit_rows_without_identity"] == 1
    assert sdk_block["stepups"]["source"] == "audit"
    today, yesterday = as_of.date(), as_of.date() - timedelta(days=1)
    steps = {today: 1, yesterday: 2, today - timedelta(days=5): 1, today - timedelta(days=29): 1}
    assert_stepup_days(sdk_block, today, {day.isoformat(): n for day, n in steps.items()})
    timeline = sdk_block["enrollments_over_time"]
    assert timeline["source"] == "audit" and len(timeline["days"]) == 90
    nonzero = {d["date"]: (d["totp"], d["webauthn"]) for d in timeline["days"] if d["totp"] or d["webauthn"]}
    assert nonzero == {(as_of - timedelta(days=3)).date().isoformat(): (1, 1),
                       (as_of - timedelta(days=40)).date().isoformat(): (1, 0)}


# -- identity ids that are not UUIDs ----------------------------------------------------------------
def test_null_and_non_uuid_identity_ids_are_counted_apart(kratos_db: KratosDb) -> None:
    kratos(kratos_db)
    as_of = FIXED
    (i1,) = new_ids(1)
    h = timedelta(hours=1)
    events = [
        *fails(None, as_of - 2 * h, n=3),  # three NULL ids: a "group" of 3 if they were not left out
        *fails("not-a-uuid", as_of - 3 * h, n=3),
        *fails("", as_of - 4 * h),
        *fails(i1[:-1], as_of - 4 * h),  # 35 characters: almost a UUID
        *fails(None, as_of - timedelta(days=7)),  # outside (as_of - 7 d, as_of]: not counted
        *fails(None, as_of + timedelta(minutes=1)),  # after as_of: not counted
        # One identity written once in UPPER-case text and twice in lower-case: one identity, 3 failures.
        *fails(i1, as_of - 5 * h, n=2), *fails(i1.upper(), as_of - 6 * h),
    ]
    write_audit(kratos_db.engine, events, shape="sdk")
    block = domain(kratos_db.url, kratos_db.url, as_of)
    failures = block["challenge_failures"]
    assert [(row["identity_id"], row["failures"]) for row in failures["identities"]] == [(i1, 3)]
    assert block["data_quality"]["audit_rows_without_identity"] == 3 + 3 + 1 + 1


# -- audit-sourced step-ups and enrollments ---------------------------------------------------------
def test_stepups_from_audit_every_day_present(kratos_db: KratosDb) -> None:
    kratos(kratos_db)
    (i1,) = new_ids(1)
    at = datetime.fromisoformat
    events = [AuditEvent(STEPUP, at(text), i1) for text in (
        "2024-04-10T23:59:59+00:00",  # the day before the first of the 30 dates: out
        "2024-04-11T00:00:00+00:00",  # first date, first instant
        "2024-05-09T00:00:00+00:00", "2024-05-09T23:59:59+00:00",
        "2024-05-10T11:00:00+00:00", "2024-05-10T12:00:00+00:00",  # the last one exactly at as_of
    )] + [AuditEvent(FAILED, FIXED, i1)]  # other events never count as steps
    write_audit(kratos_db.engine, events, shape="sdk")
    block = domain(kratos_db.url, kratos_db.url, FIXED)
    stepups = block["stepups"]
    assert stepups["source"] == "audit"
    assert stepups["days"][0]["date"] == "2024-04-11" and len(stepups["days"]) == 30
    assert_stepup_days(block, date(2024, 5, 10), {"2024-04-11": 1, "2024-05-09": 2, "2024-05-10": 2})
    assert stepups["aal2_sessions"] == 0  # from Kratos: no session rows
    assert alert(block, "aal2_stepup_zero")["state"] == "ok"


def test_audit_events_after_as_of_are_left_out(kratos_db: KratosDb) -> None:
    kratos(kratos_db)
    (i1,) = new_ids(1)
    later = FIXED + timedelta(hours=1)  # 2024-05-10T13:00Z: same date as as_of, but after it
    write_audit(kratos_db.engine, [AuditEvent(STEPUP, FIXED, i1), AuditEvent(STEPUP, later, i1),
                                   AuditEvent(TOTP_ENROLLED, FIXED, i1), AuditEvent(TOTP_ENROLLED, later, i1),
                                   AuditEvent(FAILED, FIXED, i1), AuditEvent(FAILED, later, i1)], shape="sdk")
    block = domain(kratos_db.url, kratos_db.url, FIXED)
    last = {"stepups": block["stepups"]["days"][-1]["count"],
            "totp_enrolled": block["enrollments_over_time"]["days"][-1]["totp"],
            "failures": block["challenge_failures"]["days"][-1]["failures"]}
    assert last == {"stepups": 1, "totp_enrolled": 1, "failures": 1}


def test_enrollments_from_audit_and_derived_fallback(kratos_db: KratosDb) -> None:
    kratos(kratos_db, totp_created=datetime(2024, 5, 1, 9, 0))  # derived series: one TOTP on 2024-05-01
    as_of = FIXED
    derived = domain(kratos_db.url, None, as_of)["enrollments_over_time"]
    assert derived["source"] == "derived" and len(derived["days"]) == 90
    assert {d["date"]: (d["totp"], d["webauthn"]) for d in derived["days"] if d["totp"] or d["webauthn"]} == {
        "2024-05-01": (1, 0)}
    # An audit table without enrollment events keeps the derived series (and the step-up series).
    (i1,) = new_ids(1)
    write_audit(kratos_db.engine, [AuditEvent(FAILED, as_of - timedelta(hours=1), i1)], shape="sdk")
    block = domain(kratos_db.url, kratos_db.url, as_of)
    assert block["enrollments_over_time"] == derived
    assert block["stepups"]["source"] == "derived"
    # With enrollment events the audit series replaces it: 90 dates 2024-02-11 .. 2024-05-10.
    at = datetime.fromisoformat
    write_audit(kratos_db.engine, [
        AuditEvent(TOTP_ENROLLED, at("2024-02-11T00:00:00+00:00"), i1),
        AuditEvent(TOTP_ENROLLED, at("2024-02-10T23:59:59+00:00"), i1),  # day before the range: out
        AuditEvent(TOTP_ENROLLED, at("2024-05-03T08:00:00+00:00"), i1),
        AuditEvent(TOTP_ENROLLED, at("2024-05-03T09:00:00+00:00"), i1),
        AuditEvent(WEBAUTHN_ENROLLED, at("2024-05-03T10:00:00+00:00"), i1),
        AuditEvent(WEBAUTHN_ENROLLED, at("2024-05-10T11:59:59+00:00"), i1),
    ], shape="sdk")
    timeline = domain(kratos_db.url, kratos_db.url, as_of)["enrollments_over_time"]
    assert timeline["source"] == "audit"
    assert timeline["days"][0]["date"] == "2024-02-11" and timeline["days"][-1]["date"] == "2024-05-10"
    assert len(timeline["days"]) == 90
    assert {d["date"]: (d["totp"], d["webauthn"]) for d in timeline["days"] if d["totp"] or d["webauthn"]} == {
        "2024-02-11": (1, 0), "2024-05-03": (2, 1), "2024-05-10": (0, 1)}


# -- success event from the config file -------------------------------------------------------------
def test_success_event_from_config(kratos_db: KratosDb, tmp_path: Path) -> None:
    kratos(kratos_db)
    a, b = sorted(new_ids(2))
    at = datetime.fromisoformat
    events = [
        # A: three failures 08:00-08:10 on the as-of date; successes at 07:00 (before), 08:15 and 09:00.
        *fails(a, at("2024-05-10T08:00:00+00:00"), ip="192.0.2.1", n=3, step=timedelta(minutes=5)),
        *(AuditEvent(SUCCEEDED, at(t), a, ip="192.0.2.1") for t in
          ("2024-05-10T07:00:00+00:00", "2024-05-10T08:15:00+00:00", "2024-05-10T09:00:00+00:00")),
        # B: three failures on 2024-05-09 from one IP; its only success is the day before.
        *fails(b, at("2024-05-09T10:00:00+00:00"), ip="192.0.2.2", n=3),
        AuditEvent(SUCCEEDED, at("2024-05-08T12:00:00+00:00"), b, ip="192.0.2.2"),
    ]
    write_audit(kratos_db.engine, events, shape="sdk")
    config = tmp_path / "mfastats.toml"
    config.write_text(f'[domains.ciam]\nkratos_dsn = "{kratos_db.url}"\n'
                      f'[domains.ciam.audit]\ndsn = "{kratos_db.url}"\nsuccess_event = "{SUCCEEDED}"\n')
    (block,) = report(Flags(config=config), FIXED)["domains"]
    assert block["status"] == "ok" and block["error"] is None, block["error"]
    rows = {row["identity_id"]: row for row in block["challenge_failures"]["identities"]}
    assert set(rows) == {a, b}
    assert rows[a]["successes_after_last_failure"] == 2
    assert rows[a]["hint"].startswith("recovered"), rows[a]["hint"]
    assert rows[b]["successes_after_last_failure"] == 0
    assert rows[b]["hint"] == "lost authenticator? repeated failures from one IP and no success since"
    days = {d["date"]: (d["failures"], d["successes"], d["failure_ratio"])
            for d in block["challenge_failures"]["days"]}
    assert len(days) == 30
    # failure_ratio = failures / (failures + successes); None when both are 0.
    expected = {day: (0, 0, None) for day in thirty_days(date(2024, 5, 10))}
    expected.update({"2024-05-10": (3, 3, 0.5), "2024-05-09": (3, 0, 1.0), "2024-05-08": (0, 1, 0.0)})
    assert days == expected


# -- hints ------------------------------------------------------------------------------------------
def test_hints_attack_vs_lost_authenticator(kratos_db: KratosDb) -> None:
    kratos(kratos_db)
    at = datetime.fromisoformat
    crowd = new_ids(5)
    many_ips, lonely, pair = new_ids(3)
    events = [
        # Five identities whose failures all fall in 2024-05-10 10:00-10:59, one IP each.
        *(e for k, who in enumerate(crowd)
          for e in fails(who, at("2024-05-10T10:00:00+00:00") + timedelta(minutes=10 * k), ip=f"192.0.2.{k}", n=3)),
        # One identity failing from three IPs on another day.
        *(AuditEvent(FAILED, at("2024-05-08T09:00:00+00:00") + timedelta(minutes=k), many_ips, ip=f"203.0.113.{k}")
          for k in range(3)),
        # One identity, one IP, no success: a lost authenticator.
        *fails(lonely, at("2024-05-07T15:00:00+00:00"), ip="198.51.100.50", n=4),
        # Another single identity on its own hour and IP.
        *fails(pair, at("2024-05-06T18:00:00+00:00"), ip="198.51.100.60", n=3),
    ]
    write_audit(kratos_db.engine, events, shape="sdk")
    rows = {row["identity_id"]: row for row in
            domain(kratos_db.url, kratos_db.url, FIXED)["challenge_failures"]["identities"]}
    assert len(rows) == 8
    for who in crowd:
        assert rows[who]["hint"] == "possible attack: 5 identities failing in the same hour", rows[who]
    assert rows[many_ips]["hint"] == "possible attack: failures from 3 IP addresses"
    assert rows[many_ips]["distinct_ips"] == 3
    assert rows[lonely]["hint"] == "lost authenticator? repeated failures from one IP"
    assert rows[lonely]["failures"] == 4
    assert rows[pair]["hint"] == "lost authenticator? repeated failures from one IP"


# -- a PostgreSQL server whose time zone is not UTC -------------------------------------------------
@pytest.mark.postgresql
def test_timestamptz_windows_do_not_depend_on_server_time_zone(fresh_db_factory) -> None:  # noqa: ANN001
    """`timestamptz` rows compared with naive-UTC bounds must not shift by the session's TimeZone."""
    db = fresh_db_factory("postgresql")
    with db.engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{db.name}" SET timezone TO \'America/New_York\''))
        conn.commit()
    db.engine.dispose()
    kratos(db)
    as_of = FIXED
    (i1, i2) = new_ids(2)
    write_audit(db.engine, [
        # i1: 3 failures, the oldest 1 h inside the 7-day window; i2: its third failure 1 h outside it.
        *fails(i1, as_of - timedelta(days=7) + timedelta(hours=1), n=3, step=timedelta(hours=1)),
        *fails(i2, as_of - timedelta(days=7) - timedelta(hours=1), n=3, step=timedelta(hours=1)),
        AuditEvent("login", as_of - timedelta(hours=2), None),
    ], shape="sdk")
    block = domain(db.url, db.url, as_of)
    rows = block["challenge_failures"]["identities"]
    assert [(row["identity_id"], row["failures"]) for row in rows] == [(i1, 3)]
    assert rows[0]["first_at"] == format_time(as_of - timedelta(days=7) + timedelta(hours=1))
    assert alert(block, "audit_source_silent")["state"] == "ok"
