"""Write ingested events into an Olympus audit table, with the seed's event names, so the seed page's
own SQL (and the audit reader) works on them.

This is the one place mfastats writes outside its own store, and only when `ingest --audit DSN` says
so. The table is found like the reader finds it (`<domain>_security_audit_log`, else the shared
`security_audit` with a `domain` column) and is never created here. Idempotency: the documented
shape's `id` is a UUID derived from the event's key; the SDK shape keeps the key in `metadata`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from mfastats.audit.reader import resolve_table
from mfastats.audit.tables import AuditEvent, write_audit
from mfastats.clock import as_naive_utc
from mfastats.dsn import Dsn
from mfastats.ingest.normalise import Event
from mfastats.kratos.dialects import dialect_for
from mfastats.kratos.reader import connect
from mfastats.settings import AuditSettings

_KEYS = uuid.UUID("3b0f2a52-5c1e-4a43-9e55-2f1b8c7d9a10")


class AuditTableSink:
    def __init__(self, dsn: Dsn) -> None:
        self.dsn = dsn

    def write(self, domain: str, events: list[Event]) -> int:
        engine = connect(self.dsn, read_only=False)
        dialect = dialect_for(engine.url.get_backend_name())
        try:
            with engine.connect() as conn:
                with conn.begin():
                    table = resolve_table(conn, domain, AuditSettings(self.dsn))
                    acquire, release = dialect.transaction_lock(f"mfastats_ingest_{table.name}")
                    if acquire:  # held until commit (PostgreSQL) or the explicit release below (MySQL)
                        conn.execute(text(acquire))
                    shape = "documented" if table.domain_filter else "sdk"
                    known = self._existing(conn, table.name, shape, events)
                    fresh = [e for e in events if e.dedupe_key not in known]
                    rows = [AuditEvent(e.event_type, e.created_at, e.identity_id, e.source_ip, domain=domain,
                                       identifier=None, user_agent=None,
                                       id=str(uuid.uuid5(_KEYS, e.dedupe_key)) if shape == "documented" else None,
                                       metadata={"method": e.method, "dedupe_key": e.dedupe_key, "source": "mfastats"})
                            for e in fresh]
                    if rows:
                        write_audit(conn, rows, shape=shape, domain=domain, table=table.name, create=False)
                if release:  # after the commit, so the next writer sees these rows
                    conn.execute(text(release))
                    conn.commit()
        finally:
            engine.dispose()
        return len(fresh)

    @staticmethod
    def _existing(conn: Connection, table: str, shape: str, events: list[Event]) -> set[str]:
        d = dialect_for(conn.engine.url.get_backend_name())
        if shape == "documented":
            ids = {str(uuid.uuid5(_KEYS, e.dedupe_key)): e.dedupe_key for e in events}
            wanted = ", ".join(f":id{i}" for i in range(len(ids)))
            query = f"SELECT {d.lower(d.as_text('id'))} FROM {table} WHERE {d.lower(d.as_text('id'))} IN ({wanted})"
            found = conn.execute(text(query), {f"id{i}": key for i, key in enumerate(ids)})
            return {ids[str(row[0])] for row in found}
        # SDK shape: look only at rows of the batch's time range (the advised (event_type, created_at) index)
        start = as_naive_utc(min(e.created_at for e in events)) - timedelta(seconds=1)
        end = as_naive_utc(max(e.created_at for e in events)) + timedelta(seconds=1)
        ts = d.timestamp("created_at")
        query = (f"SELECT {d.json_field_text('metadata', 'dedupe_key')} FROM {table} "
                 f"WHERE {ts} >= {d.timestamp_param('start')} AND {ts} <= {d.timestamp_param('end')}")
        found = conn.execute(text(query), {"start": d.bind_timestamp(start), "end": d.bind_timestamp(end)})
        return {row[0] for row in found if row[0]}
