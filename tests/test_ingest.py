"""Issue 6: ingesting events nobody records yet, from real files of every input form.

Expected numbers are worked out by hand from the lines written below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from mfastats.demo.kratos_schema import Credential, Identity, write_kratos

ALICE = "0b7e4c1a-8f3e-4c8a-9d2b-1a2b3c4d5e6f"  # has a usable TOTP
BOB = "1c8f5d2b-9a4f-4d9b-8e3c-2b3c4d5e6f70"  # password only
AS_OF = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
TOTP_URL = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from mfastats.cli import main; main()", *args],
                          input=stdin, capture_output=True, text=True, timeout=120)


def ory(name: str, at: datetime, **attributes: str) -> str:
    return json.dumps({"name": name, "version": "v1", "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                       "projectId": "p1", "eventAttributes": attributes})


def otlp(name: str, at: datetime, **attributes: str) -> str:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "abc", "events": [{
        "name": name, "timeUnixNano": str(int(at.timestamp() * 1e9)),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()]}]}]}]}]})


@pytest.fixture
def kratos(tmp_path: Path) -> Path:
    path = tmp_path / "kratos.sqlite"
    write_kratos(create_engine(f"sqlite:///{path}"),
                 [Identity(ALICE), Identity(BOB)],
                 [Credential(ALICE, "password", {"hashed_password": "$argon2id$x"}),
                  Credential(ALICE, "totp", {"totp_url": TOTP_URL}),
                  Credential(BOB, "password", {"hashed_password": "$argon2id$y"})], [])
    return path


def ingest(tmp_path: Path, lines: list[str], kratos: Path | None = None, name: str = "events.jsonl") -> dict:
    source = tmp_path / name
    source.write_text("\n".join(lines) + "\n")
    args = ["ingest", str(source), "--domain", "ciam", "--store", str(tmp_path / "store.sqlite")]
    if kratos:
        args += ["--kratos", str(kratos)]
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def report(tmp_path: Path, kratos: Path) -> dict:
    result = run("report", "--kratos", f"ciam={kratos}", "--store", str(tmp_path / "store.sqlite"),
                 "--as-of", "2024-06-15T12:00:00Z", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["domains"][0]


def test_every_input_form_maps_to_seed_events(tmp_path: Path, kratos: Path) -> None:
    t = AS_OF - timedelta(hours=2)
    lines = [
        # Ory event stream: an MFA failure, a first-factor failure, and one aal2 login in two steps.
        ory("LoginFailed", t, LoginRequestedAAL="aal2", SelfServiceMethodUsed="totp", IdentityID=ALICE,
            ClientIP="203.0.113.5"),
        ory("LoginFailed", t, LoginRequestedAAL="aal1", SelfServiceMethodUsed="password", IdentityID=BOB),
        ory("LoginSucceeded", t + timedelta(seconds=30), LoginRequestedAAL="aal2",
            SelfServiceMethodUsed="password", IdentityID=ALICE),
        ory("LoginSucceeded", t + timedelta(seconds=40), LoginRequestedAAL="aal2",
            SelfServiceMethodUsed="totp", IdentityID=ALICE),
        # Settings: Alice's TOTP exists in Kratos (added); Bob's does not (removed).
        ory("SettingsSucceeded", t, SelfServiceMethodUsed="totp", IdentityID=ALICE),
        ory("SettingsSucceeded", t, SelfServiceMethodUsed="totp", IdentityID=BOB),
        # OpenTelemetry span event: another MFA failure.
        otlp("LoginFailed", t + timedelta(minutes=5), LoginRequestedAAL="aal2", IdentityID=ALICE,
             ClientIP="203.0.113.6"),
        # Kratos JSON logs, both audiences; the aal1 one is a first-factor error.
        json.dumps({"level": "info", "audience": "audit", "msg": "Encountered self-service login error.",
                    "time": "2024-06-15T10:10:00Z", "login_flow": {"id": "f1", "requested_aal": "aal2"},
                    "http_request": {"remote": "198.51.100.7"}}),
        json.dumps({"level": "info", "audience": "application", "msg": "Encountered self-service login error.",
                    "time": "2024-06-15T10:11:00Z", "login_flow": {"id": "f2", "requested_aal": "aal1"}}),
        # Login UI lines: a failure feeds rates; "displayed" is stored but is no failure.
        json.dumps({"type": "audit", "event": "mfa_challenge_failed", "method": "totp", "domain": "ciam",
                    "ts": "2024-06-15T10:12:00Z"}),
        json.dumps({"type": "audit", "event": "mfa_challenge_displayed", "method": "totp", "domain": "ciam",
                    "ts": "2024-06-15T10:12:30Z"}),
    ]
    counts = ingest(tmp_path, lines, kratos)
    # accepted: Ory failure, step-up (totp step), Alice's enrollment, OTLP failure, log failure (audit),
    # UI failure, UI displayed = 7; ignored: aal1 failure, password step, Bob's removal, aal1 log = 4.
    assert (counts["accepted"], counts["duplicate"], counts["ignored"], counts["malformed"]) == (7, 0, 4, 0)

    domain = report(tmp_path, kratos)
    failures = domain["challenge_failures"]
    assert failures["available"] is True and failures["source"] == "audit"
    assert failures["days"][-1] == {"date": "2024-06-15", "failures": 4, "successes": None, "failure_ratio": None}
    assert failures["identities"] == []  # Alice failed twice: below the threshold of 3
    assert domain["stepups"]["source"] == "audit"
    assert [d["count"] for d in domain["stepups"]["days"]][-1] == 1
    assert domain["enrollments_over_time"]["source"] == "audit"
    assert domain["enrollments_over_time"]["days"][-1] == {"date": "2024-06-15", "totp": 1, "webauthn": 0}
    # Rows without an identity (log and UI failures) are counted, not listed.
    assert domain["data_quality"]["audit_rows_without_identity"] == 2


def test_duplicates_out_of_order_and_malformed_flood(tmp_path: Path, kratos: Path) -> None:
    base = AS_OF - timedelta(days=1)
    events = [ory("LoginFailed", base + timedelta(minutes=m), LoginRequestedAAL="aal2", IdentityID=ALICE,
                  ClientIP="203.0.113.5") for m in range(3)]
    flood = ["{not json", "[]", "42", '{"name": 5}', '{"resourceSpans": "x"}', "null", '{"msg": 1}'] * 100
    # Odd shapes inside valid JSON: each is one malformed line, never a crash that loses the good lines.
    flood += ['{"resourceSpans": ["x"]}', '{"resourceSpans": [{"scopeSpans": 5}]}',
              '{"name": "LoginFailed", "timestamp": 1e20, "eventAttributes": {}}',
              '{"type": "audit", "event": "mfa_challenge_failed", "ts": 1e300}',
              '{"name": "LoginFailed", "timestamp": "0001-01-01T00:00:00+05:00", "eventAttributes": {}}',
              "[" * 400 + "]" * 400]
    first = ingest(tmp_path, list(reversed(events)) + flood, kratos, "a.jsonl")
    assert (first["accepted"], first["duplicate"]) == (3, 0)
    # "[]" is an empty batch (nothing), "{"msg": 1}" is a non-login log line (ignored); the other 5 of each
    # hundred are malformed, and so are the 6 odd shapes.
    assert first["malformed"] == 506 and first["ignored"] == 100
    again = ingest(tmp_path, [events[1], events[0], events[2], events[0]], kratos, "b.jsonl")
    assert (again["accepted"], again["duplicate"]) == (0, 4)
    failing = report(tmp_path, kratos)["challenge_failures"]["identities"]
    assert [(i["identity_id"], i["failures"], i["distinct_ips"]) for i in failing] == [(ALICE, 3, 1)]
    assert failing[0]["first_at"] == "2024-06-14T12:00:00Z" and failing[0]["last_at"] == "2024-06-14T12:02:00Z"


def test_ingest_to_report_to_alert(tmp_path: Path, kratos: Path) -> None:
    """14 quiet days with one failure each, then 12 failures in the last 24 h: the spike alert fires."""
    lines = [ory("LoginFailed", AS_OF - timedelta(days=k, hours=3), LoginRequestedAAL="aal2", IdentityID=BOB)
             for k in range(1, 15)]
    lines += [ory("LoginFailed", AS_OF - timedelta(minutes=10 + m), LoginRequestedAAL="aal2", IdentityID=ALICE,
                  ClientIP=f"203.0.113.{m}") for m in range(12)]
    lines.append(ory("LoginFailed", AS_OF - timedelta(days=16), LoginRequestedAAL="aal2", IdentityID=BOB))
    assert ingest(tmp_path, lines, kratos)["accepted"] == 27
    result = run("check", "--kratos", f"ciam={kratos}", "--store", str(tmp_path / "store.sqlite"),
                 "--as-of", "2024-06-15T12:00:00Z", "--target", "ciam=40")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.startswith("MFASTATS CRITICAL - ciam challenge_failure_spike")
    # baseline: 14 windows of 1 failure each → median 1, MAD 0 → limit 1; 12 > 1 and ≥ 10.
    assert "12 MFA challenge failures in the last 24 h against a baseline limit of 1" in result.stdout
    domain = report(tmp_path, kratos)
    alice = domain["challenge_failures"]["identities"][0]
    assert (alice["identity_id"], alice["failures"], alice["distinct_ips"]) == (ALICE, 12, 12)
    assert alice["hint"].startswith("possible attack: failures from 12 IP addresses")


def test_stdin_and_bad_domain(tmp_path: Path) -> None:
    ok = run("ingest", "-", "--domain", "ciam", "--store", str(tmp_path / "s.sqlite"), stdin="garbage\n")
    assert ok.returncode == 0 and json.loads(ok.stdout)["malformed"] == 1
    bad = run("ingest", "-", "--domain", "CIAM!", "--store", str(tmp_path / "s.sqlite"), stdin="")
    assert bad.returncode == 1 and "--domain" in bad.stderr
