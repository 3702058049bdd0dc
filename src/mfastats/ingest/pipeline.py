"""Ingest JSON lines into the store (or an Olympus audit table): count, never stop on a bad line."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mfastats.clock import as_naive_utc
from mfastats.dsn import Dsn
from mfastats.errors import SourceError
from mfastats.ingest.normalise import ENROLLED, Event, Ignored, Malformed, Outcome, normalise_line, normalise_record
from mfastats.kratos.reader import KratosReader, connect
from mfastats.store.history import Store, audit_events

log = logging.getLogger(__name__)
BATCH = 500
MAX_LINE_BYTES = 1_000_000


@dataclass
class IngestCounts:
    accepted: int = 0
    duplicate: int = 0
    ignored: int = 0
    malformed: int = 0
    failed: int = 0  # well-formed events the target could not store (database down, value refused)
    reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"accepted": self.accepted, "duplicate": self.duplicate, "ignored": self.ignored,
                "malformed": self.malformed, "failed": self.failed, "reasons": dict(self.reasons.most_common())}


class Sink(Protocol):
    """Where normalised events go; `write` stores the events whose key it does not hold yet and says how many."""

    def write(self, domain: str, events: list[Event]) -> int: ...


class StoreSink:
    """mfastats' own store (`mfastats_audit_events`), the default."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, domain: str, events: list[Event]) -> int:
        received = as_naive_utc(datetime.now(UTC))
        rows = [{"domain": domain, "event_type": e.event_type, "identity_id": e.identity_id,
                 "source_ip": e.source_ip, "method": e.method, "created_at": as_naive_utc(e.created_at),
                 "received_at": received, "dedupe_key": e.dedupe_key} for e in events]
        try:
            with self.store.engine.begin() as conn:
                existing = {row[0] for row in conn.execute(
                    select(audit_events.c.dedupe_key).where(audit_events.c.domain == domain,
                                                            audit_events.c.dedupe_key.in_([r["dedupe_key"] for r in rows])))}
                fresh = [row for row in rows if row["dedupe_key"] not in existing]
                if fresh:
                    conn.execute(insert(audit_events), fresh)
            return len(fresh)
        except IntegrityError:
            # Another ingester stored some of these keys meanwhile (the unique key caught it): one by one.
            stored = 0
            for row in rows:
                try:
                    with self.store.engine.begin() as conn:
                        conn.execute(insert(audit_events), [row])
                    stored += 1
                except IntegrityError:
                    pass
            return stored


class Ingestor:
    """Collects outcomes in batches; decides enrollments against Kratos; writes idempotently."""

    def __init__(self, sink: Sink, domain: str, kratos: Dsn | None) -> None:
        self.sink = sink
        self.domain = domain
        self.kratos = kratos
        self.counts = IngestCounts()
        self.pending: list[Event] = []

    def add(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Malformed):
                self.counts.malformed += 1
                self.counts.reasons[f"malformed: {outcome.reason}"] += 1
            elif isinstance(outcome, Ignored):
                self.counts.ignored += 1
                self.counts.reasons[f"ignored: {outcome.reason}"] += 1
            else:
                self.pending.append(outcome)
                if len(self.pending) >= BATCH:
                    self.flush()

    def add_line(self, line: str) -> None:
        if not line.strip():
            return
        if len(line) > MAX_LINE_BYTES:
            self.add([Malformed("line longer than 1 MB")])
            return
        self.add(normalise_line(line))

    def add_body(self, body: object) -> None:
        """A decoded JSON body (one event or a batch), from the web endpoint."""
        self.add(normalise_record(body))

    def flush(self) -> None:
        events, self.pending = self._decide_enrollments(self.pending), []
        if not events:
            return
        unique = list({e.dedupe_key: e for e in events}.values())
        self.counts.duplicate += len(events) - len(unique)
        try:
            accepted = self.sink.write(self.domain, unique)
        except SQLAlchemyError as exc:
            # The batch is rolled back as a whole; say why, keep going (the next batch may succeed).
            self.counts.failed += len(unique)
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.counts.reasons[f"failed: {reason[:200]}"] += len(unique)
            log.warning("ingest: a batch of %d events could not be stored: %s", len(unique), reason[:200])
            return
        self.counts.accepted += accepted
        self.counts.duplicate += len(unique) - accepted

    def _decide_enrollments(self, events: list[Event]) -> list[Event]:
        """SettingsSucceeded means added or removed: keep it only if the factor is usable now."""
        checks = [e for e in events if e.needs_enrollment_check]
        if not checks:
            return events
        if self.kratos is None:
            for _ in checks:
                self.counts.ignored += 1
                self.counts.reasons["ignored: enrollment change without --kratos to tell added from removed"] += 1
            return [e for e in events if not e.needs_enrollment_check]
        usable: dict[str, set[str]] = {}
        engine = connect(self.kratos)
        try:
            with engine.connect() as conn:
                reader = KratosReader.open(conn)
                for method in ENROLLED:
                    ids = sorted({e.identity_id for e in checks if e.method == method and e.identity_id})
                    usable[method] = reader.identities_with_usable(method, ids)
        except (SQLAlchemyError, SourceError) as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
            self.counts.failed += len(checks)
            self.counts.reasons[f"failed: Kratos database at {self.kratos} could not be read: {reason}"] += len(checks)
            return [e for e in events if not e.needs_enrollment_check]
        finally:
            engine.dispose()
        kept = []
        for e in events:
            if e.needs_enrollment_check and e.identity_id not in usable.get(e.method or "", set()):
                self.counts.ignored += 1
                self.counts.reasons[f"ignored: {e.method} removed (no usable factor in Kratos now)"] += 1
                continue
            kept.append(e)
        return kept


def ingest_lines(lines: Iterable[str], sink: Sink, domain: str, kratos: Dsn | None) -> IngestCounts:
    ingestor = Ingestor(sink, domain, kratos)
    for line in lines:
        ingestor.add_line(line)
    ingestor.flush()
    return ingestor.counts


def summary_json(counts: IngestCounts) -> str:
    return json.dumps(counts.as_dict())
