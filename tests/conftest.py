"""Database fixtures for the whole suite.

* ``kratos_db``: a fresh, empty database per test, parametrised over sqlite, postgresql and mariadb
  (a ``dbservers.KratosDb`` with ``.url``, ``.dialect``, ``.engine``, ``.name``).  Fill it with
  ``mfastats.demo.kratos_schema.write_kratos(kratos_db.engine, ...)``.
* ``shared_kratos_dir``: Path of ``shared/kratos`` (``$MFASTATS_SHARED_DIR`` overrides ``../shared``).
* ``kratos_testdata`` / ``kratos_testdata_url``: Kratos's own migration test data per dialect (SQLite
  file opened read-only; server databases loaded from the dumps with psql / mariadb).
* ``kratos_empty`` / ``kratos_empty_url``: the same for the empty real schema.
* ``fresh_db_factory``: call it with a dialect for extra databases in one test.

A server that does not answer skips its tests with a message, or fails them when ``CI=true``.
Select dialects with ``-m sqlite``, ``-m "not mariadb"`` and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

# tests/ has no __init__.py, so pytest (prepend import mode) puts it on sys.path: tests and
# benchmarks import the server helpers as plain ``dbservers``.
from dbservers import (
    DIALECTS,
    Dialect,
    KratosDb,
    ServerUnavailable,
    ci_mode,
    fresh_database,
    load_dump,
    shared_dir,
    sqlite_readonly_url,
)
from sqlalchemy import create_engine

_REFERENCE_FILES: dict[str, dict[Dialect, str]] = {
    "testdata": {"sqlite": "kratos-testdata.sqlite", "postgresql": "kratos-testdata.pg.sql",
                 "mariadb": "kratos-testdata.mysql.sql"},
    "empty": {"sqlite": "kratos-empty.sqlite", "postgresql": "kratos-schema.pg.sql",
              "mariadb": "kratos-schema.mysql.sql"},
}


def pytest_configure(config: pytest.Config) -> None:
    for dialect in DIALECTS:
        config.addinivalue_line("markers", f"{dialect}: test runs against a {dialect} database")


def unavailable(message: str) -> None:
    """Skip with ``message``, or fail when ``CI=true`` (CI must never silently skip a dialect)."""
    if ci_mode():
        pytest.fail(message, pytrace=False)
    pytest.skip(f"{message} (or set CI=true to make this a failure)")


def _dialect_params() -> list[object]:
    return [pytest.param(d, id=d, marks=getattr(pytest.mark, d)) for d in DIALECTS]


def _fresh(dialect: Dialect, tmp_path: Path) -> Iterator[KratosDb]:
    with ExitStack() as stack:
        try:
            db = stack.enter_context(fresh_database(dialect, tmp_path))
        except ServerUnavailable as exc:
            unavailable(str(exc))
            raise  # unreachable: unavailable() raises
        yield db


@pytest.fixture(params=_dialect_params())
def kratos_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KratosDb]:
    """A fresh empty database (no tables) on each dialect."""
    yield from _fresh(request.param, tmp_path)


@pytest.fixture
def fresh_db_factory(tmp_path: Path) -> Iterator[Callable[[Dialect], KratosDb]]:
    """Make extra fresh databases in one test; all are dropped at its end."""
    with ExitStack() as stack:
        def make(dialect: Dialect) -> KratosDb:
            try:
                return stack.enter_context(fresh_database(dialect, tmp_path))
            except ServerUnavailable as exc:
                unavailable(str(exc))
                raise
        yield make


@pytest.fixture(scope="session")
def shared_kratos_dir() -> Path:
    """``shared/kratos`` with the reference fixtures; never copy its files into the repository."""
    path = shared_dir() / "kratos"
    if not path.is_dir():
        unavailable(f"reference Kratos fixtures not found at {path}; set MFASTATS_SHARED_DIR to the "
                    "'shared' folder that contains kratos/")
    return path


def _reference_db(which: str, dialect: Dialect, folder: Path, tmp_path: Path) -> Iterator[KratosDb]:
    path = folder / _REFERENCE_FILES[which][dialect]
    if not path.is_file():
        unavailable(f"reference file {path} is missing")
    if dialect == "sqlite":
        url = sqlite_readonly_url(path)
        engine = create_engine(url)
        try:
            yield KratosDb(url=url, dialect="sqlite", engine=engine, name=str(path))
        finally:
            engine.dispose()
        return
    for db in _fresh(dialect, tmp_path):
        load_dump(db, path)
        yield db


@pytest.fixture(params=_dialect_params())
def kratos_testdata(
    request: pytest.FixtureRequest, shared_kratos_dir: Path, tmp_path: Path
) -> Iterator[KratosDb]:
    """Kratos's own migration test data (SPEC 7.1); the SQLite engine is read-only."""
    yield from _reference_db("testdata", request.param, shared_kratos_dir, tmp_path)


@pytest.fixture
def kratos_testdata_url(kratos_testdata: KratosDb) -> str:
    """SQLAlchemy URL of ``kratos_testdata`` (parametrised over the three dialects)."""
    return kratos_testdata.url


@pytest.fixture(params=_dialect_params())
def kratos_empty(
    request: pytest.FixtureRequest, shared_kratos_dir: Path, tmp_path: Path
) -> Iterator[KratosDb]:
    """The real, empty Kratos schema with the credential types a fresh migration inserts."""
    yield from _reference_db("empty", request.param, shared_kratos_dir, tmp_path)


@pytest.fixture
def kratos_empty_url(kratos_empty: KratosDb) -> str:
    """SQLAlchemy URL of ``kratos_empty``."""
    return kratos_empty.url
