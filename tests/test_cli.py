"""The `mfastats report` command: exit codes, --as-of forms, CSV, targets, rounding, legacy split.

The CLI runs in-process through ``mfastats.cli.main`` (the console entry point, which maps every
error to its exit code), so these tests stay fast; test_secrets.py runs it as a real subprocess.
Expected numbers are worked out by hand.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dbservers import KratosDb
from reporthelp import PASSWORD, TOTP, WEBAUTHN_2FA, new_ids, thirty_days
from sqlalchemy import create_engine

from mfastats.cli import main
from mfastats.demo.kratos_schema import Credential, Identity, Session, write_kratos

UNREACHABLE_PG = "postgresql://u:S3cretPW@127.0.0.1:1/x"


def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["mfastats", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (0 if code is None else int(code)), out, err


def sqlite_db(path: Path, total: int, enrolled: int, *, inactive: int = 0) -> str:
    """An SQLite Kratos file with ``total`` active identities, ``enrolled`` of them with a usable TOTP."""
    ids = new_ids(total + inactive)
    engine = create_engine(f"sqlite:///{path}")
    try:
        write_kratos(engine, [Identity(i, state="active" if n < total else "inactive") for n, i in enumerate(ids)],
                     [*(Credential(i, "password", PASSWORD) for i in ids),
                      *(Credential(i, "totp", TOTP) for i in ids[:enrolled])])
    finally:
        engine.dispose()
    return f"sqlite:///{path}"


@pytest.fixture
def small_db(tmp_path: Path) -> str:
    """2 active identities, 1 with TOTP."""
    return sqlite_db(tmp_path / "small.sqlite", 2, 1)


def json_report(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:
    code, out, err = run_cli(capsys, monkeypatch, "report", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


# -- exit codes -------------------------------------------------------------------------------------
def test_ok_exit_0_every_format(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                small_db: str) -> None:
    for output_format in ("table", "json", "csv"):
        code, out, err = run_cli(capsys, monkeypatch, "report", "--kratos", f"ciam={small_db}",
                                 "--format", output_format, "--as-of", "2024-06-01")
        assert code == 0, err
        assert out.strip()
    code, out, _ = run_cli(capsys, monkeypatch, "report", "--kratos", f"ciam={small_db}", "--as-of", "2024-06-01")
    assert code == 0 and "ciam" in out  # table is the default format


@pytest.mark.parametrize("extra", [
    pytest.param(["--nope"], id="bad-flag"),
    pytest.param(["--format", "xml"], id="unknown-format"),
    pytest.param(["--as-of", "yesterday"], id="bad-as-of"),
    pytest.param(["--as-of", "2024-13-01"], id="impossible-date"),
    pytest.param(["--timezone", "Mars/Olympus_Mons"], id="bad-timezone"),
    pytest.param(["--target", "ciam=120"], id="target-over-100"),
    pytest.param(["--target", "ciam=strict"], id="unknown-profile"),
    pytest.param(["--target", "nodomain=30"], id="target-unknown-domain"),
    pytest.param(["--kratos", "CIAM=sqlite:///x.sqlite"], id="upper-case-name"),
    pytest.param(["--kratos", "1ciam=sqlite:///x.sqlite"], id="name-starts-with-digit"),
    pytest.param(["--kratos", "c" * 33 + "=sqlite:///x.sqlite"], id="name-too-long"),
    pytest.param(["--kratos", "ciam=notaurl"], id="unparseable-dsn"),
    pytest.param(["--kratos", "ciam"], id="no-equals"),
])
def test_usage_errors_exit_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                             small_db: str, extra: list[str]) -> None:
    code, out, err = run_cli(capsys, monkeypatch, "report", "--kratos", f"ciam={small_db}", *extra)
    assert code == 1, (out, err)
    assert err.strip(), "a usage error must say what is wrong"


def test_no_domain_exit_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "report")
    assert code == 1 and err.strip()


@pytest.mark.parametrize("form", ["sqlite:///{path}", "{path}"])
def test_missing_sqlite_file_exit_1_and_not_created(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    form: str) -> None:
    missing = tmp_path / "missing.sqlite"
    code, _, err = run_cli(capsys, monkeypatch, "report", "--kratos", "ciam=" + form.format(path=missing))
    assert code == 1
    assert "missing.sqlite" in err
    assert not missing.exists(), "mfastats must never create a SQLite file"


def test_one_domain_unreachable_exit_2_other_still_reported(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_db: str) -> None:
    code, out, err = run_cli(capsys, monkeypatch, "report", "--format", "json", "--as-of", "2024-06-01",
                             "--kratos", f"ciam={small_db}", "--kratos", f"iam={UNREACHABLE_PG}")
    assert code == 2
    assert "iam" in err and "S3cretPW" not in out + err
    doc = json.loads(out)
    ciam, iam = doc["domains"]  # domains keep the order given
    assert (ciam["name"], ciam["status"], ciam["error"]) == ("ciam", "ok", None)
    assert (ciam["enrollment"]["total"], ciam["enrollment"]["enrolled"], ciam["enrollment"]["percent"]) == (2, 1, 50.0)
    assert iam["name"] == "iam" and iam["status"] == "error"
    assert isinstance(iam["error"], str) and iam["error"]
    # Every block present, with null values.
    assert set(iam) >= {"enrollment", "methods", "stepups", "enrollments_over_time", "challenge_failures", "alerts",
                        "data_quality"}
    assert set(iam["enrollment"]) == set(ciam["enrollment"])
    assert all(value is None for value in iam["enrollment"].values()), iam["enrollment"]
    assert set(iam["methods"]) == set(ciam["methods"])
    for key, value in iam["methods"].items():
        if isinstance(value, dict):
            assert set(value) == set(ciam["methods"][key]) and all(v is None for v in value.values()), key
        else:
            assert value is None, key
    assert set(iam["data_quality"]) == set(ciam["data_quality"])
    assert all(value is None for value in iam["data_quality"].values())
    assert all(iam["stepups"][k] is None for k in ("aal2_sessions", "at_login", "later", "unknown"))
    assert iam["challenge_failures"]["available"] is False
    # all_domains adds the answering domains only.
    assert doc["all_domains"]["domains"] == ["ciam"]
    assert doc["all_domains"]["enrollment"]["total"] == 2
    assert doc["all_domains"]["enrollment"]["enrolled"] == 1


# -- --as-of ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("as_of", "document_as_of", "last_day"), [
    ("2024-05-02", "2024-05-02T00:00:00Z", "2024-05-02"),
    ("2024-05-02T13:14:15", "2024-05-02T13:14:15Z", "2024-05-02"),
    ("2024-05-02T01:00:00+02:00", "2024-05-01T23:00:00Z", "2024-05-01"),
    ("2024-05-01T22:30:00-03:00", "2024-05-02T01:30:00Z", "2024-05-02"),
    ("2024-05-02T10:00:00Z", "2024-05-02T10:00:00Z", "2024-05-02"),
])
def test_as_of_forms(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_db: str,
                     as_of: str, document_as_of: str, last_day: str) -> None:
    doc = json_report(capsys, monkeypatch, "--kratos", f"ciam={small_db}", "--as-of", as_of)
    assert doc["as_of"] == document_as_of
    assert doc["timezone"] == "UTC"
    (domain,) = doc["domains"]
    assert [d["date"] for d in domain["stepups"]["days"]] == thirty_days(date.fromisoformat(last_day))
    assert domain["enrollments_over_time"]["days"][-1]["date"] == last_day
    assert len(domain["enrollments_over_time"]["days"]) == 90


# -- CSV --------------------------------------------------------------------------------------------
def test_csv_long_format(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = sqlite_db(tmp_path / "csv.sqlite", 3, 1)
    code, out, err = run_cli(capsys, monkeypatch, "report", "--kratos", f"ciam={url}", "--format", "csv",
                             "--as-of", "2024-06-01")
    assert code == 0, err
    assert out.splitlines()[0] == "domain,section,name,date,value"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert all(set(row) == {"domain", "section", "name", "date", "value"} for row in rows)
    by_key = {(r["domain"], r["section"], r["name"], r["date"]): r["value"] for r in rows}
    assert by_key[("ciam", "enrollment", "total", "")] == "3"
    assert by_key[("ciam", "enrollment", "enrolled", "")] == "1"
    assert float(by_key[("ciam", "enrollment", "percent", "")]) == 33.33
    step_dates = [r["date"] for r in rows if r["domain"] == "ciam" and r["section"] == "stepups" and r["date"]]
    assert step_dates == thirty_days(date(2024, 6, 1))


# -- targets ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "targets", "expected_target"), [
    ("iam", [], 95.0),
    ("ciam", [], 30.0),
    ("olympus", [], None),
    ("iam", ["iam=high-security"], 80.0),
    ("olympus", ["olympus=consumer"], 30.0),
    ("ciam", ["ciam=12.5"], 12.5),
])
def test_targets(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, small_db: str,
                 name: str, targets: list[str], expected_target: float | None) -> None:
    flags = [arg for target in targets for arg in ("--target", target)]
    doc = json_report(capsys, monkeypatch, "--kratos", f"{name}={small_db}", "--as-of", "2024-06-01", *flags)
    enrollment = doc["domains"][0]["enrollment"]
    assert enrollment["target_percent"] == expected_target
    # 1 of 2 = 50 %: meets any target below 50, none without a target.
    assert enrollment["meets_target"] == (None if expected_target is None else expected_target < 50)


@pytest.mark.parametrize(("name", "total", "enrolled", "percent", "meets"), [
    ("iam", 20, 19, 95.0, False),  # exactly the target does not meet it (the seed's "> 95 %")
    ("iam", 20, 20, 100.0, True),
    ("ciam", 10, 3, 30.0, False),
    ("ciam", 10, 4, 40.0, True),
    ("iam", 40, 38, 95.0, False),
    ("iam", 1000, 951, 95.1, True),
])
def test_meets_target_is_strictly_greater(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path, name: str, total: int, enrolled: int, percent: float,
                                          meets: bool) -> None:
    url = sqlite_db(tmp_path / "t.sqlite", total, enrolled)
    doc = json_report(capsys, monkeypatch, "--kratos", f"{name}={url}", "--as-of", "2024-06-01")
    enrollment = doc["domains"][0]["enrollment"]
    assert (enrollment["total"], enrollment["enrolled"], enrollment["percent"], enrollment["meets_target"]) == (
        total, enrolled, percent, meets)


@pytest.mark.parametrize(("enrolled", "total", "percent"), [
    (1, 8, 12.5), (1, 3, 33.33), (2, 3, 66.67), (1, 6, 16.67), (5, 6, 83.33), (1, 7, 14.29),
    (1, 32, 3.13),  # 3.125: half-up gives 3.13 (half-even would give 3.12)
    (5, 32, 15.63),  # 15.625 -> 15.63
    (1, 1, 100.0), (0, 5, 0.0),
])
def test_percent_rounding_half_up(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path, enrolled: int, total: int, percent: float) -> None:
    url = sqlite_db(tmp_path / "r.sqlite", total, enrolled, inactive=1)
    doc = json_report(capsys, monkeypatch, "--kratos", f"ciam={url}", "--as-of", "2024-06-01")
    enrollment = doc["domains"][0]["enrollment"]
    assert (enrollment["total"], enrollment["enrolled"], enrollment["percent"]) == (total, enrolled, percent)
    assert (enrollment["inactive_total"], enrollment["inactive_with_mfa"]) == (1, 0)


# -- legacy schema split ----------------------------------------------------------------------------
def test_legacy_schema_split(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                             kratos_db: KratosDb) -> None:
    admins = new_ids(3)
    customers = new_ids(5)
    identities = [Identity(i, schema_id="admin") for i in admins]
    identities += [Identity(i, schema_id="default") for i in customers[:4]] + [Identity(customers[4], schema_id="b2b")]
    credentials = [Credential(i, "password", PASSWORD) for i in admins + customers]
    credentials += [Credential(admins[0], "totp", TOTP), Credential(admins[1].upper(), "webauthn", WEBAUTHN_2FA),
                    Credential(customers[0], "totp", TOTP), Credential(customers[4], "webauthn", WEBAUTHN_2FA),
                    Credential(customers[1], "totp", {"totp_url": 7}),  # malformed, counted on the ciam side only
                    Credential(customers[2], "sms_magic", {})]
    step = [{"method": "password", "aal": "aal1", "completed_at": "2024-05-01T10:00:00Z"},
            {"method": "totp", "aal": "aal2", "completed_at": "2024-05-01T10:00:30Z"}]
    sessions = [Session(admins[0], aal="aal2", amr=step), Session(customers[0], aal="aal2", amr=step),
                Session(customers[0], aal="aal2", amr=step), Session(customers[3])]
    write_kratos(kratos_db.engine, identities, credentials, sessions)

    doc = json_report(capsys, monkeypatch, "--kratos", f"ciam={kratos_db.url}", "--legacy-schema-split",
                      "--as-of", "2024-05-02")
    domains = {d["name"]: d for d in doc["domains"]}
    assert set(domains) == {"ciam", "iam"}
    iam, ciam = domains["iam"], domains["ciam"]
    assert iam["status"] == ciam["status"] == "ok"
    pick = ("total", "enrolled", "percent", "target_percent", "meets_target", "seed_enrolled")
    # iam: 3 admins, 2 enrolled (TOTP, WebAuthn) = 66.67 %, target 95.
    assert {k: iam["enrollment"][k] for k in pick} == {"total": 3, "enrolled": 2, "percent": 66.67,
                                                      "target_percent": 95.0, "meets_target": False,
                                                      "seed_enrolled": 2}
    # ciam: 5 others (schema_id default and b2b), 2 enrolled = 40 %, target 30; the malformed TOTP is a seed row.
    assert {k: ciam["enrollment"][k] for k in pick} == {"total": 5, "enrolled": 2, "percent": 40.0,
                                                       "target_percent": 30.0, "meets_target": True,
                                                       "seed_enrolled": 3}
    assert (iam["methods"]["totp_users"], iam["methods"]["webauthn_users"]) == (1, 1)
    assert (ciam["methods"]["totp_users"], ciam["methods"]["webauthn_users"]) == (1, 1)
    assert (iam["data_quality"]["malformed_config"], ciam["data_quality"]["malformed_config"]) == (0, 1)
    assert (iam["data_quality"]["unknown_credential_types"], ciam["data_quality"]["unknown_credential_types"]) == (0, 1)
    assert (iam["stepups"]["aal2_sessions"], ciam["stepups"]["aal2_sessions"]) == (1, 2)
    assert ({d["date"]: d["count"] for d in iam["stepups"]["days"]}["2024-05-01"],
            {d["date"]: d["count"] for d in ciam["stepups"]["days"]}["2024-05-01"]) == (1, 2)
    # Clearly labelled as an approximation.
    assert "approximation" in json.dumps(iam).lower() and "approximation" in json.dumps(ciam).lower()
    assert doc["all_domains"]["enrollment"]["total"] == 8
    assert doc["all_domains"]["enrollment"]["enrolled"] == 4


def test_legacy_schema_split_needs_one_database(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                small_db: str) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "report", "--kratos", f"ciam={small_db}", "--kratos",
                           f"iam={small_db}", "--legacy-schema-split")
    assert code == 1 and err.strip()


def test_all_domains_sums_answering_domains(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    ciam = sqlite_db(tmp_path / "c.sqlite", 2, 1)
    iam = sqlite_db(tmp_path / "i.sqlite", 3, 1, inactive=2)
    doc = json_report(capsys, monkeypatch, "--kratos", f"iam={iam}", "--kratos", f"ciam={ciam}",
                      "--as-of", "2024-06-01")
    assert [d["name"] for d in doc["domains"]] == ["iam", "ciam"]  # the order given
    totals = doc["all_domains"]
    assert totals["domains"] == ["iam", "ciam"]
    e = totals["enrollment"]
    # (1 + 1) of (3 + 2) = 40 %, recomputed from the summed integers (not an average of 33.33 and 50).
    assert (e["total"], e["enrolled"], e["percent"], e["aal2_capable"], e["seed_enrolled"],
            e["inactive_total"]) == (5, 2, 40.0, 2, 2, 2)
    assert totals["methods"]["totp_users"] == 2
    assert totals["methods"]["factors_per_identity"] == {"0": 3, "1": 2, "2": 0, "3+": 0}
    assert totals["methods"]["strength_tiers"]["app_code"] == 2


def test_config_file_nid_scope(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                               tmp_path: Path) -> None:
    """A domain limited to one network counts only its identities (nid compared case-insensitively)."""
    nid_a, nid_b = "aaaaaaaa-1111-4111-8111-111111111111", "bbbbbbbb-2222-4222-8222-222222222222"
    a1, a2, b1 = new_ids(3)
    path = tmp_path / "nets.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    write_kratos(engine, [Identity(a1, nid=nid_a), Identity(a2, nid=nid_a.upper()), Identity(b1, nid=nid_b)], [
        Credential(a1, "password", PASSWORD, nid=nid_a), Credential(a2, "password", PASSWORD, nid=nid_a),
        Credential(a1, "totp", TOTP, nid=nid_a),
        Credential(b1, "password", PASSWORD, nid=nid_b), Credential(b1, "totp", TOTP, nid=nid_b),
    ])
    engine.dispose()
    config = tmp_path / "mfastats.toml"
    config.write_text(f'[domains.ciam]\nkratos_dsn = "sqlite:///{path}"\nnid = "{nid_a.upper()}"\n'
                      f'[domains.iam]\nkratos_dsn = "sqlite:///{path}"\n')
    doc = json_report(capsys, monkeypatch, "--config", str(config), "--as-of", "2024-06-01")
    domains = {d["name"]: d["enrollment"] for d in doc["domains"]}
    assert (domains["ciam"]["total"], domains["ciam"]["enrolled"], domains["ciam"]["percent"]) == (2, 1, 50.0)
    assert (domains["iam"]["total"], domains["iam"]["enrolled"]) == (3, 2)  # no nid: every network
