"""`mfastats ingest --audit DSN` writes seed-named events into the Olympus audit table (both shapes, every
dialect), idempotently, so that the report and the seed page's own SQL read them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dbservers import KratosDb
from sqlalchemy import text

from mfastats.audit.tables import create_audit_table
from mfastats.demo.kratos_schema import Credential, Identity, write_kratos

ALICE = "0b7e4c1a-8f3e-4c8a-9d2b-1a2b3c4d5e6f"
NOW = datetime.now(UTC).replace(microsecond=0)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from mfastats.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def failures(minutes: list[int]) -> str:
    return "\n".join(json.dumps({
        "name": "LoginFailed", "timestamp": (NOW - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventAttributes": {"LoginRequestedAAL": "aal2", "SelfServiceMethodUsed": "totp", "IdentityID": ALICE,
                            "ClientIP": f"203.0.113.{m}"}}) for m in minutes) + "\n"


@pytest.mark.parametrize("shape", ["sdk", "documented"])
def test_ingest_into_the_olympus_audit_table(kratos_db: KratosDb, tmp_path: Path, shape: str) -> None:
    write_kratos(kratos_db.engine, [Identity(ALICE)], [Credential(ALICE, "password", {"hashed_password": "x"})], [])
    table = "ciam_security_audit_log" if shape == "sdk" else "security_audit"
    with kratos_db.engine.begin() as conn:
        create_audit_table(conn, shape=shape, table=table)
    source = tmp_path / "events.jsonl"
    source.write_text(failures([5, 10, 15]))
    first = cli("ingest", str(source), "--domain", "ciam", "--audit", kratos_db.url)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["accepted"] == 3
    source.write_text(failures([10, 15, 20]))  # two already delivered, one new
    second = json.loads(cli("ingest", str(source), "--domain", "ciam", "--audit", kratos_db.url).stdout)
    assert (second["accepted"], second["duplicate"]) == (1, 2)

    with kratos_db.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT event_type, COUNT(*) FROM {table} GROUP BY event_type")).all()
        assert [(row[0], int(row[1])) for row in rows] == [("mfa.challenge_failed", 4)]
        if kratos_db.dialect == "postgresql" and shape == "documented":
            # The seed page's own query, verbatim, now has rows to find.
            seed = conn.execute(text(
                "SELECT identity_id, COUNT(*) FROM security_audit WHERE event_type = 'mfa.challenge_failed' "
                "AND created_at > NOW() - INTERVAL '7 days' GROUP BY 1 HAVING COUNT(*) >= 3")).all()
            assert [(str(r[0]), int(r[1])) for r in seed] == [(ALICE, 4)]

    report = cli("report", "--kratos", f"ciam={kratos_db.url}", "--audit", f"ciam={kratos_db.url}", "--format", "json",
                 "--as-of", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "--store", str(tmp_path / "none.sqlite"))
    assert report.returncode == 0, report.stderr
    listed = json.loads(report.stdout)["domains"][0]["challenge_failures"]["identities"]
    assert [(i["identity_id"], i["failures"], i["distinct_ips"]) for i in listed] == [(ALICE, 4, 4)]
