"""Database set-up: SQLite tuning, write transactions, dialect-aware inserts, tables."""

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from . import models, wal  # noqa: F401  (models registers the tables on the metadata)
from .extensions import db

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Any fixed number: every process that creates tables on PostgreSQL takes this lock.
_SCHEMA_LOCK_KEY = 0x56494557
# One writer lock per SQLite database in this process (by URL): see write_transaction.
_sqlite_writers: dict[str, threading.Lock] = {}


def init_app(app: Flask) -> None:
    """Attach Flask-SQLAlchemy, tune the engine, and create missing tables."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("pool_pre_ping", True)
    db.init_app(app)
    app.teardown_appcontext_funcs.remove(db._teardown_session)
    app.teardown_appcontext(_remove_opened_session)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine, app.config["SQLITE_SYNCHRONOUS"])
        create_tables()
        # Start with an empty pool: a server that forks after building the
        # app (gunicorn --preload) must not hand one connection to two workers.
        db.engine.dispose()


def _remove_opened_session(_error: BaseException | None) -> None:
    """End the request's ORM session, as Flask-SQLAlchemy does, when one was opened at all.

    The app reads and writes through Core connections (read_transaction,
    write_transaction), so no request opens one; Flask-SQLAlchemy's own
    teardown looked the request up three times to find that out.
    """
    if db.session.registry.registry:  # the sessions open in any context: none, on every request today
        db.session.remove()


def _tune_sqlite(engine: Engine, synchronous: str) -> None:
    """Make SQLite safe for many threads and processes on one file.

    WAL lets readers run beside a writer; the busy timeout makes writers
    queue instead of failing; a write transaction starts with BEGIN
    IMMEDIATE, taking the write lock up front, so it can never deadlock
    upgrading a read lock. The driver's own transaction handling is off so
    that the BEGIN is ours.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        # NORMAL keeps every commit through a process crash; FULL through power loss too.
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Checkpoints run beside the writers (wal.py); a commit does one only should those fall behind.
        cursor.execute(f"PRAGMA wal_autocheckpoint = {wal.FALLBACK_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        immediate = connection.get_execution_options().get("viewtally_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _switch_to_wal(cursor) -> None:
    """Put the file in WAL mode, waiting out other processes doing the same.

    On a new file that several workers open at once, SQLite answers
    "database is locked" to all but one at once, without its busy handler,
    so the wait is here: short random pauses, up to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


@contextmanager
def write_transaction() -> Iterator[Connection]:
    """Yield a connection inside one write transaction; commit, or roll back on error.

    On SQLite the threads of one process take turns on a lock first: they
    queue here, in order, rather than in SQLite's busy handler, which sleeps
    in growing steps and made the slowest writer wait ~0.7 s. BEGIN
    IMMEDIATE and the busy timeout still order this process against others.
    After the commit, the WAL may be copied into the file (see wal.py).
    """
    with db.engine.connect() as connection:
        connection.execution_options(viewtally_write=True)
        with _writer_lock(connection), connection.begin():
            yield connection
        if connection.dialect.name == "sqlite" and connection.engine.url.database not in (None, "", ":memory:"):
            wal.after_commit(connection.engine.url.database)


def _writer_lock(connection: Connection):
    """Return this process's writer lock for the connection's SQLite file, or a no-op on other engines."""
    if connection.dialect.name != "sqlite":
        return nullcontext()
    path = connection.engine.url.database  # one lock per file, whichever engine opened it
    return _held(_sqlite_writers.get(path) or _sqlite_writers.setdefault(path, threading.Lock()))


@contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    """Hold `lock`; waiting longer than the busy timeout fails as SQLite's own wait would."""
    if not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
    try:
        yield
    finally:
        lock.release()


@contextmanager
def read_transaction(one_snapshot: bool = False) -> Iterator[Connection]:
    """Yield a connection for reads that ends its transaction on exit.

    Short read transactions see every commit made before they begin (a
    long-lived session would keep reading an old SQLite snapshot). A SQLite
    read transaction reads one snapshot throughout; on PostgreSQL each
    statement sees the commits made before it, unless `one_snapshot` asks
    for REPEATABLE READ, for reads that must agree with each other.
    """
    with db.engine.connect() as connection:
        if one_snapshot and connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        yield connection


def insert(connection: Connection, table):
    """Return an INSERT for `table` that knows ON CONFLICT on this connection's dialect."""
    return dialect_insert(connection.dialect.name, table)


def dialect_insert(dialect_name: str, table):
    """Return an INSERT for `table` that knows ON CONFLICT on the dialect of this name."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table)


def create_tables() -> None:
    """Create missing tables; safe when several workers start at once.

    The check and the CREATE run in one write transaction (BEGIN IMMEDIATE
    on SQLite, an advisory lock on PostgreSQL), so a second worker waits and
    then finds the tables there.
    """
    with write_transaction() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        db.metadata.create_all(connection)
        _add_missing_columns(connection)
        from .migrations import upgrade; upgrade(connection)  # noqa: E702  (imported here: it imports this module)


def _add_missing_columns(connection: Connection) -> None:
    """Add columns that a newer release added to an existing table (each has a server default).

    create_all creates missing tables but never alters one; a database made
    by an earlier release gains its new counters here, at 0.
    """
    inspector = sa.inspect(connection)
    for table in db.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=connection.dialect)
                default = column.server_default.arg if column.server_default is not None else None
                clause = f" NOT NULL DEFAULT {default}" if default is not None else ""
                connection.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{clause}')
                log.info("added column %s.%s", table.name, column.name)


def is_reachable() -> bool:
    """Tell whether the database answers a trivial query."""
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.select(1))
        return True
    except sa.exc.SQLAlchemyError as error:
        log.warning("database unreachable: %s", error.__class__.__name__)
        return False
