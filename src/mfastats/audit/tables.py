"""Write Olympus security-audit tables, in both shapes: for `mfastats ingest --audit` (the one place
mfastats writes to an audit table, when explicitly configured as the ingest target), the demo, the tests
and the benchmarks. Two shapes exist in the wild (SPEC 2.2):

* ``sdk``: what the Olympus SDK really writes, one table per domain, ``<domain>_security_audit_log``
  (``id bigserial, event_type, identifier, identity_id text, admin_identity_id, metadata jsonb,
  created_at timestamptz``), indexed only on ``(identifier, created_at)``; the source IP is
  ``metadata.ip`` and ``identifier`` holds an e-mail address.
* ``documented``: the table Olympus's docs describe, ``security_audit`` (``id uuid, domain,
  identity_id uuid, event_type, source_ip inet, user_agent, metadata jsonb, created_at timestamptz``),
  shared by every domain and filtered by ``domain``.

Column types are the real ones per dialect, because that is what the reader's dialect handling is
tested against:

| logical    | PostgreSQL    | MariaDB                                      | SQLite                |
|------------|---------------|----------------------------------------------|-----------------------|
| serial id  | ``bigserial`` | ``bigint auto_increment``                    | ``INTEGER PRIMARY KEY``|
| uuid       | ``uuid``      | ``char(36)``                                 | ``TEXT``              |
| inet       | ``inet``      | ``varchar(45)``                              | ``TEXT``              |
| json       | ``jsonb``     | ``longtext`` + ``CHECK (json_valid(...))``   | ``TEXT``              |
| time       | ``timestamptz``| ``datetime(6)`` (naive UTC)                 | ``TEXT`` (ISO, +00:00)|

Values are written as given where the column can hold them: an identity id of ``None`` or a non-UUID
text is stored verbatim in the SDK shape (``identity_id text``) so tests can check that such rows are
counted and left out; the documented shape's ``uuid`` column rejects non-UUID text on PostgreSQL.

Usage::

    engine = sqlalchemy.create_engine("sqlite:///olympus.sqlite")
    write_audit(engine, [AuditEvent("mfa.challenge_failed", now, identity_id, ip="203.0.113.7")],
                shape="sdk", domain="ciam")
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from mfastats.demo.kratos_schema import resolve_dialect

Shape = Literal["sdk", "documented"]
DOCUMENTED_TABLE = "security_audit"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class AuditEvent:
    """One audit row. ``created_at`` must be timezone-aware; it is stored as UTC.

    ``domain`` is written to the documented table's ``domain`` column; the SDK shape has no such
    column (its table *is* the domain). ``identifier`` is written to the SDK shape only. ``id`` of
    ``None`` lets the database (SDK: ``bigserial``) or the writer (documented: a random UUID) choose.
    """

    event_type: str
    created_at: datetime
    identity_id: str | None
    ip: str | None = None
    domain: str = "ciam"
    identifier: str | None = "user@example.com"
    id: int | str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # merged into the JSON metadata column
    user_agent: str | None = "Mozilla/5.0 (mfastats fixture)"


# (column, DDL per dialect) in the order of the real tables.
_DDL: dict[Shape, tuple[tuple[str, dict[str, str]], ...]] = {
    "sdk": (
        ("id", {"postgresql": "bigserial PRIMARY KEY", "mariadb": "bigint NOT NULL AUTO_INCREMENT PRIMARY KEY",
                "sqlite": "INTEGER PRIMARY KEY"}),
        ("event_type", {"postgresql": "text NOT NULL", "mariadb": "varchar(128) NOT NULL", "sqlite": "TEXT NOT NULL"}),
        ("identifier", {"postgresql": "text", "mariadb": "varchar(255)", "sqlite": "TEXT"}),
        ("identity_id", {"postgresql": "text", "mariadb": "text", "sqlite": "TEXT"}),
        ("admin_identity_id", {"postgresql": "text", "mariadb": "text", "sqlite": "TEXT"}),
        ("metadata", {"postgresql": "jsonb", "mariadb": "longtext CHECK (json_valid(`metadata`))", "sqlite": "TEXT"}),
        ("created_at", {"postgresql": "timestamptz NOT NULL DEFAULT now()", "mariadb": "datetime(6) NOT NULL",
                        "sqlite": "TEXT NOT NULL"}),
    ),
    "documented": (
        ("id", {"postgresql": "uuid PRIMARY KEY", "mariadb": "char(36) NOT NULL PRIMARY KEY",
                "sqlite": "TEXT PRIMARY KEY"}),
        ("domain", {"postgresql": "text NOT NULL", "mariadb": "varchar(32) NOT NULL", "sqlite": "TEXT NOT NULL"}),
        ("identity_id", {"postgresql": "uuid", "mariadb": "char(36)", "sqlite": "TEXT"}),
        ("event_type", {"postgresql": "text NOT NULL", "mariadb": "varchar(128) NOT NULL", "sqlite": "TEXT NOT NULL"}),
        ("source_ip", {"postgresql": "inet", "mariadb": "varchar(45)", "sqlite": "TEXT"}),
        ("user_agent", {"postgresql": "text", "mariadb": "text", "sqlite": "TEXT"}),
        ("metadata", {"postgresql": "jsonb", "mariadb": "longtext CHECK (json_valid(`metadata`))", "sqlite": "TEXT"}),
        ("created_at", {"postgresql": "timestamptz NOT NULL DEFAULT now()", "mariadb": "datetime(6) NOT NULL",
                        "sqlite": "TEXT NOT NULL"}),
    ),
}
# PostgreSQL casts for bound text values (psycopg would otherwise send them as text).
_PG_CASTS = {"identity_id": "uuid", "id": "uuid", "source_ip": "inet", "metadata": "jsonb"}


def table_name(shape: Shape, domain: str, table: str | None = None) -> str:
    """The table a shape writes to: ``<domain>_security_audit_log`` or ``security_audit``."""
    name = table or (f"{domain}_security_audit_log" if shape == "sdk" else DOCUMENTED_TABLE)
    if not _IDENTIFIER.match(name):
        raise ValueError(f"audit table name {name!r} is not a plain SQL identifier")
    return name


def create_audit_table(conn: Connection, *, shape: Shape, table: str) -> None:
    """Create the table (and the SDK's ``(identifier, created_at)`` index) if it does not exist."""
    dialect = resolve_dialect(conn)
    columns = ",\n  ".join(f"{name} {types[dialect]}" for name, types in _DDL[shape])
    options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci" if dialect == "mariadb" else ""
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {table} (\n  {columns}\n){options}"))
    if shape == "sdk":
        index = f"{table}_identifier_created_at_idx"  # the SDK's only index (PostgreSQL, MariaDB 10.1.4+, SQLite)
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS {index} ON {table} (identifier, created_at)"))


def _created_at(moment: datetime, dialect: str) -> Any:
    if moment.tzinfo is None:
        raise ValueError(f"AuditEvent.created_at must be timezone-aware, got naive {moment!r}")
    utc = moment.astimezone(UTC)
    if dialect == "postgresql":
        return utc
    if dialect == "mariadb":
        return utc.replace(tzinfo=None)
    return utc.isoformat(sep=" ")  # SQLite: "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00"


def _row(event: AuditEvent, shape: Shape, dialect: str) -> dict[str, Any]:
    created = _created_at(event.created_at, dialect)
    if shape == "sdk":
        row: dict[str, Any] = {
            "event_type": event.event_type, "identifier": event.identifier, "identity_id": event.identity_id,
            "admin_identity_id": None,
            "metadata": json.dumps({**({"ip": event.ip} if event.ip else {}), **event.metadata}),
            "created_at": created,
        }
        if event.id is not None:
            row["id"] = int(event.id)
        return row
    return {
        "id": str(event.id) if event.id is not None else str(uuid.uuid4()), "domain": event.domain,
        "identity_id": event.identity_id, "event_type": event.event_type, "source_ip": event.ip,
        "user_agent": event.user_agent, "metadata": json.dumps(event.metadata), "created_at": created,
    }


def write_audit(bind: Engine | Connection, events: Iterable[AuditEvent], *, shape: Shape, domain: str = "ciam",
                table: str | None = None, create: bool = True) -> str:
    """Create the audit table of ``shape`` if needed and append ``events``; return the table name.

    ``sdk`` writes to ``table`` or ``<domain>_security_audit_log`` (``identifier`` and ``metadata.ip``);
    ``documented`` writes to ``table`` or ``security_audit`` (each event's ``domain`` and ``source_ip``).
    With an ``Engine`` everything runs in one transaction; with a ``Connection`` the caller commits.
    """
    if shape not in _DDL:
        raise ValueError(f"unknown audit table shape {shape!r}; expected 'sdk' or 'documented'")
    name = table_name(shape, domain, table)
    rows = list(events)

    def run(conn: Connection) -> str:
        dialect = resolve_dialect(conn)
        if create:
            create_audit_table(conn, shape=shape, table=name)
        grouped: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for event in rows:  # rows with and without an explicit id need different column lists
            row = _row(event, shape, dialect)
            grouped.setdefault(tuple(row), []).append(row)
        for columns, batch in grouped.items():
            values = ", ".join(
                f"CAST(:{c} AS {_PG_CASTS[c]})" if dialect == "postgresql" and c in _PG_CASTS
                and not (shape == "sdk" and c in ("id", "identity_id")) else f":{c}" for c in columns)
            conn.execute(text(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({values})"), batch)
        return name

    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return run(conn)
    return run(bind)


__all__ = ["DOCUMENTED_TABLE", "AuditEvent", "Shape", "create_audit_table", "table_name", "write_audit"]
