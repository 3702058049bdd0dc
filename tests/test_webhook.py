"""`mfastats check --webhook URL`: a real HTTP receiver on 127.0.0.1 in a thread, and a real CLI run.

Fixture: a ``lab`` Kratos database (SQLite) with two identities, one enrolled, and one AAL2 step on 2024-05-01
10:00Z, plus an SDK audit table with a failing identity. At ``FIRING`` (2024-05-11) no step falls on the
last 3 dates, so ``aal2_stepup_zero`` (critical) fires; at ``QUIET`` (2024-05-01) it is ok. Audit events
sit just before both dates, so ``audit_source_silent`` stays ok; ``lab`` has no default target.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from reporthelp import PASSWORD, TOTP, new_ids
from sqlalchemy import create_engine

from mfastats.audit.tables import AuditEvent, write_audit
from mfastats.cli import cli
from mfastats.demo.kratos_schema import Credential, Identity, Session, write_kratos

QUIET = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
FIRING = QUIET + timedelta(days=10)


@dataclass
class Receiver:
    """What the test server saw, and how it answers: `codes` are used in turn, then 200."""

    codes: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.requests]


@contextmanager
def receiver(codes: list[int] | None = None, delay: float = 0.0) -> Iterator[tuple[str, Receiver]]:
    seen = Receiver(list(codes or []), delay)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                seen.requests.append((self.path, dict(self.headers), body))
                code = seen.codes.pop(0) if seen.codes else 200
            if seen.delay:
                time.sleep(seen.delay)
            try:
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the client gave up (slow-server test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/mfa", seen
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Lab:
    url: str
    failing_identity: str
    store: str


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    url = f"sqlite:///{tmp_path / 'lab_kratos.sqlite'}"
    i0, i1 = new_ids(2)
    engine = create_engine(url)
    try:
        step = datetime(2024, 5, 1, 10, 0, 0)
        write_kratos(engine, [Identity(i0, created_at=datetime(2024, 1, 1)), Identity(i1, created_at=datetime(2024, 1, 1))],
                     [Credential(i0, "password", PASSWORD), Credential(i0, "totp", TOTP),
                      Credential(i1, "password", PASSWORD)],  # 1 of 2 enrolled: 50.00 %
                     [Session(i0, aal="aal2", issued_at=step, authenticated_at=step, amr=[
                         {"method": "password", "aal": "aal1", "completed_at": "2024-05-01T10:00:00Z"},
                         {"method": "totp", "aal": "aal2", "completed_at": "2024-05-01T10:00:30Z"}])])
        events = [AuditEvent("mfa.challenge_failed", when - timedelta(minutes=m), i1, ip="192.0.2.1")
                  for when in (QUIET, FIRING) for m in (10, 20, 30)]
        write_audit(engine, events, shape="sdk", domain="lab")
    finally:
        engine.dispose()
    return Lab(url, i1, str(tmp_path / "history.sqlite"))


def check(lab: Lab, url: str, when: datetime, *extra: str) -> tuple[int, list[str], str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["check", "--kratos", f"lab={lab.url}", "--audit", f"lab={lab.url}",
                                      "--store", lab.store, "--webhook", url, "--as-of", when.isoformat(), *extra],
                                catch_exceptions=False)
    return result.exit_code, result.stdout.splitlines(), result.stderr, time.monotonic() - started


def test_one_message_per_state_change(lab: Lab) -> None:
    # The failing identity is in the report, so its absence from the messages means something.
    report = CliRunner().invoke(cli, ["report", "--format", "json", "--kratos", f"lab={lab.url}",
                                      "--audit", f"lab={lab.url}", "--as-of", FIRING.isoformat()])
    (block,) = json.loads(report.stdout)["domains"]
    assert [row["identity_id"] for row in block["challenge_failures"]["identities"]] == [lab.failing_identity]
    with receiver() as (url, seen):
        # First run: two alerts fire (no stored state yet) -> two messages.
        code, lines, _, _ = check(lab, url, FIRING, "--target", "lab=90")
        assert code == 2 and lines[0].startswith("MFASTATS CRITICAL - lab aal2_stepup_zero; lab below_target"), lines
        assert sorted((b["alert"], b["state"], b["previous_state"]) for b in seen.bodies) == [
            ("aal2_stepup_zero", "firing", None), ("below_target", "firing", None)]
        for path, headers, raw in seen.requests:
            assert path == "/hooks/mfa"
            assert headers["Content-Type"] == "application/json"
            assert lab.failing_identity not in raw.decode()  # no identity id unless configured
        for body in seen.bodies:
            assert isinstance(body["text"], str) and body["alert"] in body["text"] and "firing" in body["text"]
            assert (body["domain"], body["as_of"]) == ("lab", "2024-05-11T12:00:00Z")

        # The same run again: nothing changed, nothing sent.
        code, _, _, _ = check(lab, url, FIRING, "--target", "lab=90")
        assert code == 2 and len(seen.requests) == 2

        # Back to ok for the step-up alert (below_target still fires, unchanged): exactly one message.
        code, lines, _, _ = check(lab, url, QUIET, "--target", "lab=90")
        assert code == 1, lines
        assert [(b["alert"], b["state"], b["previous_state"]) for b in seen.bodies[2:]] == [
            ("aal2_stepup_zero", "ok", "firing")]


def test_retries_on_server_errors(lab: Lab) -> None:
    with receiver(codes=[500, 500]) as (url, seen):
        code, lines, stderr, _ = check(lab, url, FIRING)
    assert code == 2 and lines[0].startswith("MFASTATS CRITICAL - lab aal2_stepup_zero"), lines
    assert len(seen.requests) == 3 and len({raw for _, _, raw in seen.requests}) == 1  # the same message, 3 tries
    assert seen.bodies[0]["alert"] == "aal2_stepup_zero"
    assert "could not be delivered" not in stderr


def test_receiver_down_does_not_block_check(lab: Lab) -> None:
    code, lines, stderr, elapsed = check(lab, f"http://127.0.0.1:{closed_port()}/hook", FIRING)
    assert code == 2 and lines[0].startswith("MFASTATS CRITICAL - lab aal2_stepup_zero"), lines
    assert "webhook: 1 message(s) could not be delivered" in stderr
    assert elapsed < 20, elapsed


def test_undelivered_change_is_sent_on_the_next_run(lab: Lab) -> None:
    """A change that could not be delivered keeps its old stored state, so the next run announces it."""
    code, _, stderr, _ = check(lab, f"http://127.0.0.1:{closed_port()}/hook", FIRING)
    assert code == 2 and "could not be delivered" in stderr
    with receiver() as (url, seen):
        code, _, _, _ = check(lab, url, FIRING)
        assert code == 2
        assert [(b["alert"], b["state"], b["previous_state"]) for b in seen.bodies] == [
            ("aal2_stepup_zero", "firing", None)]


def test_slow_receiver_is_bounded(lab: Lab) -> None:
    with receiver(delay=8.0) as (url, seen):  # longer than the 5 s per-request timeout
        code, lines, stderr, elapsed = check(lab, url, FIRING)
    assert code == 2 and lines[0].startswith("MFASTATS CRITICAL - lab aal2_stepup_zero"), lines
    assert elapsed < 20, elapsed
    assert 1 <= len(seen.requests) <= 3
    assert "could not be delivered" in stderr
