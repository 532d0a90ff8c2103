"""Core statements compiled once per dialect and run on the driver's cursor.

On the statements every `POST /v1/posts` runs, SQLAlchemy's per-execution work (an execution
context, parameter processing, result wrapping) cost more CPU than SQLite spent running them
(bench/profiles). A `Prepared` statement is the same Core statement, compiled once per dialect
with SQLAlchemy's own bind and result processors, executed on the DBAPI cursor of the caller's
connection, inside the caller's transaction. Errors come out as SQLAlchemy's exceptions, with
parameters hidden, as from `Connection.execute`. Only the hot path uses it; everything else
goes through Core as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from crosspost.store.rows import Row

Processor = Callable[[Any], Any]


@dataclass
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # bind names, in the statement's order when positional
    binders: tuple[Processor | None, ...]  # one per name
    fixed: dict[str, Any]  # values the statement carries itself (literals, LIMIT)
    selected: tuple[sa.ColumnElement[Any], ...]  # result columns (SELECT or RETURNING)
    columns: tuple[str, ...]  # their keys
    # One per result column, set at the first fetch: some drivers' processors depend on the
    # type the cursor reports (psycopg's numerics). Two threads may both set it, alike.
    readers: tuple[Processor | None, ...] | None = None


class Prepared:
    """A Core statement whose bind names are `keys` (an INSERT's columns), compiled lazily once
    per dialect; `execute`, `execute_many`, `all`, `first` and `scalar` run it on `conn`'s
    cursor."""

    def __init__(self, statement: sa.sql.expression.Executable, keys: Sequence[str] = ()) -> None:
        self._statement = statement
        self._keys = list(keys)
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            with self._lock:
                found = self._compiled.setdefault(dialect.name, self._compile(dialect))
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=self._keys or None
        )
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("expanding IN lists are not supported: compare with each value")
        binds: Mapping[str, sa.BindParameter[Any]] = compiled.binds
        names = tuple(compiled.positiontup) if compiled.positional else tuple(binds)
        escaped = compiled.escaped_bind_names or {}
        if any(escaped.get(name, name) != name for name in names):
            raise ValueError(f"bind names that need escaping are not supported: {names}")
        # The RETURNING or SELECT list, in the order the cursor answers it.
        selected = tuple(getattr(self._statement, "exported_columns", ()))
        return _Compiled(
            sql=compiled.string,
            positional=compiled.positional,
            names=names,
            binders=tuple(_binder(binds[name].type, dialect) for name in names),
            fixed={n: b.effective_value for n, b in binds.items() if not b.required},
            selected=selected,
            columns=tuple(col.key for col in selected),
        )

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run the statement once; the rows it changed (unknown, -1, inside `pipelined`)."""
        compiled = self._for(conn.dialect)
        rowcount: int = _run(conn, compiled, _params(compiled, params), many=False, fetch=0)
        return rowcount

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row (the driver's executemany)."""
        if rows:
            compiled = self._for(conn.dialect)
            batch = [_params(compiled, row) for row in rows]
            _run(conn, compiled, batch, many=True, fetch=0)

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Row | None:
        """The first row the statement returns, as a dict, or None."""
        found = self.all(conn, params, limit=1)
        return found[0] if found else None

    def all(self, conn: Connection, params: Mapping[str, Any], *, limit: int = 0) -> list[Row]:
        """Every row the statement returns (the first `limit` if given), as dicts."""
        compiled = self._for(conn.dialect)
        raw = _run(conn, compiled, _params(compiled, params), many=False, fetch=limit or -1)
        columns, readers = compiled.columns, compiled.readers or ()
        return [
            {
                name: (value if reader is None else reader(value))
                for name, reader, value in zip(columns, readers, row, strict=True)
            }
            for row in raw
        ]

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row the statement returns, or None."""
        row = self.first(conn, params)
        return None if row is None else next(iter(row.values()))


def _binder(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor | None:
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _readers(
    selected: Sequence[sa.ColumnElement[Any]], description: Sequence[Any], dialect: Dialect
) -> tuple[Processor | None, ...]:
    if len(description) != len(selected):
        raise ValueError(f"the cursor answered {len(description)} columns for {len(selected)}")
    return tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, described[1])
        for column, described in zip(selected, description, strict=True)
    )


def _params(compiled: _Compiled, given: Mapping[str, Any]) -> Any:
    values = {**compiled.fixed, **given} if compiled.fixed else given
    processed = [
        # Processors see None too: a JSON column binds None as JSON null, as Core does.
        value if binder is None else binder(value)
        for binder, value in zip(compiled.binders, (values[n] for n in compiled.names), strict=True)
    ]
    return processed if compiled.positional else dict(zip(compiled.names, processed, strict=True))


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, send the block's statements without waiting for each answer (psycopg's
    pipeline mode): the block's writes cost one round trip, not one each. A statement whose
    rows are read (`all`, `first`, `scalar`) still waits for its answer, and a failure
    surfaces there or at the block's end. Only `Prepared` statements may run inside: Core
    reads a result's description before it has arrived. On SQLite, nothing changes.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    dbapi_conn = _dbapi(conn)
    try:
        with dbapi_conn.pipeline():
            yield
    except conn.dialect.loaded_dbapi.Error as error:
        raise _core_error(conn, "(pipeline)", error, dbapi_conn, None) from error


def _dbapi(conn: Connection) -> Any:
    dbapi_conn = conn.connection.dbapi_connection
    if dbapi_conn is None:
        raise sa.exc.InvalidRequestError("the connection is closed")
    return dbapi_conn


def _core_error(
    conn: Connection, sql: str, error: Any, dbapi_conn: Any, cursor: Any
) -> sa.exc.StatementError:
    """The exception Core would raise for the driver's `error` (parameters hidden); a lost
    connection is invalidated, as Core does, so the pool does not hand it out again."""
    if conn.dialect.is_disconnect(error, dbapi_conn, cursor):
        conn.invalidate(error)
    core: sa.exc.StatementError = sa.exc.DBAPIError.instance(
        sql, None, error, conn.dialect.loaded_dbapi.Error, hide_parameters=True,
        dialect=conn.dialect,
    )  # fmt: skip
    return core


def _run(conn: Connection, compiled: _Compiled, params: Any, *, many: bool, fetch: int) -> Any:
    """Execute on the DBAPI cursor; return up to `fetch` rows (every row if negative), or
    with `fetch` 0 the cursor's rowcount."""
    dbapi_conn = _dbapi(conn)
    cursor = dbapi_conn.cursor()
    try:
        if many:
            cursor.executemany(compiled.sql, params)
        else:
            cursor.execute(compiled.sql, params)
        if fetch == 0:
            return cursor.rowcount
        # Rows first: in a pipeline (see `pipelined`) fetching is what waits for the result,
        # and the description is empty until then.
        rows = cursor.fetchall() if fetch < 0 else cursor.fetchmany(fetch)
        if compiled.readers is None:
            compiled.readers = _readers(compiled.selected, cursor.description, conn.dialect)
        return rows
    except conn.dialect.loaded_dbapi.Error as error:
        raise _core_error(conn, compiled.sql, error, dbapi_conn, cursor) from error
    finally:
        cursor.close()
