"""Read-only, set-based queries on a domain's audit table.

Table and column names come from configuration, so they are checked against the real table (and
against an identifier pattern) before they are put into SQL. Rows with distinct ids are never merged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from mfastats.clock import as_naive_utc, parse_rfc3339
from mfastats.errors import SourceError, UserError
from mfastats.kratos.dialects import KratosDialect, dialect_for
from mfastats.settings import AuditSettings

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
DOCUMENTED_TABLE = "security_audit"


@dataclass(frozen=True)
class AuditTable:
    """Where the events are and how to read them."""

    name: str
    event_type: str
    identity_id: str
    created_at: str
    ip: str | None  # a SQL expression: the source_ip column or metadata.ip
    domain_filter: tuple[str, str] | None  # (column, value) for the shared documented table


@dataclass(frozen=True)
class FailureGroup:
    identity_id: str
    failures: int
    first_at: datetime
    last_at: datetime
    distinct_ips: int | None
    successes_after: int | None


def _check_identifier(name: str, what: str) -> str:
    if not _IDENTIFIER.match(name):
        raise UserError(f"audit {what} {name!r} is not a plain SQL identifier")
    return name


def resolve_table(conn: Connection, domain: str, settings: AuditSettings) -> AuditTable:
    """`NAME_security_audit_log` if present, else `security_audit` filtered by `domain = 'NAME'`."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    if settings.table:
        name = _check_identifier(settings.table, "table")
        if name not in tables:
            raise SourceError(f"audit table {name!r} does not exist")
    elif f"{domain}_security_audit_log" in tables:
        name = f"{domain}_security_audit_log"
    elif DOCUMENTED_TABLE in tables:
        name = DOCUMENTED_TABLE
    else:
        raise SourceError(f"no audit table: neither {domain}_security_audit_log nor {DOCUMENTED_TABLE} exists")
    present = {column["name"] for column in inspector.get_columns(name)}
    d = dialect_for(conn.engine.url.get_backend_name())

    def column(key: str, required: bool = True) -> str | None:
        chosen = settings.columns.get(key, key)
        if chosen not in present:
            if required:
                raise SourceError(f"audit table {name!r} has no column {chosen!r} (configure [domains.*.audit.columns])")
            return None
        return _check_identifier(chosen, "column")

    event_type, identity_id, created_at = column("event_type"), column("identity_id"), column("created_at")
    source_ip, metadata = column("source_ip", False), column("metadata", False)
    ip = d.as_text(source_ip) if source_ip else d.json_field_text(metadata, "ip") if metadata else None
    domain_filter = None
    if settings.domain_column or name == DOCUMENTED_TABLE:
        filter_column = _check_identifier(settings.domain_column or "domain", "domain column")
        if filter_column not in present:
            raise SourceError(f"audit table {name!r} has no column {filter_column!r} to filter the domain by")
        domain_filter = (filter_column, settings.domain_value or domain)
    return AuditTable(name, event_type, identity_id, created_at, ip, domain_filter)


def _aware(value: object) -> datetime | None:
    """Driver timestamps (datetime, naive = UTC, or SQLite text) as aware UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return parse_rfc3339(str(value))


class AuditReader:
    def __init__(self, conn: Connection, table: AuditTable) -> None:
        self.conn = conn
        self.t = table
        self.d: KratosDialect = dialect_for(conn.engine.url.get_backend_name())

    def _scope(self, alias: str = "") -> tuple[str, dict[str, object]]:
        if self.t.domain_filter:
            column, value = self.t.domain_filter
            return f"{alias}{column} = :audit_domain", {"audit_domain": value}
        return "1 = 1", {}

    def _ts(self) -> str:
        return self.d.timestamp(self.t.created_at)

    def event_totals(self, names: list[str], as_of: datetime) -> dict[str, int]:
        """How many rows of each event name exist up to `as_of` (0 = never recorded)."""
        scope, params = self._scope()
        placeholders = ", ".join(f":event{i}" for i in range(len(names)))
        params.update({f"event{i}": name for i, name in enumerate(names)})
        params["as_of"] = self.d.bind_timestamp(as_naive_utc(as_of))
        query = (f"SELECT {self.t.event_type}, COUNT(*) FROM {self.t.name} WHERE {scope} "
                 f"AND {self.t.event_type} IN ({placeholders}) AND {self._ts()} <= {self.d.timestamp_param('as_of')} "
                 f"GROUP BY {self.t.event_type}")
        found = {row[0]: int(row[1]) for row in self.conn.execute(text(query), params)}
        return {name: found.get(name, 0) for name in names}

    def any_event_between(self, start: datetime, end: datetime) -> int:
        """Rows of any event type in `(start, end]`."""
        scope, params = self._scope()
        params.update(start=self.d.bind_timestamp(as_naive_utc(start)), end=self.d.bind_timestamp(as_naive_utc(end)))
        query = (f"SELECT COUNT(*) FROM {self.t.name} WHERE {scope} AND {self._ts()} > {self.d.timestamp_param('start')} "
                 f"AND {self._ts()} <= {self.d.timestamp_param('end')}")
        return int(self.conn.execute(text(query), params).scalar() or 0)

    def timestamp_quality(self, as_of: datetime) -> tuple[int, int]:
        """Rows whose time is missing or unreadable, and rows dated after `as_of`: left out, but counted."""
        scope, params = self._scope()
        params["as_of"] = self.d.bind_timestamp(as_naive_utc(as_of))
        query = (f"SELECT SUM(CASE WHEN {self._ts()} IS NULL THEN 1 ELSE 0 END), "
                 f"SUM(CASE WHEN {self._ts()} > {self.d.timestamp_param('as_of')} THEN 1 ELSE 0 END) "
                 f"FROM {self.t.name} WHERE {scope}")
        missing, after = self.conn.execute(text(query), params).one()
        return int(missing or 0), int(after or 0)

    def earliest_event(self) -> datetime | None:
        scope, params = self._scope()
        query = f"SELECT MIN({self._ts()}) FROM {self.t.name} WHERE {scope}"
        return _aware(self.conn.execute(text(query), params).scalar())

    def counts_in_windows(self, event: str, bounds: list[tuple[datetime, datetime]], *, until: datetime,
                          end_inclusive: bool = False) -> list[int]:
        """Rows of `event` per window: `[start, end)` (report days) or `(start, end]` (24-hour windows).

        Rows after `until` (the as-of time) are left out even when the last window reaches past it.
        """
        return self.counts_in_windows_by_event([event], bounds, until=until, end_inclusive=end_inclusive)[event]

    def counts_in_windows_by_event(self, events: list[str], bounds: list[tuple[datetime, datetime]], *,
                                   until: datetime, end_inclusive: bool = False) -> dict[str, list[int]]:
        """Rows of each of `events` per window, in one range scan: every row is put in its window by a
        comparison tree (`window_bucket`), not by a join against a table of windows."""
        events = list(dict.fromkeys(events))
        if not bounds or not events:
            return {event: [0] * len(bounds) for event in events}
        d = self.d
        naive = [(as_naive_utc(s), as_naive_utc(e)) for s, e in bounds]
        scope, params = self._scope()
        placeholders = ", ".join(f":event{i}" for i in range(len(events)))
        params.update({f"event{i}": name for i, name in enumerate(events)})
        # Rows after `until` (the as-of time) are left out even when the last window reaches past it.
        last = min(as_naive_utc(until), max(e for _, e in naive))
        params.update(first=d.bind_timestamp(min(s for s, _ in naive)), last=d.bind_timestamp(last))
        bucket = d.window_bucket(self._ts(), naive, end_inclusive=end_inclusive)
        if bucket is not None:
            expression, bucket_params = bucket
            params.update(bucket_params)
            query = f"""
                SELECT a.ev, a.bkt, COUNT(*) FROM (
                  SELECT {self.t.event_type} AS ev, {expression} AS bkt FROM {self.t.name}
                  WHERE {scope} AND {self.t.event_type} IN ({placeholders})
                    AND {self._ts()} >= {d.timestamp_param('first')} AND {self._ts()} <= {d.timestamp_param('last')}) a
                WHERE a.bkt IS NOT NULL
                GROUP BY a.ev, a.bkt"""
        else:  # overlapping windows: join against a table of them
            windows, window_params = d.windows_table(naive)
            params.update(window_params)
            inside = ("a.at > w.window_start AND a.at <= w.window_end" if end_inclusive
                      else "a.at >= w.window_start AND a.at < w.window_end")
            query = f"""
                SELECT a.ev, w.window_index, COUNT(*) FROM {windows} w
                JOIN (SELECT {self.t.event_type} AS ev, {self._ts()} AS at FROM {self.t.name}
                      WHERE {scope} AND {self.t.event_type} IN ({placeholders})
                        AND {self._ts()} >= {d.timestamp_param('first')} AND {self._ts()} <= {d.timestamp_param('last')}) a
                  ON {inside}
                GROUP BY a.ev, w.window_index"""
        found = {event: [0] * len(bounds) for event in events}
        for event, index, count in self.conn.execute(text(query), params):
            found[event][int(index)] += int(count)
        return found

    def _identity_key(self) -> str:
        return self.d.lower(self.d.as_text(self.t.identity_id))

    def rows_without_identity(self, event: str, start: datetime, end: datetime) -> int:
        """Rows of `event` in `(start, end]` whose identity id is NULL or not a UUID."""
        scope, params = self._scope()
        params.update(event=event, start=self.d.bind_timestamp(as_naive_utc(start)),
                      end=self.d.bind_timestamp(as_naive_utc(end)))
        key = self._identity_key()
        query = (f"SELECT COUNT(*) FROM {self.t.name} WHERE {scope} AND {self.t.event_type} = :event "
                 f"AND {self._ts()} > {self.d.timestamp_param('start')} AND {self._ts()} <= {self.d.timestamp_param('end')} "
                 f"AND ({self.t.identity_id} IS NULL OR NOT {self.d.uuid_shaped(key)})")
        return int(self.conn.execute(text(query), params).scalar() or 0)

    def failing_identities(self, event: str, start: datetime, end: datetime, threshold: int,
                           success_event: str | None) -> list[FailureGroup]:
        """Identities with at least `threshold` rows of `event` in `(start, end]`, computed in SQL."""
        d = self.d
        scope, params = self._scope()
        params.update(event=event, threshold=threshold, start=d.bind_timestamp(as_naive_utc(start)),
                      end=d.bind_timestamp(as_naive_utc(end)))
        key = self._identity_key()
        ips = f"COUNT(DISTINCT {self.t.ip})" if self.t.ip else "NULL"
        groups = f"""
            SELECT {key} AS identity_key, COUNT(*) AS failures, MIN({self._ts()}) AS first_at,
                   MAX({self._ts()}) AS last_at, {ips} AS distinct_ips
            FROM {self.t.name}
            WHERE {scope} AND {self.t.event_type} = :event AND {self.t.identity_id} IS NOT NULL
              AND {d.uuid_shaped(key)}
              AND {self._ts()} > {d.timestamp_param('start')} AND {self._ts()} <= {d.timestamp_param('end')}
            GROUP BY {key}
            HAVING COUNT(*) >= :threshold"""
        if success_event:
            params["success"] = success_event
            successes = f"""(SELECT COUNT(*) FROM {self.t.name} s
                 WHERE {self._scope("s.")[0]}
                   AND s.{self.t.event_type} = :success
                   AND {d.lower(d.as_text('s.' + self.t.identity_id))} = g.identity_key
                   AND {d.timestamp('s.' + self.t.created_at)} > g.last_at
                   AND {d.timestamp('s.' + self.t.created_at)} <= {d.timestamp_param('end')})"""
        else:
            successes = "NULL"
        query = f"""SELECT g.identity_key, g.failures, g.first_at, g.last_at, g.distinct_ips, {successes} AS successes
                    FROM ({groups}) g ORDER BY g.failures DESC, g.identity_key"""
        result = []
        for row in self.conn.execute(text(query), params):
            result.append(FailureGroup(
                identity_id=str(row[0]).lower(), failures=int(row[1]), first_at=_aware(row[2]), last_at=_aware(row[3]),
                distinct_ips=None if row[4] is None else int(row[4]),
                successes_after=None if row[5] is None else int(row[5]),
            ))
        return result
