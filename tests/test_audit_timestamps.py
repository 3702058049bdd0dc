"""Audit rows whose time is missing, unreadable or after --as-of are left out of every series and
counted in data_quality (SPEC 7: bad input gives a counted warning, never a silent loss)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from mfastats.demo.kratos_schema import Credential, Identity, write_kratos

ALICE = "0b7e4c1a-8f3e-4c8a-9d2b-1a2b3c4d5e6f"


def test_bad_audit_times_are_counted(tmp_path: Path) -> None:
    kratos = tmp_path / "kratos.sqlite"
    write_kratos(create_engine(f"sqlite:///{kratos}"), [Identity(ALICE)],
                 [Credential(ALICE, "password", {"hashed_password": "x"})], [])
    audit = sqlite3.connect(tmp_path / "olympus.sqlite")
    audit.execute("CREATE TABLE ciam_security_audit_log (id INTEGER PRIMARY KEY, event_type TEXT, identifier TEXT, "
                  "identity_id TEXT, admin_identity_id TEXT, metadata TEXT, created_at TEXT)")
    rows = [None, "garbage", "1717200000", "9999-12-31 00:00:00",  # missing, unreadable x2, future
            "2024-06-01 11:00:00", "2024-06-01T11:30:00Z", "2024-06-01 11:45:00+00:00"]  # three good ones
    audit.executemany("INSERT INTO ciam_security_audit_log (event_type, identity_id, metadata, created_at) "
                      "VALUES ('mfa.challenge_failed', ?, '{}', ?)", [(ALICE, at) for at in rows])
    audit.commit()
    audit.close()
    result = subprocess.run(
        [sys.executable, "-c", "from mfastats.cli import main; main()", "report", "--kratos", f"ciam={kratos}",
         "--audit", f"ciam={tmp_path / 'olympus.sqlite'}", "--as-of", "2024-06-01T12:00:00Z", "--format", "json",
         "--store", str(tmp_path / "none.sqlite")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    domain = json.loads(result.stdout)["domains"][0]
    # SQLite cannot read "1717200000" as a time either (strftime gives NULL): 3 missing, 1 future.
    assert domain["data_quality"]["missing_timestamps"] == 3
    assert domain["data_quality"]["timestamps_after_as_of"] == 1
    assert domain["challenge_failures"]["days"][-1]["failures"] == 3
    assert [(i["identity_id"], i["failures"]) for i in domain["challenge_failures"]["identities"]] == [(ALICE, 3)]
