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

    # JSON primitives: each dialect spells these few; everything below is built from them. ---------
    _TYPE_NAMES: dict[str, str] = {}  # JSON kind -> what the dialect's type function returns
    _EMPTY_ARRAY = "'[]'"
    _LATERAL = ""

    def _doc(self, column: str) -> str:
        """The column as a JSON document."""
        return column

    def _valid(self, column: str) -> str | None:
        """A test that the text is JSON, where the column type does not guarantee it."""
        return None

    def _type_at(self, doc: str, key: str | None = None) -> str:
        """The JSON type of `doc` (or of its top-level `key`), NULL when absent."""
        raise NotImplementedError

    def _value_at(self, doc: str, key: str) -> str:
        raise NotImplementedError

    def _text_at(self, doc: str, key: str) -> str:
        """A string member as SQL text (unquoted)."""
        raise NotImplementedError

    def _elements(self, array: str) -> tuple[str, str, str]:
        """FROM fragment unnesting `array`, the element as a document, and the element's own type."""
        raise NotImplementedError

    def _bool_at(self, doc: str, key: str, value: bool) -> str:
        return f"({self._type_at(doc, key)} = '{self._TYPE_NAMES['boolean']}' AND {self._text_at(doc, key)} = " \
               f"'{'true' if value else 'false'}')"

    # JSON helpers the readers use. ------------------------------------------------------------
    def _guard(self, column: str, predicate: str) -> str:
        valid = self._valid(column)
        return f"(CASE WHEN {valid} THEN {predicate} ELSE 0 END)" if valid else f"({predicate})"

    def _is(self, doc: str, key: str | None, kind: str) -> str:
        return f"{self._type_at(doc, key)} = '{self._TYPE_NAMES[kind]}'"

    def _absent_or_null(self, doc: str, key: str) -> str:
        null = self._TYPE_NAMES["null"]
        return f"COALESCE({self._type_at(doc, key)}, '{null}') = '{null}'"

    def json_is_object(self, column: str) -> str:
        return self._guard(column, self._is(self._doc(column), None, "object"))

    def json_is_array(self, column: str) -> str:
        return self._guard(column, self._is(self._doc(column), None, "array"))

    def json_field_is(self, column: str, key: str, kind: FieldKind) -> str:
        doc = self._doc(column)
        test = self._bool_at(doc, key, True) if kind == "true" else self._is(doc, key, kind)
        return self._guard(column, test)

    def json_field_has_value(self, column: str, key: str) -> str:
        return self._guard(column, f"NOT {self._absent_or_null(self._doc(column), key)}")

    def json_field_wrong_type(self, column: str, key: str, kind: FieldKind) -> str:
        """The key holds a value that is neither null nor of `kind`: a malformed config (SPEC 2.1)."""
        return (f"({self.json_is_object(column)} AND {self.json_field_has_value(column, key)} "
                f"AND NOT ({self.json_field_is(column, key, kind)}))")

    def json_field_text(self, column: str, key: str) -> str:
        return f"(CASE WHEN {self.json_field_is(column, key, 'string')} THEN {self._text_at(self._doc(column), key)} END)"

    def json_count(self, column: str, key: str, test: ElementTest | None = None) -> str:
        """Elements of the array at `key` (passing `test`); 0 when there is no such array."""
        array = (f"CASE WHEN {self.json_field_is(column, key, 'array')} "
                 f"THEN {self._value_at(self._doc(column), key)} ELSE {self._EMPTY_ARRAY} END")
        source, element, element_type = self._elements(array)
        where = f" WHERE {self._element(test, element, element_type)}" if test else ""
        return f"(SELECT COUNT(*) FROM {source}{where})"

    def _element(self, test: ElementTest, element: str, element_type: str) -> str:
        is_object = f"{element_type} = '{self._TYPE_NAMES['object']}'"
        field = test.field
        string = self._is(element, field, "string")
        condition = {
            "object": None,
            "true": self._bool_at(element, field, True),
            "false_null_or_absent": f"({self._absent_or_null(element, field)} OR {self._bool_at(element, field, False)})",
            "null_or_absent": self._absent_or_null(element, field),
            "string": string,
            "nonempty_string": f"{string} AND {self._text_at(element, field)} <> ''",
        }[test.kind]
        # The object test comes first: SQLite evaluates AND left to right and json_type() raises on an
        # element that is a bare string.
        return f"({is_object} AND {condition})" if condition else f"({is_object})"

    def transaction_lock(self, name: str) -> tuple[str | None, str | None]:
        """SQL to take (and, where it outlives the transaction, release) an exclusive named lock, so two
        writers of the same table cannot both decide that an event is new. None: the database file lock
        (SQLite) already serialises writers."""
        return None, None

    def array_may_hold(self, column: str, key: str, value: str) -> str:
        """A cheap prefilter: the JSON array in `column` may hold an object whose `key` is `value`
        (a text search here; exact containment where the dialect has it). Callers check the rows."""
        return f"{self.as_text(column)} LIKE '%{value}%'"

    def amr_entries(self, column: str) -> AmrColumns:
        """Unnest session AMR, keeping only `method`, `aal` and `completed_at` strings."""
        array = f"CASE WHEN {self.json_is_array(column)} THEN {self._doc(column)} ELSE {self._EMPTY_ARRAY} END"
        source, element, element_type = self._elements(array)
        is_object = f"{element_type} = '{self._TYPE_NAMES['object']}'"

        def text(field: str) -> str:
            return (f"CASE WHEN {is_object} AND {self._is(element, field, 'string')} "
                    f"THEN {self._text_at(element, field)} END")

        return AmrColumns(f"CROSS JOIN {self._LATERAL}{source}", text("method"), text("aal"), text("completed_at"))


class PostgresDialect(KratosDialect):
    """PostgreSQL and CockroachDB: `jsonb` columns (always valid JSON), native `uuid`, naive `timestamp`."""

    name = "postgresql"
    _TYPE_NAMES = {"object": "object", "array": "array", "string": "string", "null": "null", "boolean": "boolean"}
    _EMPTY_ARRAY = "'[]'::jsonb"
    _LATERAL = "LATERAL "

    def timestamp_param(self, name: str) -> str:
        return f"CAST(:{name} AS timestamp)"

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS text)"

    def uuid_shaped(self, expression: str) -> str:
        return f"({expression} ~* '{_UUID_REGEX}')"

    def _doc(self, column: str) -> str:
        return f"CAST({column} AS jsonb)"

    def _type_at(self, doc: str, key: str | None = None) -> str:
        return f"jsonb_typeof({doc})" if key is None else f"jsonb_typeof({doc} -> '{key}')"

    def _value_at(self, doc: str, key: str) -> str:
        return f"({doc} -> '{key}')"

    def _text_at(self, doc: str, key: str) -> str:
        return f"({doc} ->> '{key}')"

    def _elements(self, array: str) -> tuple[str, str, str]:
        return f"jsonb_array_elements({array}) AS e(v)", "e.v", "jsonb_typeof(e.v)"

    def transaction_lock(self, name: str) -> tuple[str | None, str | None]:
        return f"SELECT pg_advisory_xact_lock(hashtext('{name}'))", None  # released at commit

    def array_may_hold(self, column: str, key: str, value: str) -> str:
        # jsonb containment: 4x cheaper than rendering every document as text (2.0 s -> 0.5 s over 2M sessions)
        return f"({self._doc(column)} @> '[{{\"{key}\": \"{value}\"}}]'::jsonb)"


class MySQLDialect(KratosDialect):
    """MySQL 8 and MariaDB: JSON as `json` or `longtext` with a `json_valid` check; UUIDs as `char(36)`.

    Kratos creates its tables with a case-insensitive collation, so `=` on UUID text already ignores
    case and keeps using the indexes. `JSON_TYPE` names are upper-case here.
    """

    name = "mysql"
    _TYPE_NAMES = {"object": "OBJECT", "array": "ARRAY", "string": "STRING", "null": "NULL", "boolean": "BOOLEAN"}

    def as_text(self, expression: str) -> str:
        return f"CAST({expression} AS CHAR)"

    def uuid_shaped(self, expression: str) -> str:
        return f"({expression} REGEXP '{_UUID_REGEX}')"

    def _valid(self, column: str) -> str | None:
        return f"JSON_VALID({column})"

    def _type_at(self, doc: str, key: str | None = None) -> str:
        return f"JSON_TYPE({doc})" if key is None else f"JSON_TYPE({self._value_at(doc, key)})"

    def _value_at(self, doc: str, key: str) -> str:
        return f"JSON_EXTRACT({doc}, '$.{key}')"

    def _text_at(self, doc: str, key: str) -> str:
        return f"JSON_UNQUOTE({self._value_at(doc, key)})"

    def _elements(self, array: str) -> tuple[str, str, str]:
        return f"JSON_TABLE({array}, '$[*]' COLUMNS (v JSON PATH '$')) AS e", "e.v", "JSON_TYPE(e.v)"

    def transaction_lock(self, name: str) -> tuple[str | None, str | None]:
        return f"SELECT GET_LOCK('{name}', 60)", f"SELECT RELEASE_LOCK('{name}')"


class SQLiteDialect(KratosDialect):
    """SQLite: JSON is plain TEXT (invalid JSON can exist), UUIDs are case-sensitive text, and
    timestamps are text in several layouts that `strftime()` normalises to UTC."""

    name = "sqlite"
    # json_type() names booleans by value ('true' / 'false') and strings 'text'.
    _TYPE_NAMES = {"object": "object", "array": "array", "string": "text", "null": "null"}

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

    def _valid(self, column: str) -> str | None:
        return f"json_valid({column})"

    def _type_at(self, doc: str, key: str | None = None) -> str:
        return f"json_type({doc})" if key is None else f"json_type({doc}, '$.{key}')"

    def _value_at(self, doc: str, key: str) -> str:
        return f"json_extract({doc}, '$.{key}')"

    def _text_at(self, doc: str, key: str) -> str:
        return self._value_at(doc, key)

    def _bool_at(self, doc: str, key: str, value: bool) -> str:
        return f"({self._type_at(doc, key)} = '{'true' if value else 'false'}')"

    def _elements(self, array: str) -> tuple[str, str, str]:
        return f"json_each({array}) AS e", "e.value", "e.type"


def dialect_for(backend: str) -> KratosDialect:
    """The dialect traits for a SQLAlchemy backend name."""
    if backend in ("postgresql", "cockroachdb"):
        return PostgresDialect()
    if backend in ("mysql", "mariadb"):
        return MySQLDialect()
    if backend == "sqlite":
        return SQLiteDialect()
    raise ValueError(f"no Kratos dialect for {backend!r}")
