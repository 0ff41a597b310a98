"""Statements compiled once per dialect and run on the driver's own cursor.

The write path runs a handful of statements per view; through
`Connection.execute` each call costs more in SQLAlchemy (cache keys,
parameter processing, result wrapping) than in the database. A `Prepared`
statement is built and compiled once per dialect, converts its values with
the types' own bind and result processors, and runs with the DB-API
cursor's `execute` or `executemany` inside the connection's transaction
(its errors turned into SQLAlchemy's, as `Connection.execute` would).
"""

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement

from . import metrics


class _Compiled:
    __slots__ = ("sql", "names", "positional", "plan", "in_order", "fixed", "readers")

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        # In positional SQL a name may stand at several places: its value is converted once.
        self.names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        self.plan = [(name, _binder(compiled.binds[name].type, dialect)) for name in dict.fromkeys(self.names)]
        # Positional SQL naming each value once (most statements) takes its list in one pass.
        self.in_order = self.plan if self.positional and len(self.plan) == len(self.names) else None
        # Values written into the statement itself (a literal) rather than passed at run time.
        self.fixed = {name: bind.effective_value for name, bind in compiled.binds.items()
                      if bind.value is not None or bind.callable is not None}
        columns = getattr(statement, "returning_column_descriptions", None) or getattr(
            statement, "column_descriptions", None) or []
        self.readers = [column["type"].dialect_impl(dialect).result_processor(dialect, None) for column in columns]

    def values(self, params: Mapping[str, Any]):
        if self.fixed:
            params = {**self.fixed, **params}
        if self.in_order is not None:
            return [params[name] if bind is None else bind(params[name]) for name, bind in self.in_order]
        converted = {name: params[name] if bind is None else bind(params[name]) for name, bind in self.plan}
        return [converted[name] for name in self.names] if self.positional else converted

    def row(self, raw) -> tuple:
        return tuple(read(value) if read else value for read, value in zip(self.readers, raw))


def _binder(type_: sa.types.TypeEngine, dialect: Dialect) -> Callable[[Any], Any] | None:
    """Return the type's bind processor; a date's remembers its last few answers.

    A batch binds the same few days over and over (today, its month, the
    next day), and SQLite's processor formats each anew.
    """
    if isinstance(type_, sa.LargeBinary) and dialect.name == "sqlite":
        return None  # sqlite3 stores bytes as a BLOB itself; the processor only wraps them in a memoryview
    bind = type_.dialect_impl(dialect).bind_processor(dialect)
    if bind is not None and isinstance(type_, sa.Date):
        return functools.lru_cache(maxsize=16)(bind)
    return bind


class Prepared:
    """A statement made by `build(dialect_name)`, compiled on first use with each dialect."""

    def __init__(self, build: Callable[[str], ClauseElement]):
        self._build = build
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, connection: Connection) -> _Compiled:
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self._build(dialect.name), dialect)
        return compiled

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple]:
        """Run with one set of values and return the rows it returns, converted to Python values."""
        compiled = self._for(connection)
        values = compiled.values(params)
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, values)
            return [compiled.row(raw) for raw in cursor.fetchall()] if cursor.description else []
        except connection.dialect.loaded_dbapi.Error as error:
            raise _translated(error, connection, compiled.sql, values) from error
        finally:
            cursor.close()

    def first(self, connection: Connection, params: Mapping[str, Any]) -> tuple | None:
        """Run with one set of values and return the first row, or None."""
        rows = self.rows(connection, params)
        return rows[0] if rows else None

    def run_many(self, connection: Connection, many: Iterable[Mapping[str, Any]]) -> int:
        """Run once per set of values with the driver's executemany; return the rows changed in all."""
        many = list(many)
        if not many:
            return 0
        compiled = self._for(connection)
        values = [compiled.values(params) for params in many]
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.executemany(compiled.sql, values)
            return cursor.rowcount
        except connection.dialect.loaded_dbapi.Error as error:
            raise _translated(error, connection, compiled.sql, values) from error
        finally:
            cursor.close()


def _translated(error: Exception, connection: Connection, sql: str, values) -> sa.exc.DBAPIError:
    """Return the driver's error as SQLAlchemy's (OperationalError, IntegrityError, …), as elsewhere; count it."""
    translated = sa.exc.DBAPIError.instance(sql, values, error, connection.dialect.loaded_dbapi.Error)
    metrics.count_database_error(translated)  # the engine's error hook never sees the driver's cursor
    return translated
