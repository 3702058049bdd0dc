"""Properties of the demo (`mfastats demo`): deterministic, realistic, and showing every data-quality path.

These are not metric checks (the metrics are checked against hand-computed fixtures elsewhere): they pin
down what the demo promises its viewer, so a change in the generator cannot quietly produce a demo with
an empty step-up chart, an implausible enrollment rate or none of the awkward rows.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mfastats.demo import build as demo_build
from mfastats.demo.build import BuiltDemo, build_demo
from mfastats.outputs.document import report_document

TODAY = datetime(2026, 3, 15, 9, 30, 12, tzinfo=UTC)
#: Just after midnight: the last step-up day has only seconds of traffic, and must still not be empty.
MIDNIGHT = datetime(2026, 3, 16, 0, 0, 0, tzinfo=UTC)


def _document(built: BuiltDemo) -> dict[str, Any]:
    return report_document(built.compute())


def _domain(document: dict[str, Any], name: str) -> dict[str, Any]:
    (domain,) = [d for d in document["domains"] if d["name"] == name]
    assert domain["status"] == "ok", domain["error"]
    return domain


def _rows(path: Path, table: str, columns: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT {columns} FROM {table} ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltDemo, BuiltDemo]:
    first = build_demo(tmp_path_factory.mktemp("demo1"), today=TODAY)
    second = build_demo(tmp_path_factory.mktemp("demo2"), today=TODAY)
    return first, second


@pytest.fixture(scope="module")
def document(builds: tuple[BuiltDemo, BuiltDemo]) -> dict[str, Any]:
    return _document(builds[0])


def test_same_seed_and_day_give_the_same_report_and_rows(builds: tuple[BuiltDemo, BuiltDemo]) -> None:
    first, second = builds
    assert first.as_of == second.as_of == TODAY
    assert _document(first) == _document(second)
    for attr in ("ciam_path", "iam_path"):
        a, b = getattr(first, attr), getattr(second, attr)
        assert _rows(a, "identities", "id, state, available_aal, created_at") == \
            _rows(b, "identities", "id, state, available_aal, created_at")
        assert _rows(a, "identity_credentials", "id, identity_id, config, created_at") == \
            _rows(b, "identity_credentials", "id, identity_id, config, created_at")
        assert _rows(a, "sessions", "id, aal, authentication_methods, issued_at") == \
            _rows(b, "sessions", "id, aal, authentication_methods, issued_at")


def test_settings_name_both_domains_with_their_targets(builds: tuple[BuiltDemo, BuiltDemo]) -> None:
    built = builds[0]
    assert [(d.name, d.target_percent) for d in built.settings.domains] == [("ciam", 30), ("iam", 95)]
    assert built.ciam_path.parent == built.iam_path.parent == built.folder
    assert built.as_of.tzinfo is not None


def test_population_sizes_and_enrollment_are_plausible(document: dict[str, Any]) -> None:
    ciam, iam = _domain(document, "ciam"), _domain(document, "iam")
    ciam_people = ciam["enrollment"]["total"] + ciam["enrollment"]["inactive_total"]
    iam_people = iam["enrollment"]["total"] + iam["enrollment"]["inactive_total"]
    assert 4500 <= ciam_people <= 5500
    assert 150 <= iam_people <= 250
    assert 20 <= ciam["enrollment"]["percent"] <= 40
    assert iam["enrollment"]["percent"] > 95
    assert iam["methods"]["webauthn_users"] > iam["methods"]["totp_users"]  # employees: keys first
    # The seed's rule overcounts, and the cache disagrees for a handful: both are visible in the demo.
    assert ciam["enrollment"]["seed_enrolled"] > ciam["enrollment"]["enrolled"]
    assert ciam["enrollment"]["available_aal_mismatch"] >= 1
    assert ciam["enrollment"]["available_aal_null"] >= 1
    assert ciam["enrollment"]["inactive_with_mfa"] >= 1


def test_awkward_rows_are_present(document: dict[str, Any]) -> None:
    ciam = _domain(document, "ciam")
    methods, quality = ciam["methods"], ciam["data_quality"]
    assert methods["both"] >= 1
    assert methods["passkey_users"] >= 1
    assert methods["webauthn_passwordless_only"] >= 1
    assert methods["lookup_secret_exhausted"] >= 1
    assert methods["lookup_codes_remaining"]["1-3"] >= 1
    assert methods["code_users"] >= 1
    assert quality["malformed_config"] >= 1
    assert quality["unknown_credential_types"] >= 1
    assert quality["malformed_amr"] >= 1
    assert quality["stepup_without_completed_at"] >= 1
    assert quality["timestamps_after_as_of"] == 0


def test_stepups_every_day_and_enrollments_over_the_series(document: dict[str, Any]) -> None:
    ciam = _domain(document, "ciam")
    days = ciam["stepups"]["days"]
    assert len(days) == 30
    assert days[-1]["date"] == TODAY.date().isoformat()
    assert all(day["count"] > 0 for day in days), days
    # CIAM's step-ups come from its audit log (SDK table), IAM's from session AMR: both sources shown.
    assert ciam["stepups"]["source"] == "audit" and ciam["stepups"]["at_login"] is None
    assert ciam["enrollments_over_time"]["source"] == "derived"
    enrollments = ciam["enrollments_over_time"]["days"]
    assert sum(day["totp"] for day in enrollments) > 0
    assert sum(day["webauthn"] for day in enrollments) > 0
    iam = _domain(document, "iam")
    assert sum(day["count"] for day in iam["stepups"]["days"]) > 0
    assert iam["stepups"]["source"] == "derived" and iam["stepups"]["at_login"] > 0 and iam["stepups"]["later"] > 0
    assert iam["enrollments_over_time"]["source"] == "audit"
    assert ciam["challenge_failures"]["available"] and iam["challenge_failures"]["available"]
    assert len(ciam["enrollment_trend"]) == 30  # one snapshot a day for the 30 days before today


def test_rebuild_replaces_the_files_and_today_is_never_empty(builds: tuple[BuiltDemo, BuiltDemo]) -> None:
    first = builds[0]
    before = len(_rows(first.ciam_path, "identities", "id"))
    rebuilt = build_demo(first.folder, today=MIDNIGHT)
    assert len(_rows(rebuilt.ciam_path, "identities", "id")) == before  # not appended
    days = _domain(_document(rebuilt), "ciam")["stepups"]["days"]
    assert days[-1]["date"] == MIDNIGHT.date().isoformat()
    assert all(day["count"] > 0 for day in days), days


def test_default_folder_is_the_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def user_data_dir(app: str) -> str:
        calls.append(app)
        return str(tmp_path / "data")

    monkeypatch.setattr(demo_build.platformdirs, "user_data_dir", user_data_dir)
    built = build_demo(today=TODAY)
    assert calls == ["mfastats"]
    assert built.folder == tmp_path / "data" / "demo"
    assert built.ciam_path.is_file() and built.iam_path.is_file()


def test_demo_command_exits_0(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from mfastats.cli import main; main()", "demo", "--data-dir", str(tmp_path),
         "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert str(tmp_path) in result.stderr
    assert '"ciam"' in result.stdout and '"iam"' in result.stdout
