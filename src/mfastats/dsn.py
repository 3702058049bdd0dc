"""Database URLs: parsing, driver defaults, read-only SQLite, and password masking.

A DSN is parsed once into a `Dsn`; its `str()` and `repr()` never contain the password, so it can be
logged, printed and put in error messages safely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from mfastats.errors import UserError

# Bare schemes get the drivers mfastats installs (psycopg 3, PyMySQL), not SQLAlchemy's defaults.
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "cockroachdb": "cockroachdb+psycopg",
}


@dataclass(frozen=True)
class Dsn:
    """A parsed SQLAlchemy URL whose text form hides the password."""

    url: URL = field(repr=False)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def __str__(self) -> str:
        shown = self.url.render_as_string(hide_password=True)
        return _mask_query_secrets(shown) if self.url.query else shown

    def __repr__(self) -> str:
        return f"Dsn({self})"


def parse_dsn(text: str, *, what: str, must_exist: bool = True, writable: bool = False) -> Dsn:
    """Parse a DSN given for `what` (e.g. "--kratos ciam"). SQLite files must exist: we never create one."""
    raw = text.strip()
    if raw and "://" not in raw and raw.endswith((".sqlite", ".sqlite3", ".db")):
        raw = f"sqlite:///{raw}"
    scheme, sep, rest = raw.partition("://")
    if not sep:
        raise UserError(
            f"{what}: {_mask(raw)!r} is not a database URL; use postgresql://user@host/db, "
            "mysql://user@host/db or sqlite:///path/to/kratos.sqlite"
        )
    raw = f"{_DEFAULT_DRIVERS.get(scheme.lower(), scheme)}://{rest}"
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise UserError(f"{what}: cannot parse database URL {_mask(raw)!r}: {exc}") from None
    if url.get_backend_name() == "sqlite":
        url = _sqlite_file(url, what=what, must_exist=must_exist, writable=writable)
    elif url.get_backend_name() not in ("postgresql", "mysql", "mariadb", "cockroachdb"):
        raise UserError(
            f"{what}: unsupported database {url.get_backend_name()!r}; "
            "Kratos runs on PostgreSQL, CockroachDB, MySQL/MariaDB or SQLite"
        )
    return Dsn(url)


def _sqlite_file(url: URL, *, what: str, must_exist: bool, writable: bool) -> URL:
    """An existing SQLite file, opened read-only unless `writable` (an ingest target, never Kratos)."""
    database = url.database or ""
    if database.startswith("file:"):
        path = Path(database[len("file:"):].split("?", 1)[0])
    elif database in ("", ":memory:"):
        raise UserError(f"{what}: an in-memory SQLite database holds no Kratos data; give a file path")
    else:
        path = Path(database)
    if must_exist and not path.is_file():
        raise UserError(f"{what}: SQLite file {str(path)!r} does not exist (mfastats never creates one)")
    if writable:
        return URL.create("sqlite", database=str(path.resolve()))
    return URL.create("sqlite", database=f"file:{path.resolve()}", query={"mode": "ro", "uri": "true"})


_SECRET_KEYS = r"(?:password|passwd|pwd|sslpassword|secret|token|api_key)"


def _mask_query_secrets(text: str) -> str:
    """Hide `password=...`-style values: in a URL query (`?password=x&...`) or a libpq key/value DSN."""
    return re.sub(rf"(?i)\b({_SECRET_KEYS}\s*=\s*)('[^']*'|[^&\s]*)", r"\1***", text)


def _mask(text: str) -> str:
    """Hide a password in a string that could not be parsed as a URL."""
    text = _mask_query_secrets(text)
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return text
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else text
