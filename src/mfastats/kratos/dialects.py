"""Every SQL dialect difference mfastats knows about, named for what it means.

Kratos stores the same data differently per database (SPEC 2.1):

| trait                 | PostgreSQL / CockroachDB | MySQL / MariaDB                    | SQLite                       |
|-----------------------|--------------------------|------------------------------------|------------------------------|
| UUID columns          | `uuid`                   | `char(36)`, case-insensitive coll. | text, case-sensitive `=`     |
| JSON columns          | `jsonb`, always valid    | `json` / `longtext` + `json_valid` | `TEXT`, may be invalid       |
| unnest a JSON array   | `jsonb_array_elements`   | `JSON_TABLE`                       | `json_each`                  |
| timestamps            | `timestamp` (naive UTC)  | `datetime` (naive UTC)             | text in several layouts      |

Each JSON helper is guarded so that a malformed value yields NULL/false instead of an error: SQLite's
`json_extract` and PostgreSQL's `jsonb_array_elements` both raise on bad input, and one bad row must
never abort the whole query. Callers combine these fragments into set-based queries in `reader.py`;
nothing outside this module spells a dialect-specific function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

FieldKind = Literal["array", "string", "true", "null"]


@dataclass(frozen=True)
class ElementTest:
    """A condition on one element of a JSON array of objects.

    `object`: the element is an object (`field` unused); `true`: its `field` is JSON `true`;
    `false_null_or_absent`: the field is false, null or missing; `null_or_absent`: null or missing;
    `string`: any string; `nonempty_string`: a string other than "". Non-object elements never pass, so
    callers can count wrong-shaped elements as all elements minus the well-formed ones.
    """

    kind: Literal["object", "true", "false_null_or_absent", "null_or_absent", "string", "nonempty_string"]
    field: str = ""


@dataclass(frozen=True)
class AmrColumns:
    """How to unnest session AMR: a FROM fragment plus the three allow-listed fields (SPEC 2.1)."""

    from_clause: str
    method: str
    aal: str
    completed_at: str


_UUID_REGEX = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID_GLOB = "-".join("[0-9a-f]" * n for n in (8, 4, 4, 4, 12))


class KratosDialect:
    """Base: fragments common to every dialect. Subclasses fill in the JSON and type traits."""

    name = "generic"

    def uuid_key(self, column: str) -> str:
        """A UUID column in a form that compares equal across case (SPEC: compare case-insensitively)."""
        return column

    def timestamp(self, column: str) -> str:
        """A timestamp column in a form that compares correctly with `timestamp_param`."""
        return column

    def timestamp_param(self, name: str) -> str:
        return f":{name}"

    def bind_timestamp(self, moment: datetime) -> object:
        """The value to bind for a naive UTC `moment`."""
        return moment

    def lower(self, expression: str) -> str:
        return f"LOWER({expression})"

    def as_text(self, expression: str) -> str:
        """Any column (uuid, inet, jsonb) as text."""
        return expression

    def uuid_shaped(self, expression: str) -> str:
        """The text looks like a UUID (8-4-4-4-12 hex digits, any case)."""
        raise NotImplementedError

    def windows_table(self, bounds: list[tuple[datetime, datetime]], prefix: str = "w") -> tuple[str, dict[str, object]]:
        """A derived table `(window_index, window_start, window_end)` of literal bounds, and its parameters.

        Day boundaries are computed in Python (time zones, DST); the counting happens in SQL by joining
        rows to this table, so only one row per window comes back.
        """
        params: dict[str, object] = {}
        selects = []
        for index, (start, end) in enumerate(bounds):
            params[f"{prefix}s{index}"] = self.bind_timestamp(start)
            params[f"{prefix}e{index}"] = self.bind_timestamp(end)
            selects.append(f"SELECT {index} AS window_index, {self.timestamp_param(f'{prefix}s{index}')} AS window_start, "
                           f"{self.timestamp_param(f'{prefix}e{index}')} AS window_end")
        return "(" + " UNION ALL ".join(selects) + ")", params

    def window_bucket(self, expression: str, bounds: list[tuple[datetime, datetime]], prefix: str = "b", *,
                      end_inclusive: bool = False) -> tuple[str, dict[str, object]] | None:
        """A scalar expression: the index of the window `expression` falls in, else NULL; and its parameters.

        Windows are `[start, end)` (or `(start, end]` with `end_inclusive`), given in any order, and must
        not overlap (None otherwise: callers fall back to `windows_table`). The expression is a balanced
        tree of `CASE` comparisons, so each row costs about log2(windows) comparisons and is counted in the
        same scan that filters it: no join against a table of windows, which PostgreSQL and MariaDB can
        only run as a nested loop over every row and every window.
        """
        order = sorted(range(len(bounds)), key=lambda index: bounds[index][0])
        for before, after in zip(order, order[1:], strict=False):
            if bounds[after][0] < bounds[before][1]:
                return None
        params: dict[str, object] = {}
        for index, (start, end) in enumerate(bounds):
            params[f"{prefix}s{index}"] = self.bind_timestamp(start)
            params[f"{prefix}e{index}"] = self.bind_timestamp(end)
        after_start, before_end = (">", "<=") if end_inclusive else (">=", "<")

        def tree(low: int, high: int) -> str:  # windows order[low:high], high - low >= 1
            if high - low == 1:
                index = order[low]
                return (f"CASE WHEN {expression} {before_end} {self.timestamp_param(f'{prefix}e{index}')} "
                        f"THEN {index} END")
            middle = (low + high) // 2
            pivot = self.timestamp_param(f"{prefix}s{order[middle]}")
            return (f"CASE WHEN {expression} {after_start} {pivot} THEN {tree(middle, high)} "
                    f"ELSE {tree(low, middle)} END")

        if not bounds:
            return "NULL", params
        first = self.timestamp_param(f"{prefix}s{order[0]}")
        return f"(CASE WHEN {expression} {after_start} {first} THEN {tree(0, len(order))} END)", params

    # JSON traits, overridden per dialect.
    def json_is_object(self, column: str) -> str:
        raise NotImplementedError

    def json_is_array(self, column: str) -> str:
        raise NotImplementedError

    def json_field_is(self, column: str, key: str, kind: FieldKind) -> str:
        raise NotImplementedError

    def json_field_text(self, column: str, key: str) -> str:
        raise NotImplementedError

    def json_count(self, column: str, key: str, test: ElementTest | None = None) -> str:
        raise NotImplementedError


    def amr_entries(self, column: str) -> AmrColumns:
        raise NotImplementedError

    # Built from the traits above.
    def json_field_wrong_type(self, column: str, key: str, kind: FieldKind) -> str:
        """The key holds a value that is neither null nor of `kind`: a malformed config (SPEC 2.1)."""
        return (
            f"({self.json_is_object(column)} AND {self.json_field_has_value(column, key)} "
            f"AND NOT ({self.json_field_is(column, key, kind)}))"
        )

    def json_field_has_value(self, column: str, key: str) -> str:
        raise NotImplementedError


class PostgresDialect(KratosDialect):
    """PostgreSQL and CockroachDB: `jsonb` columns, native `uuid`, naive `timestamp`."""

    name = "postgresql"

    def _j(self, column: str) -> str:
        return f"CAST({column} AS jsonb)"

    def timestamp_param(self, name: str) -> str:
        return f"CAST(:{name} AS timestamp)"

    def json_is_object(self, column: str) -> str:
        return f"(jsonb_typeof({self._j(column)}) = 'object')"

    def json_is_array(self, column: str) -> str:
        return f"(jsonb_typeof({self._j(column)}) = 'array')"

    def json_field_is(self, column: str, key: str, kind: FieldKind) -> str:
        value = f"({self._j(column)} -> '{key}')"
        if kind == "true":
            return f"(jsonb_typeof({value}) = 'boolean' AND {value} = 'true'::jsonb)"
        return f"(jsonb_typeof({value}) = '{kind}')"

    def json_field_has_value(self, column: str, key: str) -> str:
        return f"(COALESCE(jsonb_typeof({self._j(column)} -> '{key}'), 'null') <> 'null')"

    def json_field_text(self, column: str, key: str) -> str:
        return f"(CASE WHEN {self.json_field_is(column, key, 'string')} THEN {self._j(column)} ->> '{key}' END)"

    def json_count(self, column: str, key: str, test: ElementTest | None = None) -> str:
        array = (f"CASE WHEN {self.json_field_is(column, key, 'array')} "
                 f"THEN {self._j(column)} -> '{key}' ELSE '[]'::jsonb END")
        where = f" WHERE {self._element(test)}" if test else ""
        return f"(SELECT COUNT(*) FROM jsonb_array_elements({array}) AS e(v){where})"

    def _element(self, test: ElementTest) -> str:
        value = f"(e.v -> '{test.field}')"
        is_object = "jsonb_typeof(e.v) = 'object'"
        null_or_absent = f"COALESCE(jsonb_typeof({value}), 'null') = 'null'"
        return "(" + is_object + {
            "object": "",
            "true": f" AND jsonb_typeof({value}) = 'boolean' AND {value} = 'true'::jsonb",
            "false_null_or_absent": f" AND ({null_or_absent} OR {value} = 'false'::jsonb)",
            "null_or_absent": f" AND {null_or_absent}",
            "string": f" AND jsonb_typeof({value}) = 'string'",
            "nonempty_string": f" AND jsonb_typeof({value}) = 'string' AND (e.v ->> '{test.field}') <> ''",
        }[test.kind] + ")"

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS text)"

    def uuid_shaped(self, expression: str) -> str:
        return f"({expression} ~* '{_UUID_REGEX}')"

    def amr_entries(self, column: str) -> AmrColumns:
        array = f"CASE WHEN {self.json_is_array(column)} THEN {self._j(column)} ELSE '[]'::jsonb END"

        def text(field: str) -> str:
            return (f"CASE WHEN jsonb_typeof(e.v) = 'object' AND jsonb_typeof(e.v -> '{field}') = 'string' "
                    f"THEN e.v ->> '{field}' END")

        return AmrColumns(f"CROSS JOIN LATERAL jsonb_array_elements({array}) AS e(v)",
                          text("method"), text("aal"), text("completed_at"))


class MySQLDialect(KratosDialect):
    """MySQL 8 and MariaDB: JSON as `json` or `longtext` with a `json_valid` check; UUIDs as `char(36)`.

    Kratos creates its tables with a case-insensitive collation, so `=` on UUID text already ignores
    case and keeps using the indexes. `JSON_TYPE` names are upper-case here.
    """

    name = "mysql"

    def _valid(self, column: str) -> str:
        return f"JSON_VALID({column})"

    def _type(self, value: str) -> str:
        return f"JSON_TYPE({value})"

    def json_is_object(self, column: str) -> str:
        return f"(CASE WHEN {self._valid(column)} THEN {self._type(column)} = 'OBJECT' ELSE 0 END)"

    def json_is_array(self, column: str) -> str:
        return f"(CASE WHEN {self._valid(column)} THEN {self._type(column)} = 'ARRAY' ELSE 0 END)"

    def _field(self, column: str, key: str) -> str:
        return f"JSON_EXTRACT({column}, '$.{key}')"

    def json_field_is(self, column: str, key: str, kind: FieldKind) -> str:
        value = self._field(column, key)
        if kind == "true":
            test = f"{self._type(value)} = 'BOOLEAN' AND JSON_UNQUOTE({value}) = 'true'"
        else:
            test = f"{self._type(value)} = '{kind.upper()}'"
        return f"(CASE WHEN {self._valid(column)} THEN {test} ELSE 0 END)"

    def json_field_has_value(self, column: str, key: str) -> str:
        value = self._field(column, key)
        return f"(CASE WHEN {self._valid(column)} THEN COALESCE({self._type(value)}, 'NULL') <> 'NULL' ELSE 0 END)"

    def json_field_text(self, column: str, key: str) -> str:
        return f"(CASE WHEN {self.json_field_is(column, key, 'string')} THEN JSON_UNQUOTE({self._field(column, key)}) END)"

    def json_count(self, column: str, key: str, test: ElementTest | None = None) -> str:
        array = (f"CASE WHEN {self.json_field_is(column, key, 'array')} "
                 f"THEN {self._field(column, key)} ELSE '[]' END")
        where = f" WHERE {self._element(test)}" if test else ""
        return f"(SELECT COUNT(*) FROM JSON_TABLE({array}, '$[*]' COLUMNS (v JSON PATH '$')) AS e{where})"

    def _element(self, test: ElementTest) -> str:
        value = f"JSON_EXTRACT(e.v, '$.{test.field}')"
        is_object = "JSON_TYPE(e.v) = 'OBJECT'"
        null_or_absent = f"COALESCE(JSON_TYPE({value}), 'NULL') = 'NULL'"
        return "(" + is_object + {
            "object": "",
            "true": f" AND JSON_TYPE({value}) = 'BOOLEAN' AND JSON_UNQUOTE({value}) = 'true'",
            "false_null_or_absent": f" AND ({null_or_absent} OR (JSON_TYPE({value}) = 'BOOLEAN' "
                                    f"AND JSON_UNQUOTE({value}) = 'false'))",
            "null_or_absent": f" AND {null_or_absent}",
            "string": f" AND JSON_TYPE({value}) = 'STRING'",
            "nonempty_string": f" AND JSON_TYPE({value}) = 'STRING' AND JSON_UNQUOTE({value}) <> ''",
        }[test.kind] + ")"

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS CHAR)"

    def uuid_shaped(self, expression: str) -> str:
        return f"({expression} REGEXP '{_UUID_REGEX}')"

    def amr_entries(self, column: str) -> AmrColumns:
        array = f"CASE WHEN {self.json_is_array(column)} THEN {column} ELSE '[]' END"
        columns = ("method VARCHAR(64) PATH '$.method', aal VARCHAR(16) PATH '$.aal', "
                   "completed_at VARCHAR(64) PATH '$.completed_at'")
        return AmrColumns(f"CROSS JOIN JSON_TABLE({array}, '$[*]' COLUMNS ({columns})) AS e",
                          "e.method", "e.aal", "e.completed_at")


class SQLiteDialect(KratosDialect):
    """SQLite: JSON is plain TEXT (invalid JSON can exist), UUIDs are case-sensitive text, and
    timestamps are text that `datetime()` normalises to `YYYY-MM-DD HH:MM:SS` UTC."""

    name = "sqlite"

    def uuid_key(self, column: str) -> str:
        return f"LOWER({column})"

    def timestamp(self, column: str) -> str:
        # strftime normalises every layout Kratos and the SDK write ('T' or ' ', 'Z' or an offset)
        # to UTC text with milliseconds, so text comparison is time comparison.
        return f"strftime('%Y-%m-%d %H:%M:%f', {column})"

    def bind_timestamp(self, moment: datetime) -> object:
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"

    def uuid_shaped(self, expression: str) -> str:
        return f"(LOWER({expression}) GLOB '{_UUID_GLOB}')"

    def _valid(self, column: str) -> str:
        return f"json_valid({column})"

    def json_is_object(self, column: str) -> str:
        return f"(CASE WHEN {self._valid(column)} THEN json_type({column}) = 'object' ELSE 0 END)"

    def json_is_array(self, column: str) -> str:
        return f"(CASE WHEN {self._valid(column)} THEN json_type({column}) = 'array' ELSE 0 END)"

    _KINDS = {"array": "'array'", "string": "'text'", "true": "'true'", "null": "'null'"}

    def json_field_is(self, column: str, key: str, kind: FieldKind) -> str:
        return (f"(CASE WHEN {self._valid(column)} THEN json_type({column}, '$.{key}') = {self._KINDS[kind]} "
                "ELSE 0 END)")

    def json_field_has_value(self, column: str, key: str) -> str:
        return (f"(CASE WHEN {self._valid(column)} THEN COALESCE(json_type({column}, '$.{key}'), 'null') "
                "<> 'null' ELSE 0 END)")

    def json_field_text(self, column: str, key: str) -> str:
        return (f"(CASE WHEN {self.json_field_is(column, key, 'string')} "
                f"THEN json_extract({column}, '$.{key}') END)")

    def json_count(self, column: str, key: str, test: ElementTest | None = None) -> str:
        array = (f"CASE WHEN {self.json_field_is(column, key, 'array')} "
                 f"THEN json_extract({column}, '$.{key}') ELSE '[]' END")
        where = f" WHERE {self._element(test)}" if test else ""
        return f"(SELECT COUNT(*) FROM json_each({array}) AS e{where})"

    def _element(self, test: ElementTest) -> str:
        value_type = f"json_type(e.value, '$.{test.field}')"
        is_object = "e.type = 'object'"
        return "(" + is_object + {
            "object": "",
            "true": f" AND {value_type} = 'true'",
            "false_null_or_absent": f" AND COALESCE({value_type}, 'null') IN ('null', 'false')",
            "null_or_absent": f" AND COALESCE({value_type}, 'null') = 'null'",
            "string": f" AND {value_type} = 'text'",
            "nonempty_string": f" AND {value_type} = 'text' AND json_extract(e.value, '$.{test.field}') <> ''",
        }[test.kind] + ")"

    def amr_entries(self, column: str) -> AmrColumns:
        array = f"CASE WHEN {self.json_is_array(column)} THEN {column} ELSE '[]' END"

        def text(field: str) -> str:
            return (f"CASE WHEN e.type = 'object' AND json_type(e.value, '$.{field}') = 'text' "
                    f"THEN json_extract(e.value, '$.{field}') END")

        return AmrColumns(f"CROSS JOIN json_each({array}) AS e",
                          text("method"), text("aal"), text("completed_at"))


def dialect_for(backend: str) -> KratosDialect:
    """The dialect traits for a SQLAlchemy backend name."""
    if backend in ("postgresql", "cockroachdb"):
        return PostgresDialect()
    if backend in ("mysql", "mariadb"):
        return MySQLDialect()
    if backend == "sqlite":
        return SQLiteDialect()
    raise ValueError(f"no Kratos dialect for {backend!r}")
