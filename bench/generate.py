#!/usr/bin/env python3
"""Fill a PostgreSQL database with a Kratos-shaped data set at scale, set-based (no per-row Python).

    .venv/bin/python bench/generate.py --identities 1000000 --audit-events 10000000 --db mfastats_bench

Creates (dropping it first) the database, the real Kratos tables (`kratos_metadata("postgresql")`),
then with `INSERT ... SELECT ... FROM generate_series` only:

* `identities` (97 % active, ~3 % inactive, a few with an unknown state; `available_aal` mostly right,
  some NULL, some stale),
* `identity_credentials` with a demo-like mix: password for ~97 %, oidc, ~25 % TOTP (a few with a
  wrong-shaped `totp_url`), ~8 % WebAuthn (second-factor keys, passwordless keys, both, empty lists, v0
  keys without `is_passwordless`), lookup_secret lists with used / unused codes (some exhausted), code
  v1 (addresses) and v0 (address_type), passkeys,
* `sessions`: `--sessions-per-identity` (2) per identity in the last 60 days, AMR with aal1 logins and
  aal2 steps for MFA users (at login and later), some legacy AMR rows,
* `ciam_security_audit_log` in the SDK shape (only the `(identifier, created_at)` index) with
  `--audit-events` (10,000,000) rows over 13 months, including the four seed events, failure clusters
  in the last 7 days, NULL and non-UUID identity ids,
* the seed page's own denormalised shape from the same data: `seed_identities(id, schema_id,
  credential_types text[])` and the view `security_audit(identity_id, event_type, created_at)`.

All dates are relative to now (UTC). `random()` is seeded (`setseed`), so a rerun gives the same mix.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mfastats.demo.kratos_schema import DEFAULT_NID, create_schema  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
AUDIT_TABLE = "ciam_security_audit_log"
ADVISED_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS {AUDIT_TABLE}_event_time ON {AUDIT_TABLE} (event_type, created_at)",
    f"CREATE INDEX IF NOT EXISTS {AUDIT_TABLE}_identity ON {AUDIT_TABLE} (identity_id, created_at)",
)
DROP_ADVISED_INDEXES = (
    f"DROP INDEX IF EXISTS {AUDIT_TABLE}_event_time",
    f"DROP INDEX IF EXISTS {AUDIT_TABLE}_identity",
)

NOW = "(now() AT TIME ZONE 'UTC')"

# One row per identity with every random draw the other tables derive from. Dropped at the end.
PLAN = f"""
CREATE UNLOGGED TABLE bench_plan AS
SELECT n,
       md5('identity' || n)::uuid AS id,
       {NOW} - random() * interval '900 days' AS created,
       random() AS r_state, random() AS r_first, random() AS r_totp, random() AS r_wa, random() AS r_wa_kind,
       random() AS r_lookup, random() AS r_lookup_used, random() AS r_code, random() AS r_passkey,
       random() AS r_bad, random() AS r_aal, random() AS r_enrolled
FROM generate_series(1, %(n)s) AS n
"""

# Flags as SQL over bench_plan (alias p).
TOTP = "p.r_totp < 0.25"
WEBAUTHN = "p.r_wa < 0.08"
LOOKUP = "(p.r_lookup < 0.06 OR (p.r_totp < 0.25 AND p.r_lookup < 0.30))"
CODE_V1 = "p.r_code < 0.04"
CODE_V0 = "p.r_code >= 0.04 AND p.r_code < 0.05"
PASSKEY = "p.r_passkey < 0.03"
PASSWORD = "p.r_first < 0.97"
OIDC = "p.r_first >= 0.95"
# r_wa_kind: < .55 second-factor keys, < .70 v0 key without is_passwordless, < .88 passwordless only,
# < .96 both kinds, else an empty list.
WA_SECOND = "(p.r_wa_kind < 0.70 OR (p.r_wa_kind >= 0.88 AND p.r_wa_kind < 0.96))"
# A few wrong-shaped configs: r_bad < 0.0005 on TOTP (totp_url a number), WebAuthn (credentials an object).
BAD = "p.r_bad < 0.0005"
MFA = f"(({TOTP} AND NOT {BAD}) OR ({WEBAUTHN} AND {WA_SECOND} AND NOT {BAD}))"


def _key(added: str, passwordless: str | None) -> str:
    fields = ("'id', md5(random()::text), 'public_key', md5(random()::text) || md5(random()::text), "
              "'attestation_type', 'none', 'authenticator', jsonb_build_object('aaguid', md5(random()::text), "
              "'sign_count', floor(random() * 400)::int, 'clone_warning', false), "
              "'display_name', 'YubiKey 5', 'added_at', to_char(" + added + ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    if passwordless is not None:
        fields += f", 'is_passwordless', {passwordless}"
    return f"jsonb_build_object({fields})"


def _credential(type_name: str, condition: str, config: str, created: str, version: str = "0",
                suffix: str = "") -> str:
    return f"""
INSERT INTO identity_credentials (id, config, identity_credential_type_id, identity_id, created_at, updated_at,
                                  nid, version)
SELECT md5('{type_name}{suffix}' || p.n)::uuid, {config}, t.id, p.id, {created}, {created}, '{DEFAULT_NID}', {version}
FROM bench_plan p CROSS JOIN (SELECT id FROM identity_credential_types WHERE name = '{type_name}') t
WHERE {condition}"""


ENROLLED = "(p.created + (p.r_enrolled * ({NOW} - p.created)))".replace("{NOW}", NOW)
LOOKUP_CODES = f"""(SELECT jsonb_agg(CASE
        WHEN k <= floor(p.r_lookup_used * 13) THEN jsonb_build_object('code', substr(md5(random()::text), 1, 8),
             'used_at', to_char({ENROLLED}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
        WHEN mod(k, 2) = 0 THEN jsonb_build_object('code', substr(md5(random()::text), 1, 8), 'used_at', NULL)
        ELSE jsonb_build_object('code', substr(md5(random()::text), 1, 8)) END)
     FROM generate_series(1, 12) AS k)"""

CREDENTIALS = [
    _credential("password", PASSWORD,
                "jsonb_build_object('hashed_password', '$argon2id$v=19$m=65536,t=3,p=4$' || md5(random()::text) "
                "|| '$' || md5(random()::text) || md5(random()::text))", "p.created"),
    _credential("oidc", OIDC,
                "jsonb_build_object('providers', jsonb_build_array(jsonb_build_object('subject', md5(p.n::text), "
                "'provider', 'google', 'initial_id_token', '', 'initial_access_token', '', "
                "'initial_refresh_token', '')))", "p.created"),
    _credential("totp", TOTP,
                f"CASE WHEN {BAD} THEN jsonb_build_object('totp_url', 12345) "
                "WHEN p.r_bad < 0.002 THEN jsonb_build_object('totp_url', '') "
                "ELSE jsonb_build_object('totp_url', 'otpauth://totp/Olympus:user' || p.n || "
                "'%40example.com?algorithm=SHA1&digits=6&issuer=Olympus&period=30&secret=' "
                "|| upper(substr(md5(random()::text), 1, 32))) END", ENROLLED),
    _credential("webauthn", WEBAUTHN,
                f"""CASE WHEN {BAD} THEN jsonb_build_object('credentials', jsonb_build_object('oops', 1))
                   WHEN p.r_wa_kind < 0.55 THEN jsonb_build_object('credentials',
                        jsonb_build_array({_key(ENROLLED, 'false')}), 'user_handle', md5(p.n::text))
                   WHEN p.r_wa_kind < 0.70 THEN jsonb_build_object('credentials',
                        jsonb_build_array({_key(ENROLLED, None)}), 'user_handle', md5(p.n::text))
                   WHEN p.r_wa_kind < 0.88 THEN jsonb_build_object('credentials',
                        jsonb_build_array({_key(ENROLLED, 'true')}), 'user_handle', md5(p.n::text))
                   WHEN p.r_wa_kind < 0.96 THEN jsonb_build_object('credentials',
                        jsonb_build_array({_key(ENROLLED, 'true')}, {_key(ENROLLED, 'false')}),
                        'user_handle', md5(p.n::text))
                   ELSE jsonb_build_object('credentials', '[]'::jsonb, 'user_handle', md5(p.n::text)) END""",
                ENROLLED, version="1"),
    _credential("lookup_secret", LOOKUP,
                f"CASE WHEN p.r_lookup_used > 0.97 THEN jsonb_build_object('recovery_codes', '[]'::jsonb) "
                f"ELSE jsonb_build_object('recovery_codes', {LOOKUP_CODES}) END", ENROLLED),
    _credential("code", CODE_V1,
                "CASE WHEN p.r_code < 0.002 THEN jsonb_build_object('addresses', '[]'::jsonb) "
                "ELSE jsonb_build_object('addresses', jsonb_build_array(jsonb_build_object('channel', 'email', "
                "'address', 'user' || p.n || '@example.com'))) END", ENROLLED, version="1"),
    _credential("code", CODE_V0, "jsonb_build_object('address_type', 'email', 'used_at', NULL)", ENROLLED,
                suffix="v0"),
    _credential("passkey", PASSKEY,
                f"jsonb_build_object('credentials', jsonb_build_array({_key(ENROLLED, 'true')}), "
                "'user_handle', md5(p.n::text))", ENROLLED),
]

IDENTITIES = f"""
INSERT INTO identities (id, schema_id, traits, created_at, updated_at, nid, state, state_changed_at,
                        metadata_public, metadata_admin, available_aal)
SELECT p.id,
       CASE WHEN mod(p.n, 1000) = 0 THEN 'admin' ELSE 'customer' END,
       jsonb_build_object('email', 'user' || p.n || '@example.com',
                          'name', jsonb_build_object('first', 'U', 'last', p.n::text)),
       p.created, p.created, '{DEFAULT_NID}',
       CASE WHEN p.r_state < 0.97 THEN 'active' WHEN p.r_state < 0.9995 THEN 'inactive'
            WHEN p.r_state < 0.9998 THEN 'ACTIVE' ELSE 'suspended' END,
       NULL, NULL, NULL,
       CASE WHEN p.r_aal < 0.10 THEN NULL
            WHEN p.r_aal < 0.12 THEN 'aal1'
            WHEN {MFA} OR ({LOOKUP} AND p.r_lookup_used <= 0.97) OR {CODE_V1} OR {CODE_V0} THEN 'aal2'
            ELSE 'aal1' END
FROM bench_plan p"""

# Sessions: authenticated in the last 60 days. MFA users step up in 60 % of sessions (70 % of those at
# login, within 5..200 s, the rest 10 min..2 days later); 0.5 % legacy AMR; 0.2 % aal2 without dated entries.
SESSIONS = f"""
INSERT INTO sessions (id, issued_at, expires_at, authenticated_at, identity_id, created_at, updated_at, token,
                      active, nid, logout_token, aal, authentication_methods)
SELECT md5('session' || s.n || '.' || s.k)::uuid, s.t1, s.t1 + interval '30 days', s.t1, s.id, s.t1, s.t1,
       substr(md5(random()::text), 1, 32), s.t1 + interval '30 days' > {NOW}, '{DEFAULT_NID}',
       substr(md5(random()::text), 1, 32),
       CASE WHEN s.kind IN ('step', 'undated') THEN 'aal2' ELSE 'aal1' END,
       CASE s.kind
         WHEN 'legacy' THEN '[{{"method": "v0.6_legacy_session"}}]'::jsonb
         WHEN 'undated' THEN '[{{"method": "password"}}, {{"method": "totp"}}]'::jsonb
         WHEN 'step' THEN jsonb_build_array(
              jsonb_build_object('method', 'password', 'aal', 'aal1',
                                 'completed_at', to_char(s.t1, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
              jsonb_build_object('method', s.factor, 'aal', 'aal2',
                                 'completed_at', to_char(s.t2, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
         ELSE jsonb_build_array(jsonb_build_object('method', 'password', 'aal', 'aal1',
                                'completed_at', to_char(s.t1, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
       END
FROM (
  SELECT x.n, x.k, x.id, x.t1,
         CASE WHEN x.r < 0.005 THEN 'legacy' WHEN x.r < 0.007 AND x.mfa THEN 'undated'
              WHEN x.r < 0.6 AND x.mfa THEN 'step' ELSE 'plain' END AS kind,
         x.factor,
         x.t1 + CASE WHEN x.r2 < 0.7 THEN (5 + x.r3 * 195) * interval '1 second'
                     ELSE (600 + x.r3 * 172200) * interval '1 second' END AS t2
  FROM (SELECT p.n, k, p.id, {NOW} - random() * interval '60 days' AS t1, random() AS r, random() AS r2,
               random() AS r3, {MFA} AS mfa,
               CASE WHEN {TOTP} AND NOT {BAD} THEN 'totp' ELSE 'webauthn' END AS factor
        FROM bench_plan p CROSS JOIN generate_series(1, %(per)s) AS k) x
) s"""

# Audit rows in id order with created_at rising over 13 months (as an append-only log is).
AUDIT = f"""
INSERT INTO {AUDIT_TABLE} (event_type, identifier, identity_id, admin_identity_id, metadata, created_at)
SELECT CASE WHEN e.r < 0.50 THEN 'auth.login_succeeded' WHEN e.r < 0.60 THEN 'auth.login_failed'
            WHEN e.r < 0.68 THEN 'session.revoked' WHEN e.r < 0.78 THEN 'identity.updated'
            WHEN e.r < 0.93 THEN 'auth.aal2_stepup_completed' WHEN e.r < 0.955 THEN 'mfa.challenge_failed'
            WHEN e.r < 0.975 THEN 'mfa.totp_enrolled' WHEN e.r < 0.985 THEN 'mfa.webauthn_enrolled'
            ELSE 'recovery.code_used' END,
       'user' || e.who || '@example.com',
       CASE WHEN e.r4 < 0.004 THEN NULL WHEN e.r4 < 0.005 THEN 'system' ELSE md5('identity' || e.who)::uuid::text END,
       CASE WHEN e.r4 > 0.999 THEN md5('identity' || (mod(e.who, 1000) + 1))::uuid::text END,
       jsonb_build_object('ip', '10.' || mod(e.who, 250) || '.' || floor(e.r2 * 250)::int || '.7',
                          'user_agent', 'Mozilla/5.0 bench'),
       (({NOW} - interval '395 days') + (e.n::float8 / %(events)s) * interval '395 days') AT TIME ZONE 'UTC'
FROM (SELECT n, random() AS r, random() AS r2, random() AS r4,
             1 + floor(random() * %(n)s)::int AS who
      FROM generate_series(1, %(events)s) AS n) e"""

# Repeated second-factor failures in the last 7 days: lost authenticators (one or two IPs) and a few
# identities attacked from many addresses.
FAILURE_CLUSTERS = f"""
INSERT INTO {AUDIT_TABLE} (event_type, identifier, identity_id, admin_identity_id, metadata, created_at)
SELECT 'mfa.challenge_failed', 'user' || c.who || '@example.com', md5('identity' || c.who)::uuid::text, NULL,
       jsonb_build_object('ip', CASE WHEN c.attack THEN '198.51.' || mod(f, 200) || '.' || mod(f, 7)
                                     ELSE '10.1.1.' || mod(f, 2) END),
       ({NOW} - random() * interval '6 days') AT TIME ZONE 'UTC'
FROM (SELECT 1 + floor(random() * %(n)s)::int AS who, g <= %(attacks)s AS attack
      FROM generate_series(1, %(clusters)s) AS g) c
CROSS JOIN LATERAL generate_series(1, CASE WHEN c.attack THEN 40 ELSE 3 + mod(c.who, 5) END) AS f"""

SEED_SHAPE = [
    "DROP TABLE IF EXISTS seed_identities",
    """CREATE TABLE seed_identities AS
       SELECT i.id, i.schema_id,
              COALESCE((SELECT array_agg(DISTINCT t.name::text) FROM identity_credentials c
                        JOIN identity_credential_types t ON t.id = c.identity_credential_type_id
                        WHERE c.identity_id = i.id), '{}'::text[]) AS credential_types
       FROM identities i""",
    "ALTER TABLE seed_identities ADD PRIMARY KEY (id)",
    f"""CREATE OR REPLACE VIEW security_audit AS
        SELECT identity_id, event_type, created_at FROM {AUDIT_TABLE}""",
]


def create_audit_table(cur: psycopg.Cursor, url: str) -> None:
    try:  # the audit writer of the demo package, if present: the exact SDK DDL
        from mfastats.audit.tables import create_audit_table as create
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            create(conn, shape="sdk", table=AUDIT_TABLE)
        engine.dispose()
        return
    except ImportError:
        pass
    cur.execute(f"""CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (
        id bigserial PRIMARY KEY, event_type text NOT NULL, identifier text, identity_id text,
        admin_identity_id text, metadata jsonb, created_at timestamptz NOT NULL DEFAULT now())""")
    cur.execute(f"CREATE INDEX IF NOT EXISTS {AUDIT_TABLE}_identifier_created_at_idx "
                f"ON {AUDIT_TABLE} (identifier, created_at)")


def generate(db: str, identities: int, audit_events: int, sessions_per_identity: int, advised: bool,
             server: str = SERVER) -> float:
    started = time.monotonic()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{db}"')
    url = f"{server}/{db}"
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    create_schema(engine, dialect="postgresql")
    engine.dispose()
    params = {"n": identities, "events": audit_events, "per": sessions_per_identity,
              "clusters": max(identities // 2000, 10), "attacks": 5}

    def step(what: str, sql: str) -> None:
        t0 = time.monotonic()
        cur.execute(sql, params if "%(" in sql else None)
        conn.commit()
        print(f"  {what:<28} {time.monotonic() - t0:7.1f} s", flush=True)

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET work_mem = '64MB'")
        cur.execute("SELECT setseed(0.4242)")
        step("plan", PLAN)
        # Load without secondary indexes, then build them once (the Kratos indexes from the metadata).
        cur.execute("SELECT indexdef, indexname FROM pg_indexes WHERE schemaname = 'public' "
                    "AND tablename IN ('identities', 'identity_credentials', 'sessions') AND indexname NOT LIKE '%pkey'")
        secondary = cur.fetchall()
        for _, name in secondary:
            cur.execute(f'DROP INDEX "{name}"')
        step("identities", IDENTITIES)
        for number, sql in enumerate(CREDENTIALS):
            step(f"credentials {number + 1}/{len(CREDENTIALS)}", sql)
        step("sessions", SESSIONS)
        for definition, _ in secondary:
            cur.execute(definition)
        conn.commit()
        create_audit_table(cur, url)
        conn.commit()
        cur.execute(f"DROP INDEX IF EXISTS {AUDIT_TABLE}_identifier_created_at_idx")
        step("audit log", AUDIT)
        step("audit failure clusters", FAILURE_CLUSTERS)
        step("audit identifier index", f"CREATE INDEX {AUDIT_TABLE}_identifier_created_at_idx "
                                       f"ON {AUDIT_TABLE} (identifier, created_at)")
        if advised:
            for sql in ADVISED_INDEXES:
                step("advised audit index", sql)
        for sql in SEED_SHAPE:
            cur.execute(sql)
        conn.commit()
        print(f"  {'seed shape':<28} done", flush=True)
        cur.execute("DROP TABLE bench_plan")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.monotonic()
        conn.execute("VACUUM ANALYZE")
        print(f"  {'vacuum analyze':<28} {time.monotonic() - t0:7.1f} s", flush=True)
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM identities), (SELECT count(*) FROM identity_credentials), "
            f"(SELECT count(*) FROM sessions), (SELECT count(*) FROM {AUDIT_TABLE}), "
            "pg_size_pretty(pg_database_size(current_database()))").fetchone()
    elapsed = time.monotonic() - started
    print(f"{db}: {counts[0]:,} identities, {counts[1]:,} credentials, {counts[2]:,} sessions, "
          f"{counts[3]:,} audit rows, {counts[4]} on disk; generated in {elapsed:.1f} s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identities", type=int, default=1_000_000)
    parser.add_argument("--audit-events", type=int, default=10_000_000)
    parser.add_argument("--sessions-per-identity", type=int, default=2)
    parser.add_argument("--db", default="mfastats_bench")
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server URL without a database")
    parser.add_argument("--advised-indexes", action="store_true",
                        help="also create the README's audit indexes (bench/run.py toggles them itself)")
    args = parser.parse_args()
    generate(args.db, args.identities, args.audit_events, args.sessions_per_identity, args.advised_indexes,
             args.server)


if __name__ == "__main__":
    main()
