"""Which Kratos tables and optional columns exist: detect capabilities, never assume a version."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from mfastats.errors import SourceError

REQUIRED_TABLES = ("identities", "identity_credentials", "identity_credential_types")
OPTIONAL_COLUMNS = {
    "identities": ("state", "available_aal", "nid", "schema_id"),
    "identity_credentials": ("version", "nid", "created_at"),
    "sessions": ("aal", "authentication_methods", "nid"),
}


@dataclass(frozen=True)
class Capabilities:
    """The optional parts of the Kratos schema this database has."""

    columns: frozenset[str]  # "table.column" for every optional column found
    has_sessions: bool

    def has(self, table: str, column: str) -> bool:
        return f"{table}.{column}" in self.columns


def probe(conn: Connection) -> Capabilities:
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise SourceError(
            f"not a Kratos database: table(s) {', '.join(missing)} missing "
            "(check the database name, or run Kratos migrations first)"
        )
    found = set()
    for table, columns in OPTIONAL_COLUMNS.items():
        if table not in tables:
            continue
        present = {column["name"].lower() for column in inspector.get_columns(table)}
        found.update(f"{table}.{name}" for name in columns if name in present)
    return Capabilities(frozenset(found), "sessions" in tables)
