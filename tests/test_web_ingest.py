"""`POST /ingest/{domain}` on the web app: own token, size limit, 202 with counts, idempotent, and the
next refresh of the report shows the ingested failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from mfastats.cli import with_ingested_audit
from mfastats.demo.kratos_schema import Credential, Identity, write_kratos
from mfastats.report import build_report
from mfastats.settings import Flags, load_settings
from mfastats.store.history import Store, parse_store_dsn
from mfastats.web.app import create_app
from mfastats.web.ingest import IngestEndpoint
from mfastats.web.state import ReportStore

ADMIN, INGEST = "admin-token-0123456789", "ingest-token-9876543210"
ALICE = "0b7e4c1a-8f3e-4c8a-9d2b-1a2b3c4d5e6f"
AS_OF = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


def event(minutes_before: int, ip: str = "203.0.113.9") -> dict:
    at = AS_OF - timedelta(minutes=minutes_before)
    return {"name": "LoginFailed", "version": "v1", "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "projectId": "p",
            "eventAttributes": {"LoginRequestedAAL": "aal2", "SelfServiceMethodUsed": "totp", "IdentityID": ALICE,
                                "ClientIP": ip}}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[TestClient, ReportStore]:
    kratos = tmp_path / "kratos.sqlite"
    write_kratos(create_engine(f"sqlite:///{kratos}"), [Identity(ALICE)],
                 [Credential(ALICE, "totp", {"totp_url": "otpauth://totp/x?secret=AB"})], [])
    settings = load_settings(Flags(kratos=[f"ciam={kratos}"], store=str(tmp_path / "store.sqlite")))
    store = Store.open(parse_store_dsn(settings.store), create=True)
    reports = ReportStore(lambda: build_report(with_ingested_audit(settings, store), AS_OF, store))
    assert reports.refresh()
    endpoint = IngestEndpoint(INGEST, store, {"ciam": settings.domains[0].kratos_dsn}, max_body_bytes=20_000)
    return TestClient(create_app(reports, token=ADMIN, ingest=endpoint)), reports


def test_ingest_needs_its_own_token(setup: tuple[TestClient, ReportStore]) -> None:
    client, _ = setup
    body = json.dumps(event(5))
    assert client.post("/ingest/ciam", content=body).status_code == 401
    assert client.post("/ingest/ciam", content=body, headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 401
    # and the ingest token does not open the report
    assert client.get("/api/report", headers={"Authorization": f"Bearer {INGEST}"}).status_code == 401


def test_batch_accepted_counted_idempotent_and_reported(setup: tuple[TestClient, ReportStore]) -> None:
    client, reports = setup
    auth = {"Authorization": f"Bearer {INGEST}"}
    batch = [event(1, "203.0.113.1"), event(2, "203.0.113.2"), event(3, "203.0.113.3"), {"name": 5}]
    first = client.post("/ingest/ciam", content=json.dumps(batch), headers=auth)
    assert first.status_code == 202
    assert {k: first.json()[k] for k in ("accepted", "duplicate", "ignored", "malformed")} == {
        "accepted": 3, "duplicate": 0, "ignored": 0, "malformed": 1}
    again = client.post("/ingest/ciam", content=json.dumps(batch[1]), headers=auth)
    assert (again.status_code, again.json()["duplicate"], again.json()["accepted"]) == (202, 1, 0)
    assert reports.refresh()
    failures = client.get("/api/report/ciam", headers={"Authorization": f"Bearer {ADMIN}"}).json()["challenge_failures"]
    assert failures["available"] is True
    assert [(i["identity_id"], i["failures"], i["distinct_ips"]) for i in failures["identities"]] == [(ALICE, 3, 3)]


def test_limits_and_errors(setup: tuple[TestClient, ReportStore]) -> None:
    client, _ = setup
    auth = {"Authorization": f"Bearer {INGEST}"}
    assert client.post("/ingest/iam", content="{}", headers=auth).status_code == 404
    assert client.post("/ingest/ciam", content="{not json", headers=auth).json() == {
        "error": "body is not JSON: send one event object or a list of events"}
    big = json.dumps([event(m) for m in range(200)])
    assert len(big) > 20_000
    assert client.post("/ingest/ciam", content=big, headers=auth).status_code == 413
