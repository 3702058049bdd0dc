"""Snapshot history and alert states (SPEC 5), with numbered migrations.

Each `snapshot` run stores every metric of every domain (the domain's JSON block) plus the headline
numbers as columns, so trends need no JSON parsing. Trends use the last snapshot of a day.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import platformdirs
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from mfastats.clock import as_naive_utc
from mfastats.dsn import Dsn
from mfastats.errors import SourceError, UserError
from mfastats.model import Report
from mfastats.outputs.document import plain
from mfastats.rows import Snapshot

metadata = MetaData()
schema_version = Table("mfastats_schema_version", metadata, Column("version", Integer, nullable=False))
snapshots = Table(
    "mfastats_snapshots", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(32), nullable=False, index=True),
    Column("as_of", DateTime, nullable=False, index=True),
    Column("taken_at", DateTime, nullable=False),
    Column("status", String(8), nullable=False),
    Column("total", Integer),
    Column("enrolled", Integer),
    Column("percent", Numeric(7, 2)),
    Column("aal2_capable", Integer),
    Column("document", Text, nullable=False),
)
alert_states = Table(
    "mfastats_alert_states", metadata,
    Column("domain", String(32), primary_key=True),
    Column("alert", String(64), primary_key=True),
    Column("state", String(24), nullable=False),
    Column("changed_at", DateTime, nullable=False),
)


# Events written by `mfastats ingest`, shaped like the Olympus SDK audit table so the audit reader
# (and the seed page's SQL) can read them; `dedupe_key` makes ingestion idempotent.
audit_events = Table(
    "mfastats_audit_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("domain", String(32), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("identity_id", String(36)),
    Column("source_ip", String(64)),
    Column("method", String(32)),
    Column("created_at", DateTime, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("dedupe_key", String(64), nullable=False),
    UniqueConstraint("domain", "dedupe_key", name="mfastats_audit_events_dedupe"),
    Index("mfastats_audit_events_event_time", "domain", "event_type", "created_at"),
    Index("mfastats_audit_events_identity", "identity_id", "created_at"),
)


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[snapshots, alert_states])


def _create_v2_audit_events(conn: Connection) -> None:
    metadata.create_all(conn, tables=[audit_events])


# Append-only: a new schema change is a new function here.
MIGRATIONS: list[Callable[[Connection], None]] = [_create_v1, _create_v2_audit_events]


def default_store_dsn() -> Dsn:
    folder = Path(platformdirs.user_data_dir("mfastats"))
    return Dsn(make_url(f"sqlite:///{folder / 'history.sqlite'}"))


def parse_store_dsn(text: str) -> Dsn:
    if "://" not in text and ("=" in text or " " in text.strip()):
        raise UserError("--store: expected a SQLite file path or a postgresql:// URL (key=value DSNs are not supported)")
    raw = text if "://" in text else f"sqlite:///{text}"
    for bare, driver in (("postgresql://", "postgresql+psycopg://"), ("postgres://", "postgresql+psycopg://")):
        if raw.startswith(bare):
            raw = driver + raw[len(bare):]
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise UserError(f"--store: cannot parse database URL: {exc}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise UserError(f"--store: the history store is SQLite or PostgreSQL, not {url.get_backend_name()!r}")
    return Dsn(url)


class Store:
    """Open with `Store.open(dsn, create=...)`; `create=False` returns None when nothing was stored yet."""

    def __init__(self, engine: Engine, dsn: Dsn) -> None:
        self.engine = engine
        self.dsn = dsn

    @classmethod
    def open(cls, dsn: Dsn, *, create: bool) -> Store | None:
        if dsn.backend == "sqlite":
            path = Path(dsn.url.database or "")
            if not path.exists():
                if not create:
                    return None
                path.parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"connect_timeout": 10} if dsn.backend == "postgresql" else {}
        store = cls(create_engine(dsn.url, connect_args=connect_args), dsn)
        try:
            store.migrate(create)
        except SQLAlchemyError as exc:
            raise SourceError(f"history store {dsn}: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None
        return store

    def migrate(self, create: bool) -> None:
        with self.engine.begin() as conn:
            if not inspect(conn).has_table(schema_version.name):
                if not create:
                    return
                metadata.create_all(conn, tables=[schema_version])
                conn.execute(insert(schema_version).values(version=0))
            current = conn.execute(select(schema_version.c.version)).scalar_one()
            for number, step in enumerate(MIGRATIONS[current:], start=current + 1):
                step(conn)
                conn.execute(schema_version.update().values(version=number))

    def save(self, report: Report, taken_at: datetime | None = None) -> int:
        taken = as_naive_utc(taken_at or datetime.now(UTC))
        rows = [{
            "domain": d.name, "as_of": as_naive_utc(report.as_of), "taken_at": taken, "status": d.status,
            "total": d.enrollment.total, "enrolled": d.enrollment.enrolled, "percent": d.enrollment.percent,
            "aal2_capable": d.enrollment.aal2_capable, "document": json.dumps(plain(d)),
        } for d in report.domains]
        with self.engine.begin() as conn:
            conn.execute(insert(snapshots), rows)
        return len(rows)

    def history(self, domain: str, until: datetime) -> list[Snapshot]:
        """Every ok snapshot of `domain` with `as_of` at or before `until`, oldest first."""
        query = (select(snapshots.c.domain, snapshots.c.as_of, snapshots.c.enrolled, snapshots.c.total,
                        snapshots.c.percent)
                 .where(snapshots.c.domain == domain, snapshots.c.status == "ok",
                        snapshots.c.as_of <= as_naive_utc(until))
                 .order_by(snapshots.c.as_of, snapshots.c.id))
        if not inspect(self.engine).has_table(snapshots.name):
            return []
        with self.engine.connect() as conn:
            return [Snapshot(row[0], row[1].replace(tzinfo=UTC), row[2], row[3],
                             None if row[4] is None else Decimal(row[4]).quantize(Decimal("0.01")))
                    for row in conn.execute(query)]

    def has_ingested(self, domain: str) -> bool:
        if not inspect(self.engine).has_table(audit_events.name):
            return False
        with self.engine.connect() as conn:
            query = select(audit_events.c.id).where(audit_events.c.domain == domain).limit(1)
            return conn.execute(query).first() is not None

    def alert_states(self) -> dict[tuple[str, str], str]:
        if not inspect(self.engine).has_table(alert_states.name):
            return {}
        with self.engine.connect() as conn:
            return {(row[0], row[1]): row[2] for row in conn.execute(select(alert_states))}

    def set_alert_states(self, states: dict[tuple[str, str], str], at: datetime) -> None:
        with self.engine.begin() as conn:
            for (domain, alert), state in states.items():
                conn.execute(alert_states.delete().where(alert_states.c.domain == domain,
                                                         alert_states.c.alert == alert))
                conn.execute(insert(alert_states).values(domain=domain, alert=alert, state=state,
                                                         changed_at=as_naive_utc(at)))
