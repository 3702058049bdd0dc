"""Write Kratos-shaped databases for the demo, the tests and the benchmarks.

mfastats only ever *reads* Kratos databases.  To test that reader against something other than
Kratos's own (tiny) migration test data, we need to create databases that look exactly like the ones
Kratos creates: the same table and column names and, above all, the same column *types* per dialect,
because that is where the reader's dialect handling is exercised (``uuid`` vs ``char(36)``, ``jsonb`` vs
``longtext CHECK (json_valid(...))`` vs ``TEXT``, ``boolean`` vs ``tinyint(1)`` vs ``NUMERIC``).  The
types below are copied from ``shared/kratos/kratos-schema.{pg,mysql}.sql`` and ``kratos-empty.sqlite``.

Only the tables and columns mfastats reads (plus the secret-holding columns it must never read, so tests
can plant markers in them) are created.  Foreign keys are left out on purpose: tests need to write
credentials whose type id points to no type row, and sessions or credentials of unknown identities.

Values are written *as given* wherever the database can hold them, so tests can reproduce bad data:

* An id given in UPPER-case text (``Credential(identity_id="A1B2C3D4-...")``) is stored verbatim on
  MariaDB and SQLite (``char(36)``/``TEXT``), which lets tests check case-insensitive UUID joins.  On
  PostgreSQL the ``uuid`` type normalises it, so there it is just another way to spell the same id.
* A ``config`` or ``amr`` given as ``str`` is written raw (no JSON encoding), so invalid JSON can be
  stored on SQLite.  PostgreSQL (``jsonb``) and MariaDB (``json_valid`` check) reject it, as they do
  for Kratos.  ``dict``/``list`` values are JSON-encoded.
* ``Session.active`` given as ``str`` (e.g. ``"false"``) or ``int`` is written raw on SQLite, whose
  ``NUMERIC`` column keeps Kratos's text ``'false'``; on the servers it is converted to a boolean.

Usage::

    engine = sqlalchemy.create_engine("sqlite:///kratos.sqlite")
    write_kratos(engine, [Identity(id=i1)], [Credential(i1, "totp", {"totp_url": "otpauth://..."})],
                 [Session(i1, aal="aal2")])
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import CheckConstraint, Column, Index, MetaData, Table, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import UserDefinedType

Dialect = Literal["sqlite", "postgresql", "mariadb"]

#: Network id used when a row does not name one (Kratos's default network is a random UUID too).
DEFAULT_NID = "884f556e-eb3a-4b9f-bee3-11345642c6c0"
#: Fixed timestamp (naive UTC, as Kratos stores them) so that fixtures are reproducible.
DEFAULT_TIME = datetime(2024, 5, 1, 10, 0, 0)
#: Session lifetime used for the default ``expires_at``.
DEFAULT_SESSION_LIFESPAN = timedelta(hours=24)

#: Every credential type name a current Kratos knows (SPEC 2.1).
KNOWN_CREDENTIAL_TYPES: tuple[str, ...] = (
    "password", "oidc", "totp", "webauthn", "lookup_secret", "code", "passkey", "saml",
    "deviceauthn", "profile", "identifier_first",
)

#: Columns that older Kratos versions lack; pass some of them in ``omit`` to build such a schema.
OPTIONAL_COLUMNS: frozenset[str] = frozenset({
    "identities.available_aal",
    "identities.state",
    "identity_credentials.version",
    "sessions.aal",
    "sessions.authentication_methods",
})

_TYPE_ID_NAMESPACE = uuid.UUID("6f1d2c0e-4b7a-4a51-9b0e-6d6b7f1f0a11")


def default_type_id(name: str) -> str:
    """Fixed id for a credential type name, so repeated runs produce identical databases.

    Real databases use random ids per type; readers must join by name, never by these ids.
    """
    return str(uuid.uuid5(_TYPE_ID_NAMESPACE, name))


# --------------------------------------------------------------------------------------------------
# The one place that names dialect differences: column type DDL per dialect, copied from the real
# Kratos schema dumps.  Kinds are logical ("uuid", "json", ...); tables below use only these kinds.
# --------------------------------------------------------------------------------------------------
_MARIADB_JSON = "longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
_COLUMN_TYPES: dict[str, dict[Dialect, str]] = {
    "uuid": {"postgresql": "uuid", "mariadb": "char(36)", "sqlite": "char(36)"},
    # Primary-key ids are declared TEXT (not char(36)) in Kratos's SQLite schema.
    "uuid_pk": {"postgresql": "uuid", "mariadb": "char(36)", "sqlite": "TEXT"},
    "json": {"postgresql": "jsonb", "mariadb": _MARIADB_JSON, "sqlite": "TEXT"},
    "json_meta": {"postgresql": "jsonb", "mariadb": _MARIADB_JSON, "sqlite": "jsonb"},
    "timestamp": {"postgresql": "timestamp without time zone", "mariadb": "datetime", "sqlite": "DATETIME"},
    "bool": {"postgresql": "boolean", "mariadb": "tinyint(1)", "sqlite": "NUMERIC"},
    "int": {"postgresql": "integer", "mariadb": "int(11)", "sqlite": "INT"},
    "text": {"postgresql": "text", "mariadb": "text", "sqlite": "TEXT"},
    "name32": {"postgresql": "character varying(32)", "mariadb": "varchar(32)", "sqlite": "TEXT"},
    "schema_id": {"postgresql": "character varying(2048)", "mariadb": "varchar(2048)", "sqlite": "TEXT"},
    "state": {"postgresql": "character varying(255)", "mariadb": "varchar(255)", "sqlite": "TEXT"},
    "aal": {"postgresql": "character varying(4)", "mariadb": "varchar(4)", "sqlite": "TEXT"},
    "available_aal": {"postgresql": "character varying(4)", "mariadb": "varchar(4)", "sqlite": "VARCHAR(4)"},
    "identifier": {
        "postgresql": "character varying(255)",
        "mariadb": "varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "sqlite": "TEXT",
    },
    "token": {"postgresql": "character varying(39)", "mariadb": "varchar(39)", "sqlite": "varchar(39)"},
}
#: Nullability that differs from the column specs below, per dialect, as in the real schemas: SQLite's
#: ``TEXT PRIMARY KEY`` ids are not declared NOT NULL, and MariaDB's identifier column is nullable.
_PK_NOT_NULL: dict[Dialect, bool] = {"postgresql": True, "mariadb": True, "sqlite": False}
_NULLABLE_OVERRIDES: dict[str, dict[Dialect, bool]] = {
    "identity_credential_identifiers.identifier": {"mariadb": True},
}
#: Table options of the real MariaDB dump (utf8mb4_general_ci makes char(36) comparisons case-insensitive).
_MARIADB_TABLE_KW = {
    "mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_general_ci",
}

_DIALECT_ALIASES: dict[str, Dialect] = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mariadb",
                                        "mariadb": "mariadb"}


class _Ddl(UserDefinedType[Any]):
    """A column type that emits exact DDL text and passes values through untouched.

    SQLAlchemy's own JSON/UUID/Boolean types would re-encode values (a ``str`` config would become a
    JSON string); fixtures must write exactly what they are given.
    """

    cache_ok = True

    def __init__(self, ddl: str) -> None:
        self.ddl = ddl

    def get_col_spec(self, **kw: Any) -> str:
        return self.ddl


# (column name, kind, nullable, server default) per table, in Kratos's column order.
_ColSpec = tuple[str, str, bool, str | None]
_TABLES: dict[str, tuple[_ColSpec, ...]] = {
    "networks": (
        ("id", "uuid_pk", False, None),
        ("created_at", "timestamp", False, None),
        ("updated_at", "timestamp", False, None),
    ),
    "identity_credential_types": (
        ("id", "uuid_pk", False, None),
        ("name", "name32", False, None),
    ),
    "identities": (
        ("id", "uuid_pk", False, None),
        ("schema_id", "schema_id", False, None),
        ("traits", "json", False, None),
        ("created_at", "timestamp", False, None),
        ("updated_at", "timestamp", False, None),
        ("nid", "uuid", True, None),
        ("state", "state", False, "'active'"),
        ("state_changed_at", "timestamp", True, None),
        ("metadata_public", "json_meta", True, None),
        ("metadata_admin", "json_meta", True, None),
        ("available_aal", "available_aal", True, None),
    ),
    "identity_credentials": (
        ("id", "uuid_pk", False, None),
        ("config", "json", False, None),
        ("identity_credential_type_id", "uuid", False, None),
        ("identity_id", "uuid", False, None),
        ("created_at", "timestamp", False, None),
        ("updated_at", "timestamp", False, None),
        ("nid", "uuid", True, None),
        ("version", "int", False, "0"),
    ),
    "identity_credential_identifiers": (
        ("id", "uuid_pk", False, None),
        ("identifier", "identifier", False, None),
        ("identity_credential_id", "uuid", False, None),
        ("created_at", "timestamp", False, None),
        ("updated_at", "timestamp", False, None),
        ("nid", "uuid", True, None),
        ("identity_credential_type_id", "uuid", False, None),
        ("identity_id", "uuid", False, None),
    ),
    "sessions": (
        ("id", "uuid_pk", False, None),
        ("issued_at", "timestamp", False, None),
        ("expires_at", "timestamp", False, None),
        ("authenticated_at", "timestamp", False, None),
        ("identity_id", "uuid", False, None),
        ("created_at", "timestamp", False, None),
        ("updated_at", "timestamp", False, None),
        ("token", "token", True, None),
        ("active", "bool", True, None),
        ("nid", "uuid", True, None),
        ("logout_token", "token", True, None),
        ("aal", "aal", False, "'aal1'"),
        ("authentication_methods", "json", False, None),
    ),
}
_INDEXES: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("identity_credential_types_name_idx", "identity_credential_types", ("name",), True),
    ("identity_credentials_identity_id_idx", "identity_credentials", ("identity_id",), False),
    ("sessions_identity_id_idx", "sessions", ("identity_id",), False),
)


def resolve_dialect(bind: Engine | Connection, dialect: str | None = None) -> Dialect:
    """Map SQLAlchemy's dialect name (``mysql`` for MariaDB via PyMySQL) to ours."""
    name = dialect or bind.dialect.name
    try:
        return _DIALECT_ALIASES[name]
    except KeyError:
        raise ValueError(
            f"unsupported dialect {name!r}; expected one of sqlite, postgresql, mariadb"
        ) from None


def _check_omit(omit: Iterable[str]) -> frozenset[str]:
    omit = frozenset(omit)
    unknown = omit - OPTIONAL_COLUMNS
    if unknown:
        raise ValueError(f"cannot omit {sorted(unknown)}; optional columns are {sorted(OPTIONAL_COLUMNS)}")
    return omit


def kratos_metadata(dialect: Dialect, omit: Iterable[str] = frozenset()) -> MetaData:
    """Build the Kratos tables for one dialect, leaving out the ``omit`` columns ("table.column")."""
    omit = _check_omit(omit)
    md = MetaData()
    table_kw: dict[str, Any] = _MARIADB_TABLE_KW if dialect == "mariadb" else {}
    for table_name, specs in _TABLES.items():
        items: list[Any] = []
        for name, kind, nullable, default in specs:
            if f"{table_name}.{name}" in omit:
                continue
            is_pk = name == "id"
            if is_pk:
                nullable = not _PK_NOT_NULL[dialect]
            nullable = _NULLABLE_OVERRIDES.get(f"{table_name}.{name}", {}).get(dialect, nullable)
            items.append(Column(name, _Ddl(_COLUMN_TYPES[kind][dialect]), primary_key=is_pk,
                                nullable=nullable, server_default=_text_default(default)))
            if dialect == "mariadb" and kind.startswith("json"):
                # MariaDB has no JSON type: Kratos gets longtext plus this check (see the real dump).
                items.append(CheckConstraint(f"json_valid(`{name}`)", name=f"{table_name}_{name}_json"))
        Table(table_name, md, *items, **table_kw)
    for index_name, table_name, cols, unique in _INDEXES:
        table = md.tables[table_name]
        Index(index_name, *(table.c[c] for c in cols), unique=unique)
    return md


def _text_default(default: str | None) -> Any:
    return None if default is None else text(default)


# --------------------------------------------------------------------------------------------------
# Typed fixture rows
# --------------------------------------------------------------------------------------------------
def _new_id() -> str:
    return str(uuid.uuid4())


def _default_amr() -> list[dict[str, str]]:
    return [{"method": "password", "aal": "aal1", "completed_at": "2024-05-01T10:00:00Z"}]


JsonValue = dict[str, Any] | list[Any] | str


@dataclass(frozen=True)
class Identity:
    """One ``identities`` row.  ``traits=None`` writes ``{"email": "<id prefix>@example.com"}``.

    ``state`` and ``available_aal`` are ignored when their column is omitted.
    """

    id: str
    state: str = "active"
    schema_id: str = "default"
    available_aal: str | None = None
    created_at: datetime = DEFAULT_TIME
    updated_at: datetime | None = None  # None: same as created_at
    nid: str | None = DEFAULT_NID
    traits: JsonValue | None = None


@dataclass(frozen=True)
class Credential:
    """One ``identity_credentials`` row, plus its ``identity_credential_identifiers`` rows.

    ``type`` is a credential type *name*; a name Kratos does not know gets its own type row (to test
    ``unknown_credential_types``).  ``type_id`` overrides the id written in
    ``identity_credential_type_id`` verbatim and creates no type row (to test a dangling type id).
    ``config`` as ``str`` is written raw (invalid JSON is storable on SQLite only).
    ``identifiers`` are strings (typed like the credential) or ``(identifier, type_name)`` pairs, since
    Kratos's own test data has an identifier whose type differs from its credential's.
    """

    identity_id: str
    type: str
    config: JsonValue = field(default_factory=dict)
    version: int = 1
    created_at: datetime = DEFAULT_TIME
    updated_at: datetime | None = None  # None: same as created_at
    id: str = field(default_factory=_new_id)
    identifiers: Sequence[str | tuple[str, str]] = ()
    nid: str | None = DEFAULT_NID
    type_id: str | None = None


@dataclass(frozen=True)
class Session:
    """One ``sessions`` row.  ``amr`` is ``authentication_methods`` (``str`` is written raw).

    ``active`` may be ``bool``, ``int`` or ``str`` (SQLite keeps ``'false'`` as text, as in Kratos's
    own data); on PostgreSQL and MariaDB it is converted to a boolean.  Timestamps default to
    ``DEFAULT_TIME``; ``expires_at`` to ``issued_at + DEFAULT_SESSION_LIFESPAN``.
    """

    identity_id: str
    aal: str = "aal1"
    amr: JsonValue = field(default_factory=_default_amr)
    active: bool | int | str = True
    authenticated_at: datetime = DEFAULT_TIME
    issued_at: datetime = DEFAULT_TIME
    expires_at: datetime | None = None
    created_at: datetime | None = None  # None: same as issued_at
    id: str = field(default_factory=_new_id)
    nid: str | None = DEFAULT_NID
    token: str | None = None


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------
def _json(value: JsonValue | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _timestamp(value: datetime | None, dialect: Dialect) -> Any:
    if value is None or dialect != "sqlite":
        return value
    # Kratos's SQLite rows hold "YYYY-MM-DD HH:MM:SS[.ffffff]" text; avoid sqlite3's deprecated adapter.
    return value.isoformat(sep=" ")


_TRUE_TEXT = {"1", "t", "true", "y", "yes"}


def _active(value: bool | int | str | None, dialect: Dialect) -> Any:
    if value is None or dialect == "sqlite":
        return value
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_TEXT
    return bool(value)


def _as_connection_do(bind: Engine | Connection, fn: Any) -> Any:
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return fn(conn)
    return fn(bind)


def create_schema(
    bind: Engine | Connection,
    *,
    omit: Iterable[str] = frozenset(),
    type_ids: Mapping[str, str] | None = None,
    extra_types: Iterable[str] = (),
    nids: Iterable[str] = (DEFAULT_NID,),
    dialect: str | None = None,
) -> dict[str, str]:
    """Create the Kratos tables (if missing), the credential types and the networks.

    Inserts every known type name plus ``extra_types`` that is not there yet, with the id from
    ``type_ids`` or ``default_type_id(name)``.  Returns the name → id map of all type rows.  Safe to
    call on a database that already has the schema.  With a ``Connection`` the caller commits.
    """
    dia = resolve_dialect(bind, dialect)
    md = kratos_metadata(dia, omit)

    def run(conn: Connection) -> dict[str, str]:
        md.create_all(conn, checkfirst=True)
        types = md.tables["identity_credential_types"]
        existing = {name: str(id_) for id_, name in conn.execute(select(types.c.id, types.c.name))}
        wanted = dict.fromkeys([*KNOWN_CREDENTIAL_TYPES, *extra_types])
        new = [{"id": (type_ids or {}).get(name) or default_type_id(name), "name": name}
               for name in wanted if name not in existing]
        if new:
            conn.execute(insert(types), new)
            existing.update({row["name"]: row["id"] for row in new})
        networks = md.tables["networks"]
        have_nids = {str(n).lower() for (n,) in conn.execute(select(networks.c.id))}
        stamp = _timestamp(DEFAULT_TIME, dia)
        new_nids = [{"id": n, "created_at": stamp, "updated_at": stamp}
                    for n in dict.fromkeys(nids) if n is not None and n.lower() not in have_nids]
        if new_nids:
            conn.execute(insert(networks), new_nids)
        return existing

    return _as_connection_do(bind, run)


def write_kratos(
    bind: Engine | Connection,
    identities: Iterable[Identity] = (),
    credentials: Iterable[Credential] = (),
    sessions: Iterable[Session] = (),
    *,
    type_ids: Mapping[str, str] | None = None,
    omit: Iterable[str] = frozenset(),
    dialect: str | None = None,
) -> dict[str, str]:
    """Create the schema (see ``create_schema``) and bulk-insert the given rows.

    Uses Core ``insert()`` executemany, so tens of thousands of rows take about a second on SQLite.
    May be called again on the same database to append rows.  Values of omitted columns are dropped.
    With a ``Connection`` the caller commits; with an ``Engine`` it runs in one transaction.
    Returns the credential type name → id map.
    """
    dia = resolve_dialect(bind, dialect)
    omit = _check_omit(omit)
    identities, credentials, sessions = list(identities), list(credentials), list(sessions)
    md = kratos_metadata(dia, omit)

    def run(conn: Connection) -> dict[str, str]:
        extra = [c.type for c in credentials if c.type_id is None]
        extra += [ident[1] for c in credentials for ident in c.identifiers if not isinstance(ident, str)]
        nids = {r.nid for r in [*identities, *credentials, *sessions] if r.nid is not None}
        type_map = create_schema(conn, omit=omit, type_ids=type_ids, extra_types=extra,
                                 nids=[DEFAULT_NID, *sorted(nids)], dialect=dia)
        rows: dict[str, list[dict[str, Any]]] = {
            "identities": [_identity_row(i, dia) for i in identities],
            "identity_credentials": [_credential_row(c, type_map, dia) for c in credentials],
            "identity_credential_identifiers": [
                row for c in credentials for row in _identifier_rows(c, type_map, dia)],
            "sessions": [_session_row(s, dia) for s in sessions],
        }
        for table_name, table_rows in rows.items():
            if not table_rows:
                continue
            table = md.tables[table_name]
            keep = set(table.c.keys())
            conn.execute(insert(table), [{k: v for k, v in r.items() if k in keep} for r in table_rows])
        return type_map

    return _as_connection_do(bind, run)


def _identity_row(i: Identity, dia: Dialect) -> dict[str, Any]:
    traits = i.traits if i.traits is not None else {"email": f"{i.id[:8].lower()}@example.com"}
    return {
        "id": i.id, "schema_id": i.schema_id, "traits": _json(traits),
        "created_at": _timestamp(i.created_at, dia),
        "updated_at": _timestamp(i.updated_at or i.created_at, dia),
        "nid": i.nid, "state": i.state, "state_changed_at": _timestamp(i.created_at, dia),
        "metadata_public": None, "metadata_admin": None, "available_aal": i.available_aal,
    }


def _credential_row(c: Credential, type_map: Mapping[str, str], dia: Dialect) -> dict[str, Any]:
    return {
        "id": c.id, "config": _json(c.config),
        "identity_credential_type_id": c.type_id if c.type_id is not None else type_map[c.type],
        "identity_id": c.identity_id,
        "created_at": _timestamp(c.created_at, dia),
        "updated_at": _timestamp(c.updated_at or c.created_at, dia),
        "nid": c.nid, "version": c.version,
    }


def _identifier_rows(c: Credential, type_map: Mapping[str, str], dia: Dialect) -> list[dict[str, Any]]:
    own_type = c.type_id if c.type_id is not None else type_map[c.type]
    rows = []
    for ident in c.identifiers:
        identifier, type_id = (ident, own_type) if isinstance(ident, str) else (ident[0], type_map[ident[1]])
        rows.append({
            "id": _new_id(), "identifier": identifier, "identity_credential_id": c.id,
            "created_at": _timestamp(c.created_at, dia), "updated_at": _timestamp(c.created_at, dia),
            "nid": c.nid, "identity_credential_type_id": type_id, "identity_id": c.identity_id,
        })
    return rows


def _session_row(s: Session, dia: Dialect) -> dict[str, Any]:
    created = s.created_at or s.issued_at
    return {
        "id": s.id,
        "issued_at": _timestamp(s.issued_at, dia),
        "expires_at": _timestamp(s.expires_at or s.issued_at + DEFAULT_SESSION_LIFESPAN, dia),
        "authenticated_at": _timestamp(s.authenticated_at, dia),
        "identity_id": s.identity_id,
        "created_at": _timestamp(created, dia), "updated_at": _timestamp(created, dia),
        "token": s.token, "active": _active(s.active, dia), "nid": s.nid, "logout_token": None,
        "aal": s.aal, "authentication_methods": _json(s.amr),
    }


__all__ = [
    "DEFAULT_NID", "DEFAULT_SESSION_LIFESPAN", "DEFAULT_TIME", "KNOWN_CREDENTIAL_TYPES", "OPTIONAL_COLUMNS",
    "Credential", "Dialect", "Identity", "Session", "create_schema", "default_type_id", "kratos_metadata",
    "resolve_dialect", "write_kratos",
]
