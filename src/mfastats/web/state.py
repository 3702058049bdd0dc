"""The latest report, held in memory and refreshed in the background.

Requests and Prometheus scrapes read the stored result; only `ReportStore.refresh` reads the databases.
A refresh that fails keeps the last good result and records the error and when it happened, so the
page can say how old its numbers are and why (a stale-data banner).

A refresh *fails* when building the report raises, or when a domain that was readable in the stored
result can no longer be read. A report whose failed domains were already failing in the stored result
replaces it (its other domains are fresher); the domain errors are shown from the report itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mfastats.model import Report
from mfastats.outputs.document import render_json, report_document

log = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 300


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredReport:
    """One computed report, its SPEC 6.1 document and the exact bytes `report --format json` prints."""

    report: Report
    document: dict[str, Any]
    json_bytes: bytes
    refreshed_at: datetime

    @classmethod
    def of(cls, report: Report, refreshed_at: datetime) -> StoredReport:
        return cls(report, report_document(report), render_json(report).encode(), refreshed_at)

    def domain(self, name: str) -> dict[str, Any] | None:
        return next((block for block in self.document["domains"] if block["name"] == name), None)

    @property
    def domain_names(self) -> list[str]:
        return [block["name"] for block in self.document["domains"]]


@dataclass(frozen=True)
class RefreshError:
    message: str
    at: datetime


class ReportStore:
    """Latest good report, when it was computed, and the last refresh error (if the last refresh failed).

    `compute` builds a fresh `Report` (it reads the databases); `clock` gives the current time, so tests
    can control ages.
    """

    def __init__(self, compute: Callable[[], Report], *, refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.compute = compute
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._latest: StoredReport | None = None
        self._error: RefreshError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def latest(self) -> StoredReport | None:
        return self._latest

    @property
    def error(self) -> RefreshError | None:
        """Set while the most recent refresh failed; cleared by the next successful one."""
        return self._error

    def age_seconds(self) -> float | None:
        latest = self._latest
        return None if latest is None else max(0.0, (self.clock() - latest.refreshed_at).total_seconds())

    def refresh(self) -> bool:
        """Compute a new report; keep the previous one when this fails. Returns whether it succeeded."""
        started = self.clock()
        try:
            report = self.compute()
        except Exception as exc:  # noqa: BLE001 - any failure must keep the last good result
            log.warning("report refresh failed: %s", exc)
            self._fail(f"{type(exc).__name__}: {exc}", started)
            return False
        stored = StoredReport.of(report, self.clock())
        with self._lock:
            previous = self._latest
            newly_failed = _newly_failed(previous, report)
            if newly_failed:
                message = "; ".join(domain.error or domain.name for domain in newly_failed)
                self._error = RefreshError(message, started)
                log.warning("report refresh failed, keeping the result of %s: %s",
                            previous.refreshed_at.isoformat() if previous else "-", message)
                return False
            self._latest = stored
            self._error = None
        return True

    def _fail(self, message: str, at: datetime) -> None:
        with self._lock:
            self._error = RefreshError(message, at)

    # Background refresh ------------------------------------------------------------------------
    def start(self) -> None:
        """Refresh every `refresh_seconds` in a daemon thread until `stop()`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="mfastats-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            self.refresh()


def _newly_failed(previous: StoredReport | None, report: Report) -> list[Any]:
    if previous is None:
        return []
    ok_before = {domain.name for domain in previous.report.domains if domain.status == "ok"}
    return [domain for domain in report.failed_domains if domain.name in ok_before]
