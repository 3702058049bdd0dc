"""Set-based, read-only queries against one Kratos database.

Every usability check on `config` runs inside SQL and returns flags or counts (SPEC 2.1). Each query
returns a bounded number of rows, except `amr_entries`, which streams only the allow-listed AMR
fields of sessions that mention `aal2`, one session after another, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine

from mfastats.clock import DayWindow, as_naive_utc
from mfastats.dsn import Dsn
from mfastats.kratos.dialects import KratosDialect, dialect_for
from mfastats.kratos.probe import Capabilities, probe
from mfastats.methods import FIRST_FACTOR_TYPES, KNOWN_TYPES, code, lookup_secret, passkey, totp, webauthn
from mfastats.rows import AmrEntry, CredentialQuality, EnrollmentDay, IdentityProfile, SessionSummary

STREAM_BATCH = 5_000
MYSQL_QUERY_TIMEOUT_SECONDS = 1800


def connect(dsn: Dsn, *, read_only: bool = True) -> Engine:
    """An engine whose every session is read-only and in UTC, so naive-UTC bounds compare correctly with
    `timestamptz` (PostgreSQL) and `TIMESTAMP` (MySQL) columns whatever the server's time zone.

    `read_only=False` only for an audit table explicitly configured as the ingest target; a Kratos
    database is always opened read-only."""
    connect_args: dict[str, object] = {}
    if dsn.backend == "postgresql":
        # jit=off: the config checks give these queries high cost estimates, so PostgreSQL JIT-compiles
        # them with inlining and optimisation: 1-1.5 s per query (measured at 100k and 1M identities,
        # bench/README.md), on scans whose time is JSON decoding that JIT does not speed up.
        connect_args = {"options": "-c default_transaction_read_only=on -c timezone=UTC -c jit=off",
                        "connect_timeout": 10}
    elif dsn.backend == "cockroachdb":
        connect_args = {"options": "-c default_transaction_read_only=on -c timezone=UTC", "connect_timeout": 10}
    elif dsn.backend in ("mysql", "mariadb"):
        # PyMySQL's connect_timeout covers only the TCP connect; a server that accepts and never sends its
        # handshake would block forever. read_timeout bounds the handshake; it is lifted after it below.
        connect_args = {"connect_timeout": 10, "read_timeout": 10, "write_timeout": 60}
    if not read_only and "options" in connect_args:
        connect_args["options"] = str(connect_args["options"]).replace("-c default_transaction_read_only=on ", "")
    engine = create_engine(dsn.url, connect_args=connect_args, pool_pre_ping=False)
    if dsn.backend in ("mysql", "mariadb"):
        @event.listens_for(engine, "connect")
        def _read_only_utc(dbapi_connection, _record):  # noqa: ANN001 - DB-API objects
            with dbapi_connection.cursor() as cursor:
                if read_only:
                    cursor.execute("SET SESSION TRANSACTION READ ONLY")
                cursor.execute("SET time_zone = '+00:00'")
            dbapi_connection._read_timeout = MYSQL_QUERY_TIMEOUT_SECONDS  # PyMySQL reads it before every read
    return engine


def _in(names: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{name}'" for name in names) + ")"


@dataclass(frozen=True)
class Scope:
    """Which identities of the database belong to the domain: one network, one side of the seed split."""

    nid: str | None = None
    schema_split: str | None = None  # "iam": schema_id = 'admin'; "ciam": any other schema


class KratosReader:
    """Queries for one domain. Built per connection; `caps` says which optional columns exist."""

    def __init__(self, conn: Connection, dialect: KratosDialect, scope: Scope | None = None) -> None:
        self.conn = conn
        self.d = dialect
        self.scope = scope or Scope()
        self.caps: Capabilities = probe(conn)

    @classmethod
    def open(cls, conn: Connection, scope: Scope | None = None) -> KratosReader:
        return cls(conn, dialect_for(conn.engine.url.get_backend_name()), scope)

    # -- scope -------------------------------------------------------------------------------
    def _params(self, **extra: object) -> dict[str, object]:
        return {"nid": self.scope.nid, **extra}

    def _identity_scope(self, alias: str) -> str:
        parts = ["1 = 1"]
        if self.scope.nid and self.caps.has("identities", "nid"):
            parts.append(f"{self.d.uuid_key(f'{alias}.nid')} = {self.d.lower(':nid')}")
        if self.scope.schema_split:
            op = "=" if self.scope.schema_split == "iam" else "<>"
            parts.append(f"{alias}.schema_id {op} 'admin'")
        return " AND ".join(parts)

    def _owned_by_scope(self, alias: str, table: str) -> str:
        """Rows of `table` (credentials or sessions) that belong to in-scope identities."""
        parts = ["1 = 1"]
        if self.scope.nid and self.caps.has(table, "nid"):
            parts.append(f"{self.d.uuid_key(f'{alias}.nid')} = {self.d.lower(':nid')}")
        if self.scope.schema_split:
            parts.append(
                f"{self.d.uuid_key(f'{alias}.identity_id')} IN (SELECT {self.d.uuid_key('i.id')} "
                f"FROM identities i WHERE {self._identity_scope('i')})"
            )
        return " AND ".join(parts)

    # -- credentials -------------------------------------------------------------------------
    def _type_join(self) -> str:
        return (f"LEFT JOIN identity_credential_types t "
                f"ON {self.d.uuid_key('t.id')} = {self.d.uuid_key('c.identity_credential_type_id')}")

    def _version(self) -> str:
        return "c.version" if self.caps.has("identity_credentials", "version") else "NULL"

    def _usable_enrollment(self) -> str:
        """A credential row that is a usable TOTP or a WebAuthn row with a second-factor key."""
        d = self.d
        return (f"((t.name = 'totp' AND {totp.usable(d, 'c.config')}) OR "
                f"(t.name = 'webauthn' AND {webauthn.second_factor_keys(d, 'c.config')} > 0))")

    def identity_profiles(self) -> list[IdentityProfile]:
        d, config = self.d, "c.config"
        flags = f"""
            SELECT {d.uuid_key('c.identity_id')} AS identity_key,
              MAX(CASE WHEN t.name IN ('totp', 'webauthn') THEN 1 ELSE 0 END) AS seed_mfa_row,
              MAX(CASE WHEN t.name = 'totp' AND {totp.usable(d, config)} THEN 1 ELSE 0 END) AS usable_totp,
              MAX(CASE WHEN t.name = 'webauthn' AND {webauthn.second_factor_keys(d, config)} > 0
                  THEN 1 ELSE 0 END) AS webauthn_second_factor,
              MAX(CASE WHEN t.name = 'webauthn' AND {webauthn.passwordless_keys(d, config)} > 0
                  THEN 1 ELSE 0 END) AS webauthn_passwordless,
              MAX(CASE WHEN t.name = 'lookup_secret' THEN {lookup_secret.unused_codes(d, config)} END)
                  AS lookup_unused,
              MAX(CASE WHEN t.name = 'lookup_secret' AND {lookup_secret.all_codes(d, config)} > 0
                  THEN 1 ELSE 0 END) AS lookup_nonempty,
              MAX(CASE WHEN t.name = 'code' AND {code.usable_address(d, config, self._version())}
                  THEN 1 ELSE 0 END) AS code_usable,
              MAX(CASE WHEN t.name = 'passkey' AND {passkey.keys(d, config)} > 0 THEN 1 ELSE 0 END) AS passkey,
              MAX(CASE WHEN t.name IN {_in(FIRST_FACTOR_TYPES)} THEN 1 ELSE 0 END) AS plain_first_factor
            FROM identity_credentials c {self._type_join()}
            WHERE {self._owned_by_scope('c', 'identity_credentials')}
            GROUP BY {d.uuid_key('c.identity_id')}"""
        if self.caps.has("identities", "state"):
            state = ("CASE WHEN LOWER(i.state) = 'active' THEN 'active' "
                     "WHEN LOWER(i.state) = 'inactive' THEN 'inactive' ELSE 'unknown' END")
        else:
            state = "'active'"
        cached = "i.available_aal" if self.caps.has("identities", "available_aal") else "NULL"
        bucket = ("CASE WHEN f.lookup_unused IS NULL THEN NULL WHEN f.lookup_unused = 0 THEN '0' "
                  "WHEN f.lookup_unused <= 3 THEN '1-3' ELSE '4+' END")
        names = ("seed_mfa_row", "usable_totp", "webauthn_second_factor", "webauthn_passwordless",
                 "lookup_nonempty", "code_usable", "passkey", "plain_first_factor")
        flag_columns = ", ".join(f"COALESCE(f.{name}, 0) AS {name}" for name in names)
        group_by = ", ".join(str(position) for position in range(1, 4 + len(names)))
        query = f"""
            SELECT {state} AS state, {cached} AS cached_aal, {bucket} AS lookup_bucket, {flag_columns},
                   COUNT(*) AS identities
            FROM identities i LEFT JOIN ({flags}) f ON f.identity_key = {d.uuid_key('i.id')}
            WHERE {self._identity_scope('i')}
            GROUP BY {group_by}"""
        rows = self.conn.execute(text(query), self._params()).mappings()
        return [
            IdentityProfile(
                state=row["state"], cached_aal=row["cached_aal"], lookup_bucket=row["lookup_bucket"],
                count=int(row["identities"]), **{name: bool(row[name]) for name in names},
            )
            for row in rows
        ]

    def credential_quality(self, as_of: datetime) -> CredentialQuality:
        d, config = self.d, "c.config"
        malformed = " OR ".join([
            f"NOT {d.json_is_object(config)}",
            f"(t.name = 'totp' AND {totp.malformed(d, config)})",
            f"(t.name = 'webauthn' AND {webauthn.malformed(d, config)})",
            f"(t.name = 'passkey' AND {passkey.malformed(d, config)})",
            f"(t.name = 'lookup_secret' AND {lookup_secret.malformed(d, config)})",
            f"(t.name = 'code' AND {code.malformed(d, config)})",
        ])
        created = d.timestamp("c.created_at") if self.caps.has("identity_credentials", "created_at") else "NULL"
        query = f"""
            SELECT
              SUM(CASE WHEN t.name IS NULL OR t.name NOT IN {_in(KNOWN_TYPES)} THEN 1 ELSE 0 END) AS unknown,
              SUM(CASE WHEN t.name IN {_in(KNOWN_TYPES)} AND ({malformed}) THEN 1 ELSE 0 END) AS malformed,
              SUM(CASE WHEN {created} IS NULL THEN 1 ELSE 0 END) AS missing,
              SUM(CASE WHEN {created} > {d.timestamp_param('as_of')} AND {self._usable_enrollment()}
                  THEN 1 ELSE 0 END) AS after_as_of
            FROM identity_credentials c {self._type_join()}
            WHERE {self._owned_by_scope('c', 'identity_credentials')}"""
        row = self.conn.execute(text(query), self._params(as_of=d.bind_timestamp(as_naive_utc(as_of)))).mappings().one()
        return CredentialQuality(
            malformed_config=int(row["malformed"] or 0),
            unknown_credential_types=int(row["unknown"] or 0),
            missing_timestamps=int(row["missing"] or 0),
            enrollments_after_as_of=int(row["after_as_of"] or 0),
        )

    def enrollment_days(self, windows: list[DayWindow], as_of: datetime) -> list[EnrollmentDay]:
        """New usable TOTP / WebAuthn credentials per report day, counted in SQL between UTC boundaries."""
        if not windows or not self.caps.has("identity_credentials", "created_at"):
            return [EnrollmentDay(w.day, 0, 0) for w in windows]
        d = self.d
        created = d.timestamp("c.created_at")
        bounds = [(w.start, w.end) for w in windows]
        params = self._params(first=d.bind_timestamp(windows[0].start), last=d.bind_timestamp(as_naive_utc(as_of)))
        usable = f"""SELECT t.name AS method, {created} AS created
                  FROM identity_credentials c {self._type_join()}
                  WHERE {self._owned_by_scope('c', 'identity_credentials')}
                    AND t.name IN ('totp', 'webauthn')
                    AND {created} >= {d.timestamp_param('first')} AND {created} <= {d.timestamp_param('last')}
                    AND {self._usable_enrollment()}"""
        bucket = d.window_bucket("u.created", bounds)
        if bucket is not None:  # one pass: each row finds its day by comparisons, no join to a days table
            expression, bucket_params = bucket
            params.update(bucket_params)
            query = f"""
                SELECT b.window_index,
                       SUM(CASE WHEN b.method = 'totp' THEN 1 ELSE 0 END) AS totp,
                       SUM(CASE WHEN b.method = 'webauthn' THEN 1 ELSE 0 END) AS webauthn
                FROM (SELECT u.method, {expression} AS window_index FROM ({usable}) u) b
                WHERE b.window_index IS NOT NULL
                GROUP BY b.window_index"""
        else:
            days, day_params = d.windows_table(bounds)
            params.update(day_params)
            query = f"""
                SELECT days.window_index,
                       SUM(CASE WHEN u.method = 'totp' THEN 1 ELSE 0 END) AS totp,
                       SUM(CASE WHEN u.method = 'webauthn' THEN 1 ELSE 0 END) AS webauthn
                FROM {days} days
                JOIN ({usable}) u ON u.created >= days.window_start AND u.created < days.window_end
                GROUP BY days.window_index"""
        counts = {int(row[0]): (int(row[1]), int(row[2]))
                  for row in self.conn.execute(text(query), params)}
        return [EnrollmentDay(w.day, *counts.get(i, (0, 0))) for i, w in enumerate(windows)]

    def identities_with_usable(self, method: str, identity_ids: list[str]) -> set[str]:
        """Which of `identity_ids` have a usable `method` ("totp" or "webauthn") factor right now."""
        if not identity_ids:
            return set()
        d = self.d
        usable = (totp.usable(d, "c.config") if method == "totp"
                  else f"{webauthn.second_factor_keys(d, 'c.config')} > 0")
        params = {f"id{i}": value.lower() for i, value in enumerate(identity_ids)}
        wanted = ", ".join(f":id{i}" for i in range(len(identity_ids)))
        query = f"""
            SELECT DISTINCT {d.lower(d.as_text('c.identity_id'))} FROM identity_credentials c {self._type_join()}
            WHERE t.name = :method AND {d.lower(d.as_text('c.identity_id'))} IN ({wanted}) AND {usable}"""
        return {str(row[0]) for row in self.conn.execute(text(query), {**params, "method": method})}

    # -- sessions ----------------------------------------------------------------------------
    def session_summary(self) -> SessionSummary:
        if not self.caps.has_sessions:
            return SessionSummary(0, 0)
        # LOWER: MySQL's collation ignores case and the others do not; be the same everywhere.
        aal2 = "LOWER(s.aal) = 'aal2'" if self.caps.has("sessions", "aal") else "1 = 0"
        if self.caps.has("sessions", "authentication_methods"):
            malformed = f"NOT {self.d.json_is_array('s.authentication_methods')}"
        else:
            malformed = "1 = 0"
        query = f"""
            SELECT SUM(CASE WHEN {aal2} THEN 1 ELSE 0 END) AS aal2_sessions,
                   SUM(CASE WHEN {malformed} THEN 1 ELSE 0 END) AS malformed_amr
            FROM sessions s WHERE {self._owned_by_scope('s', 'sessions')}"""
        row = self.conn.execute(text(query), self._params()).mappings().one()
        return SessionSummary(int(row["aal2_sessions"] or 0), int(row["malformed_amr"] or 0))

    def amr_entries(self) -> Iterator[AmrEntry]:
        """AMR entries of every session that could hold an AAL2 step, ordered by session."""
        if not (self.caps.has_sessions and self.caps.has("sessions", "authentication_methods")):
            return
        amr = self.d.amr_entries("s.authentication_methods")
        session_aal = "s.aal" if self.caps.has("sessions", "aal") else "NULL"
        mentions_aal2 = self.d.array_may_hold("s.authentication_methods", "aal", "aal2")
        query = f"""
            SELECT s.id AS session_id, {session_aal} AS session_aal, {amr.method} AS method,
                   {amr.aal} AS aal, {amr.completed_at} AS completed_at
            FROM sessions s {amr.from_clause}
            WHERE {self._owned_by_scope('s', 'sessions')} AND (LOWER({session_aal}) = 'aal2' OR {mentions_aal2})
            ORDER BY s.id"""
        result = self.conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(
            text(query), self._params())
        for row in result:
            yield AmrEntry(str(row[0]).lower(), row[1], row[2], row[3], row[4])
