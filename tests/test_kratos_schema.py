"""The Kratos-shaped writer (mfastats.demo.kratos_schema) on SQLite, PostgreSQL and MariaDB.

Fixtures written by this module stand in for real Kratos databases in the whole suite, so these
tests check the two things that matter: the column types equal the real Kratos schema, and values
come back exactly as written (including the odd values Kratos databases really hold).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from dbservers import KratosDb
from sqlalchemy import exc, inspect, text
from sqlalchemy.engine import Connection

from mfastats.demo.kratos_schema import (
    DEFAULT_NID,
    KNOWN_CREDENTIAL_TYPES,
    OPTIONAL_COLUMNS,
    Credential,
    Identity,
    Session,
    create_schema,
    default_type_id,
    kratos_metadata,
    write_kratos,
)

I1, I2, I3 = (str(uuid.UUID(int=n)) for n in (0x11, 0x22, 0x33))
TOTP_CONFIG = {"totp_url": "otpauth://totp/Example:a@example.com?secret=JBSWY3DPEHPK3PXP"}


def _json_value(db: KratosDb, value: Any) -> Any:
    """PostgreSQL's driver decodes jsonb; MariaDB and SQLite return the text."""
    return value if db.dialect == "postgresql" else json.loads(value)


def test_rows_round_trip(kratos_db: KratosDb) -> None:
    webauthn = {"credentials": [{"id": "azE=", "is_passwordless": False, "display_name": "key"}]}
    dangling_type = str(uuid.UUID(int=0xDEAD))
    credentials = [
        Credential(I1, "password", {"hashed_password": "$2a$x"}, identifiers=("a@example.com",)),
        Credential(I1, "totp", TOTP_CONFIG, id="00000000-0000-0000-0000-0000000000a1"),
        Credential(I2, "webauthn", webauthn, version=0, identifiers=(("u2", "password"),)),
        Credential(I2, "sms_magic", {}),
        Credential(I3, "totp", TOTP_CONFIG, type_id=dangling_type),
    ]
    sessions = [
        Session(I1, aal="aal2", id="00000000-0000-0000-0000-0000000000b1"),
        Session(I2, active=False, amr=[{"method": "v0.6_legacy_session"}]),
    ]
    identities = [Identity(I1), Identity(I2, state="inactive", available_aal="aal2"), Identity(I3, nid=None)]
    type_map = write_kratos(kratos_db.engine, identities, credentials, sessions,
                            type_ids={"totp": "8071b37b-0d54-4c6f-8234-72cffb4ce784"})

    assert type_map["totp"] == "8071b37b-0d54-4c6f-8234-72cffb4ce784"
    assert type_map["password"] == default_type_id("password")
    with kratos_db.engine.connect() as conn:
        q = lambda sql: conn.execute(text(sql)).all()  # noqa: E731
        assert q("SELECT count(*) FROM identities") == [(3,)]
        assert sorted(r[0] for r in q("SELECT name FROM identity_credential_types")) == sorted(
            [*KNOWN_CREDENTIAL_TYPES, "sms_magic"])
        assert [str(r[0]).lower() for r in q("SELECT id FROM networks")] == [DEFAULT_NID]

        (config,) = q("SELECT config FROM identity_credentials"
                      " WHERE id = '00000000-0000-0000-0000-0000000000a1'")[0]
        assert _json_value(kratos_db, config) == TOTP_CONFIG

        # Join by type name, as the reader must: the dangling type id matches no row.
        rows = q("SELECT t.name, count(*) FROM identity_credentials c LEFT JOIN identity_credential_types t"
                 " ON t.id = c.identity_credential_type_id GROUP BY t.name")
        assert {name: n for name, n in rows} == {"password": 1, "totp": 1, "webauthn": 1, "sms_magic": 1,
                                                 None: 1}
        (version,) = q("SELECT version FROM identity_credentials c JOIN identity_credential_types t"
                       " ON t.id = c.identity_credential_type_id WHERE t.name = 'webauthn'")[0]
        assert version == 0

        # An identifier may carry a type other than its credential's (as in Kratos's own test data).
        rows = q("SELECT i.identifier, t.name FROM identity_credential_identifiers i"
                 " JOIN identity_credential_types t ON t.id = i.identity_credential_type_id ORDER BY 1")
        assert rows == [("a@example.com", "password"), ("u2", "password")]

        rows = q("SELECT state, available_aal, nid FROM identities ORDER BY id")
        assert [(s, a, n if n is None else str(n).lower()) for s, a, n in rows] == [
            ("active", None, DEFAULT_NID), ("inactive", "aal2", DEFAULT_NID), ("active", None, None)]

        rows = q("SELECT aal, active, authentication_methods, authenticated_at, expires_at FROM sessions"
                 " ORDER BY aal DESC")
        (aal, active, amr, authenticated_at, expires_at) = rows[0]
        assert (aal, bool(active)) == ("aal2", True)
        assert _json_value(kratos_db, amr) == [
            {"method": "password", "aal": "aal1", "completed_at": "2024-05-01T10:00:00Z"}]
        assert str(authenticated_at).startswith("2024-05-01 10:00:00")
        assert str(expires_at).startswith("2024-05-02 10:00:00")
        assert bool(int(rows[1][1])) is False
        assert _json_value(kratos_db, rows[1][2]) == [{"method": "v0.6_legacy_session"}]


def test_written_ids_keep_their_case_where_the_column_is_text(kratos_db: KratosDb) -> None:
    upper = I1.upper().replace("0", "A")
    write_kratos(kratos_db.engine, [Identity(upper.lower())], [Credential(upper, "totp", TOTP_CONFIG)])
    with kratos_db.engine.connect() as conn:
        stored = str(conn.execute(text("SELECT identity_id FROM identity_credentials")).scalar_one())
        joined = conn.execute(text("SELECT count(*) FROM identities i JOIN identity_credentials c"
                                   " ON c.identity_id = i.id")).scalar_one()
    if kratos_db.dialect == "postgresql":
        assert stored == upper.lower()  # uuid type normalises
        assert joined == 1
    else:
        assert stored == upper
        # utf8mb4_general_ci compares case-insensitively; SQLite's = does not (readers must lower()).
        assert joined == (1 if kratos_db.dialect == "mariadb" else 0)


def test_raw_text_values_are_written_as_given(kratos_db: KratosDb) -> None:
    bad_json = '[{"method":'
    if kratos_db.dialect == "sqlite":
        write_kratos(kratos_db.engine, [Identity(I1)], [Credential(I1, "totp", bad_json)],
                     [Session(I1, amr=bad_json, active="false")])
        with kratos_db.engine.connect() as conn:
            assert conn.execute(text("SELECT config FROM identity_credentials")).scalar_one() == bad_json
            row = conn.execute(text("SELECT active, typeof(active), authentication_methods"
                                    " FROM sessions")).one()
            assert tuple(row) == ("false", "text", bad_json)
    else:
        # jsonb and MariaDB's json_valid check reject invalid JSON, as they do for Kratos.
        with pytest.raises(exc.DBAPIError):
            write_kratos(kratos_db.engine, [Identity(I1)], [Credential(I1, "totp", bad_json)])
        write_kratos(kratos_db.engine, [Identity(I2)], [Credential(I2, "totp", '"not an object"')],
                     [Session(I2, active="false")])
        with kratos_db.engine.connect() as conn:
            config = conn.execute(text("SELECT config FROM identity_credentials")).scalar_one()
            assert _json_value(kratos_db, config) == "not an object"
            assert conn.execute(text("SELECT count(*) FROM identities")).scalar_one() == 1  # rolled back
            assert bool(conn.execute(text("SELECT active FROM sessions")).scalar_one()) is False


def test_optional_columns_can_be_left_out_and_writing_appends(kratos_db: KratosDb) -> None:
    write_kratos(kratos_db.engine, [Identity(I1, available_aal="aal1")],
                 [Credential(I1, "password", {"hashed_password": "x"})], [Session(I1)], omit=OPTIONAL_COLUMNS)
    write_kratos(kratos_db.engine, [Identity(I2)], omit=OPTIONAL_COLUMNS)
    insp = inspect(kratos_db.engine)
    for qualified in OPTIONAL_COLUMNS:
        table, column = qualified.split(".")
        assert column not in {c["name"] for c in insp.get_columns(table)}, qualified
    assert "config" in {c["name"] for c in insp.get_columns("identity_credentials")}
    with kratos_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM identities")).scalar_one() == 2
        assert conn.execute(text("SELECT count(*) FROM identity_credential_types")).scalar_one() == len(
            KNOWN_CREDENTIAL_TYPES)
    with pytest.raises(ValueError, match="cannot omit"):
        kratos_metadata("sqlite", {"identities.traits"})


def test_indexes_exist(kratos_db: KratosDb) -> None:
    with kratos_db.engine.begin() as conn:
        create_schema(conn)
    insp = inspect(kratos_db.engine)
    for table in ("identity_credentials", "sessions"):
        assert any(ix["column_names"] == ["identity_id"] for ix in insp.get_indexes(table)), table


# ---- The written schema equals the real Kratos schema, column by column --------------------------

def _columns(conn: Connection, dialect: str, table: str) -> dict[str, tuple[Any, ...]]:
    if dialect == "sqlite":
        rows = conn.execute(text(f"PRAGMA table_info({table})")).all()
        return {r[1]: (r[2], bool(r[3])) for r in rows}
    if dialect == "postgresql":
        rows = conn.execute(text(
            "SELECT column_name, data_type, character_maximum_length, is_nullable"
            " FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = :t"), {"t": table}).all()
        return {r[0]: tuple(r[1:]) for r in rows}
    rows = conn.execute(text(
        "SELECT column_name, column_type, is_nullable, collation_name FROM information_schema.columns"
        " WHERE table_schema = DATABASE() AND table_name = :t"), {"t": table}).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def _table_collation(conn: Connection, table: str) -> str:
    sql = ("SELECT table_collation FROM information_schema.tables"
           " WHERE table_schema = DATABASE() AND table_name = :t")
    return conn.execute(text(sql), {"t": table}).scalar_one()


def test_column_types_equal_the_real_kratos_schema(kratos_empty: KratosDb, fresh_db_factory: Any) -> None:
    ours = fresh_db_factory(kratos_empty.dialect)
    write_kratos(ours.engine)
    tables = kratos_metadata(kratos_empty.dialect).tables
    with kratos_empty.engine.connect() as real, ours.engine.connect() as mine:
        for name, table in tables.items():
            real_cols = _columns(real, kratos_empty.dialect, name)
            expected = {c: real_cols[c] for c in table.c.keys()}  # noqa: SIM118 (ColumnCollection)
            my_cols = _columns(mine, ours.dialect, name)
            assert my_cols == expected, name
            if ours.dialect == "mariadb":
                assert _table_collation(mine, name) == _table_collation(real, name) == "utf8mb4_general_ci"
        if ours.dialect == "mariadb":
            with pytest.raises(exc.DBAPIError):  # the json_valid check is there
                mine.execute(text(
                    "INSERT INTO identities (id, schema_id, traits, created_at, updated_at)"
                    " VALUES ('x', 'default', '{', '2024-01-01', '2024-01-01')"))


def test_reference_testdata_loads(kratos_testdata_url: str, kratos_testdata: KratosDb) -> None:
    """The loaders give Kratos's own test rows on every dialect (SPEC 7.1)."""
    with kratos_testdata.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM identities")).scalar_one() == 11
        assert conn.execute(text("SELECT count(*) FROM sessions")).scalar_one() == 6
        totp = conn.execute(text("SELECT id FROM identity_credential_types WHERE name = 'totp'")).scalar_one()
    assert str(totp).lower() == "8071b37b-0d54-4c6f-8234-72cffb4ce784"
    assert kratos_testdata_url == kratos_testdata.url
    if kratos_testdata.dialect == "sqlite":
        assert "mode=ro" in kratos_testdata_url
        with pytest.raises(exc.OperationalError), kratos_testdata.engine.begin() as conn:
            conn.execute(text("DELETE FROM sessions"))
