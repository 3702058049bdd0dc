"""Case C14: nothing secret leaves the database; DSN passwords never appear in output.

A fixture puts one marker string inside every secret-holding value (TOTP URL, password hash, recovery
codes, WebAuthn public key, trait e-mail, login identifier, session token).  The marker must appear in
no output of the CLI (table, JSON, CSV; debug logs on) and in no row the process fetches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import sqlalchemy.engine
from dbservers import KratosDb
from reporthelp import domain_doc, new_ids

from mfastats.demo.kratos_schema import Credential, Identity, Session, write_kratos
from mfastats.kratos.reader import KratosReader

MARKER = "Zq7Mark9Xw"  # searched case-insensitively
AS_OF = "2024-05-02T00:00:00Z"
CLI = [sys.executable, "-c", "from mfastats.cli import main; main()"]


def _secret_fixture(db: KratosDb) -> None:
    m = MARKER
    i1, i2, i3 = new_ids(3)
    identities = [Identity(i, traits={"email": f"{m.lower()}-{n}@example.com", "name": f"{m} {n}"})
                  for n, i in enumerate((i1, i2, i3))]
    credentials = [
        Credential(i, "password", {"hashed_password": f"$argon2id$v=19$m=65536,t=1,p=1${m}${m}{n}"},
                   identifiers=(f"{m.lower()}-{n}@example.com",))
        for n, i in enumerate((i1, i2, i3))
    ]
    credentials += [
        Credential(i1, "totp", {"totp_url": f"otpauth://totp/Example:{m}@example.com?secret={m.upper()}&issuer={m}"}),
        Credential(i2, "webauthn", {"credentials": [{"id": f"{m}id", "public_key": f"pQECAyYgASFYI{m}",
                                                     "is_passwordless": False, "display_name": f"{m} key",
                                                     "authenticator": {"aaguid": m}}],
                                    "user_handle": m}),
        Credential(i3, "lookup_secret", {"recovery_codes": [{"code": f"{m}-1"}, {"code": f"{m}-2", "used_at": None},
                                                            {"code": f"{m}-3", "used_at": "2024-05-01T10:00:00Z"}]}),
        Credential(i3, "code", {"addresses": [{"channel": "email", "address": f"{m}@example.com"}]}),
    ]
    sessions = [Session(i1, aal="aal2", token=f"{m}tok", amr=[
        {"method": "password", "aal": "aal1", "completed_at": "2024-05-01T10:00:00Z", "provider": m},
        {"method": "totp", "aal": "aal2", "completed_at": "2024-05-01T10:00:10Z", "organization": m},
    ])]
    write_kratos(db.engine, identities, credentials, sessions)


def _assert_no_marker(text: str, where: str) -> None:
    assert MARKER.lower() not in text.lower(), f"secret marker leaked in {where}"


def test_no_fetched_row_holds_a_secret(kratos_db: KratosDb, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every result of every query the report runs is buffered and scanned, and so is every reader output."""
    _secret_fixture(kratos_db)
    fetched: list[Any] = []
    original_execute = sqlalchemy.engine.Connection.execute

    def scanning_execute(self: sqlalchemy.engine.Connection, *args: Any, **kwargs: Any) -> Any:
        result = original_execute(self, *args, **kwargs)
        if not result.returns_rows:
            return result
        frozen = result.freeze()
        fetched.extend(tuple(row) for row in frozen.data)
        return frozen()

    monkeypatch.setattr(sqlalchemy.engine.Connection, "execute", scanning_execute)

    outputs: list[Any] = []
    for name in ("identity_profiles", "credential_quality", "enrollment_days", "session_summary", "amr_entries"):
        original = getattr(KratosReader, name)

        def recording(self: KratosReader, *args: Any, _original: Any = original, _name: str = name,
                      **kwargs: Any) -> Any:
            value = _original(self, *args, **kwargs)
            if _name == "amr_entries":  # a generator: keep its entries to scan them, hand them on
                value = list(value)
            outputs.append(value)
            return value

        monkeypatch.setattr(KratosReader, name, recording)

    domain = domain_doc(kratos_db.url, as_of=AS_OF, code_mfa=True)
    # The fixture is also a working one: TOTP, WebAuthn, lookup and code are all usable.
    assert domain["enrollment"]["enrolled"] == 2
    assert domain["enrollment"]["aal2_capable"] == 3
    assert domain["stepups"]["at_login"] == 1
    assert fetched, "the scan saw no rows: the execute hook is not in the path any more"
    assert len(outputs) >= 5
    _assert_no_marker(repr(fetched), "a fetched database row")
    _assert_no_marker(repr(outputs), "a KratosReader result")
    _assert_no_marker(json.dumps(domain), "the JSON document")


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("kratos_db", ["sqlite", "postgresql"], indirect=True)
def test_cli_outputs_and_debug_logs_hold_no_secret(kratos_db: KratosDb) -> None:
    _secret_fixture(kratos_db)
    for output_format in ("table", "json", "csv"):
        proc = _run_cli("report", "--kratos", f"ciam={kratos_db.url}", "--code-mfa", "ciam", "--format",
                        output_format, "--as-of", AS_OF, "-vv")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip(), f"{output_format}: no output"
        _assert_no_marker(proc.stdout, f"{output_format} stdout")
        _assert_no_marker(proc.stderr, f"{output_format} stderr (-vv)")
        if output_format == "json":
            (domain,) = json.loads(proc.stdout)["domains"]
            assert domain["enrollment"]["enrolled"] == 2


@pytest.mark.parametrize("args", [
    pytest.param(["--kratos", "ciam=postgresql://u:S3cretPW@127.0.0.1:1/x"], id="unreachable"),
    pytest.param(["--kratos", "ciam=postgresql://u:S3cretPW@127.0.0.1:1/x", "--format", "json", "-vv"],
                 id="unreachable-json-debug"),
])
def test_dsn_password_masked_when_server_unreachable(args: list[str]) -> None:
    proc = _run_cli("report", *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "error" in proc.stderr.lower()
    assert "127.0.0.1" in proc.stderr  # the message says which database failed
    assert "S3cretPW" not in proc.stdout + proc.stderr


def test_dsn_password_masked_when_dsn_unparseable() -> None:
    proc = _run_cli("report", "--kratos", "ciam=postgresql://u:S3cretPW@127.0.0.1:notaport/x")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.strip()
    assert "S3cretPW" not in proc.stdout + proc.stderr
