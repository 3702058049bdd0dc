"""Helpers shared by the hand-computed report tests: run the report on a fixture, compare blocks.

Expectations are never produced by mfastats itself: tests write the numbers out by hand and these
helpers only fetch the one domain block of the SPEC 6.1 document and compare key by key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dbservers import DIALECTS, KratosDb, ServerUnavailable, ci_mode, fresh_database

from mfastats.clock import parse_as_of
from mfastats.demo.kratos_schema import kratos_metadata
from mfastats.outputs.document import report_document
from mfastats.report import build_report
from mfastats.settings import Flags, load_settings

TOTP = {"totp_url": "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example"}
PASSWORD = {"hashed_password": "$2a$10$abcdefghijklmnopqrstuv"}
WEBAUTHN_2FA = {"credentials": [{"id": "azE=", "is_passwordless": False, "display_name": "key"}],
                "user_handle": "dTE="}

ENROLLMENT_KEYS = ("total", "enrolled", "percent", "aal2_capable", "seed_enrolled", "inactive_total",
                   "inactive_with_mfa", "target_percent", "meets_target", "available_aal_mismatch",
                   "available_aal_null")
DATA_QUALITY_KEYS = ("malformed_config", "unknown_credential_types", "malformed_amr",
                     "stepup_without_completed_at", "missing_timestamps", "timestamps_after_as_of",
                     "unknown_state", "audit_rows_without_identity")


def _server_unavailable(message: str) -> None:
    if ci_mode():
        pytest.fail(message, pytrace=False)
    pytest.skip(f"{message} (or set CI=true to make this a failure)")


def _dialect_params() -> list[Any]:
    return [pytest.param(d, id=d, marks=getattr(pytest.mark, d)) for d in DIALECTS]


def reusable_kratos_db() -> tuple[Any, Any]:
    """A ``kratos_db`` fixture that creates one server database per dialect and module, not per test.

    Creating and dropping a PostgreSQL/MariaDB database for every test dominates the run time, so the
    server database is kept for the module and every Kratos table is dropped before each test (a test
    may build a schema without optional columns).  SQLite gets a fresh file per test.  Use as::

        _server_db, kratos_db = reusable_kratos_db()
    """

    @pytest.fixture(scope="module", params=_dialect_params(), name="case_server_db")
    def server_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[str, KratosDb | None]]:
        if request.param == "sqlite":
            yield "sqlite", None
            return
        try:
            with fresh_database(request.param, tmp_path_factory.mktemp("cases")) as db:
                yield request.param, db
        except ServerUnavailable as exc:
            _server_unavailable(str(exc))

    @pytest.fixture(name="kratos_db")
    def kratos_db(case_server_db: tuple[str, KratosDb | None], tmp_path: Path) -> Iterator[KratosDb]:
        _dialect, db = case_server_db
        if db is None:
            with fresh_database("sqlite", tmp_path) as fresh:
                yield fresh
            return
        with db.engine.begin() as conn:
            kratos_metadata(db.dialect).drop_all(conn, checkfirst=True)
        yield db
        db.engine.dispose()

    return server_db, kratos_db


def new_ids(n: int) -> list[str]:
    """``n`` random lower-case UUIDs (real ids, as Kratos writes them)."""
    return [str(uuid.uuid4()) for _ in range(n)]


def upper(identity_id: str) -> str:
    """The same id in UPPER-case text: stored verbatim on SQLite/MariaDB, normalised on PostgreSQL."""
    return identity_id.upper()


def report_doc(url: str, *, as_of: str, name: str = "ciam", code_mfa: bool = False,
               timezone: str | None = None, targets: tuple[str, ...] = ()) -> dict[str, Any]:
    """The whole SPEC 6.1 document for one domain read from ``url``."""
    flags = Flags(kratos=[f"{name}={url}"], code_mfa=[name] if code_mfa else [], timezone=timezone,
                  targets=list(targets))
    return report_document(build_report(load_settings(flags), parse_as_of(as_of)))


def domain_doc(url: str, **kwargs: Any) -> dict[str, Any]:
    """The one domain block of the report; fails with the error message when the domain failed."""
    doc = report_doc(url, **kwargs)
    (domain,) = doc["domains"]
    assert domain["status"] == "ok", domain["error"]
    return domain


def methods_block(*, totp: int = 0, webauthn: int = 0, both: int = 0, lookup_usable: int = 0,
                  lookup_exhausted: int = 0, remaining: tuple[int, int, int] = (0, 0, 0), code: int = 0,
                  passkey: int = 0, passwordless_only: int = 0, factors: tuple[int, int, int, int] = (0, 0, 0, 0),
                  phishing_resistant: int = 0, app_code: int = 0, email_sms_code: int = 0,
                  recovery_codes_only: int = 0, none: int = 0) -> dict[str, Any]:
    """The expected ``methods`` block, every key spelled out (zeros by default)."""
    return {
        "totp_users": totp, "webauthn_users": webauthn, "both": both,
        "lookup_secret_usable": lookup_usable, "lookup_secret_exhausted": lookup_exhausted,
        "lookup_codes_remaining": dict(zip(("0", "1-3", "4+"), remaining, strict=True)),
        "code_users": code, "passkey_users": passkey, "webauthn_passwordless_only": passwordless_only,
        "factors_per_identity": dict(zip(("0", "1", "2", "3+"), factors, strict=True)),
        "strength_tiers": {"phishing_resistant": phishing_resistant, "app_code": app_code,
                           "email_sms_code": email_sms_code, "recovery_codes_only": recovery_codes_only,
                           "none": none},
    }


def clean_data_quality(**overrides: int) -> dict[str, int]:
    """A data_quality block with every count 0 except ``overrides``."""
    block = dict.fromkeys(DATA_QUALITY_KEYS, 0)
    block.update(overrides)
    return block


def assert_subset(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    """Every key of ``expected`` has exactly that value in ``actual`` (one message listing all diffs)."""
    diffs = {key: (value, actual.get(key, "<missing>")) for key, value in expected.items()
             if actual.get(key, "<missing>") != value}
    assert not diffs, f"{where}: expected vs actual {diffs}"


def thirty_days(last: date) -> list[str]:
    """The 30 ISO dates ending on ``last``, ascending."""
    return [(last - timedelta(days=offset)).isoformat() for offset in range(29, -1, -1)]


def assert_stepup_days(domain: dict[str, Any], last: date, nonzero: dict[str, int]) -> None:
    """``stepups.days`` is exactly the 30 dates ending on ``last``, zeros included, with ``nonzero`` counts."""
    days = domain["stepups"]["days"]
    assert [d["date"] for d in days] == thirty_days(last)
    assert {d["date"]: d["count"] for d in days} == {d: nonzero.get(d, 0) for d in thirty_days(last)}
