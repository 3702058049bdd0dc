"""Throw-away databases on the local test servers, and loaders for the reference Kratos dumps.

One place knows where the servers are and how to create, fill and drop a database on each dialect,
so fixtures and benchmarks share it.  Servers (see shared/TOOLING.md): PostgreSQL on 127.0.0.1:5432
(trust auth, user ``postgres``) and MariaDB on 127.0.0.1:3306 (``root``, no password).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

Dialect = Literal["sqlite", "postgresql", "mariadb"]
DIALECTS: tuple[Dialect, ...] = ("sqlite", "postgresql", "mariadb")

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
MARIADB_HOST, MARIADB_PORT, MARIADB_USER = "127.0.0.1", 3306, "root"

HOW_TO_RUN: dict[Dialect, str] = {
    "sqlite": "",
    "postgresql": f"start PostgreSQL on {PG_HOST}:{PG_PORT} with trust auth for user {PG_USER}",
    "mariadb": f"start MariaDB on {MARIADB_HOST}:{MARIADB_PORT} with user {MARIADB_USER} and no password",
}

REPO_ROOT = Path(__file__).resolve().parent.parent


class ServerUnavailable(RuntimeError):
    """The database server of a dialect cannot be reached; the message says how to start it."""


def ci_mode() -> bool:
    """Under CI a missing server or fixture folder is a failure, not a skip."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def shared_dir() -> Path:
    """The ``shared`` folder: ``$MFASTATS_SHARED_DIR`` or ``<repo root>/../shared``."""
    env = os.environ.get("MFASTATS_SHARED_DIR")
    return Path(env).expanduser().resolve() if env else (REPO_ROOT.parent / "shared").resolve()


def server_url(dialect: Dialect, database: str) -> str:
    """SQLAlchemy URL of ``database`` on the local test server of ``dialect``."""
    if dialect == "postgresql":
        return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
    if dialect == "mariadb":
        return f"mysql+pymysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{database}?charset=utf8mb4"
    raise ValueError(f"{dialect!r} has no server")


def _admin_engine(dialect: Dialect) -> Engine:
    admin_db = "postgres" if dialect == "postgresql" else ""
    return create_engine(server_url(dialect, admin_db), isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": 3})


_reachable: dict[Dialect, str | None] = {}


def check_server(dialect: Dialect) -> None:
    """Raise ``ServerUnavailable`` when the server does not answer (result cached per process)."""
    if dialect == "sqlite":
        return
    if dialect not in _reachable:
        engine = _admin_engine(dialect)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            _reachable[dialect] = None
        except Exception as exc:  # any driver error means "not usable for tests"
            _reachable[dialect] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        finally:
            engine.dispose()
    error = _reachable[dialect]
    if error is not None:
        raise ServerUnavailable(f"{dialect} server not reachable ({error}); {HOW_TO_RUN[dialect]}")


@dataclass(frozen=True)
class KratosDb:
    """A database for one test: ``url`` to give to mfastats, ``engine`` for writing fixtures."""

    url: str
    dialect: Dialect
    engine: Engine
    name: str  # database name on a server, file path on SQLite


@contextmanager
def fresh_database(dialect: Dialect, tmp_dir: Path, *, prefix: str = "mfastats_t") -> Iterator[KratosDb]:
    """Create an empty database, yield it, then drop it (servers) or leave the file (SQLite, tmp_dir)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if dialect == "sqlite":
        path = tmp_dir / f"{name}.sqlite"
        url = f"sqlite:///{path}"
        engine = create_engine(url)
        try:
            yield KratosDb(url=url, dialect=dialect, engine=engine, name=str(path))
        finally:
            engine.dispose()
        return
    check_server(dialect)
    admin = _admin_engine(dialect)
    try:
        with admin.connect() as conn:
            if dialect == "postgresql":
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(
                    f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"))
        url = server_url(dialect, name)
        engine = create_engine(url)
        try:
            yield KratosDb(url=url, dialect=dialect, engine=engine, name=name)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                if dialect == "postgresql":
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                else:
                    conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        admin.dispose()


def load_pg_dump(dbname: str, path: Path) -> None:
    """Load a pg_dump file with psql (the dumps use ``\\restrict`` and ``COPY ... FROM stdin``)."""
    cmd = ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", dbname,
           "-v", "ON_ERROR_STOP=1", "-q", "-f", str(path)]
    _run(cmd, stdin_path=None)


def load_mysql_dump(dbname: str, path: Path) -> None:
    """Load a mysqldump/mariadb-dump file with the ``mariadb`` client."""
    cmd = ["mariadb", "-h", MARIADB_HOST, "-P", str(MARIADB_PORT), f"-u{MARIADB_USER}", dbname]
    _run(cmd, stdin_path=path)


def load_dump(db: KratosDb, path: Path) -> None:
    """Load ``path`` into the server database ``db`` with the client of its dialect."""
    if db.dialect == "postgresql":
        load_pg_dump(db.name, path)
    elif db.dialect == "mariadb":
        load_mysql_dump(db.name, path)
    else:
        raise ValueError("SQLite reference files are opened read-only, not loaded")


def _run(cmd: list[str], stdin_path: Path | None) -> None:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    if stdin_path is None:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    else:
        with open(stdin_path, "rb") as stdin:
            proc = subprocess.run(cmd, stdin=stdin, capture_output=True, env=env, timeout=120)
    if proc.returncode != 0:
        stderr = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}: {stderr.strip()}")


def sqlite_readonly_url(path: Path) -> str:
    """URL that opens an SQLite file read-only, so reference files can never be modified."""
    return f"sqlite:///file:{path}?mode=ro&uri=true"
