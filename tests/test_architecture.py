"""The layout's promises (STYLE.md): metrics and alert rules are pure; only kratos/ and audit/ query
sources; the JSON document is the one model every output renders."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mfastats"
IO_LIBRARIES = ("sqlalchemy", "fastapi", "starlette", "click", "psycopg", "pymysql", "urllib", "uvicorn")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


PURE = sorted([*(SRC / "metrics").glob("*.py"), SRC / "alerts" / "rules.py", SRC / "alerts" / "check_plugin.py",
               SRC / "model.py", SRC / "rows.py"])


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(SRC)))
def test_pure_modules_do_no_io(path: Path) -> None:
    """Metrics and alert rules take data and `as_of` in and return dataclasses: no database, web or CLI."""
    offending = {m for m in imported_modules(path) if m.split(".")[0] in IO_LIBRARIES}
    offending |= {m for m in imported_modules(path) if m.startswith(("mfastats.kratos", "mfastats.audit",
                                                                       "mfastats.store", "mfastats.web"))}
    assert not offending, f"{path.name} imports {sorted(offending)}"
    assert "now(" not in path.read_text(), f"{path.name} reads the clock; time must come in as an argument"


def test_only_sources_name_sql_dialect_functions() -> None:
    """Every dialect-specific JSON function is spelled in kratos/dialects.py only."""
    spelled = ("jsonb_", "JSON_TABLE", "json_each", "JSON_EXTRACT", "json_extract")
    for path in SRC.rglob("*.py"):
        if path.name == "dialects.py" or "demo" in path.parts:
            continue
        text = path.read_text()
        assert not [word for word in spelled if word in text], f"{path.relative_to(SRC)} spells a dialect function"
