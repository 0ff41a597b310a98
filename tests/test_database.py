"""SQLite settings and transactions, checked on the real file."""

import multiprocessing
import sqlite3

import pytest
import sqlalchemy as sa

from analytics import database
from analytics.database import read_transaction, write_transaction
from analytics.extensions import db
from conftest import add_video


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys(app):
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_full_synchronous_can_be_chosen(make_app):
    app = make_app(SQLITE_SYNCHRONOUS="full")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_write_transaction_takes_the_write_lock_at_begin(app, instance):
    """BEGIN IMMEDIATE: a second writer is turned away before the first has written anything."""
    with app.app_context(), write_transaction():
        other = sqlite3.connect(instance / "analytics.db", timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_a_read_does_not_take_the_write_lock(app, instance):
    with app.app_context(), read_transaction() as connection:
        connection.execute(sa.text("SELECT count(*) FROM videos")).scalar()
        other = sqlite3.connect(instance / "analytics.db", timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()


def test_a_log_row_for_a_missing_video_is_refused(app):
    add_video(app)
    with app.app_context(), pytest.raises(sa.exc.IntegrityError):
        with write_transaction() as connection:
            connection.execute(sa.text("INSERT INTO video_view_logs (video_id, viewed_at) VALUES ('ghost', '2026-01-01')"))


def test_a_new_app_holds_no_open_connection(backend_url, make_app):
    """Creating tables opens connections; none may survive into workers forked afterwards."""
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    with app.app_context():
        assert db.engine.pool.checkedin() == 0


def _open_new_file_together(path, barrier, results):
    """One process of a server starting: connect with the app's settings and create a table."""
    barrier.wait()
    try:
        connection = sqlite3.connect(path, isolation_level=None)
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {database.SQLITE_BUSY_TIMEOUT_MS}")
        database._switch_to_wal(cursor)
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("CREATE TABLE IF NOT EXISTS t (x)")
        cursor.execute("COMMIT")
        results.put(cursor.execute("PRAGMA journal_mode").fetchone()[0])
    except sqlite3.Error as error:
        results.put(repr(error))


def test_processes_opening_a_new_file_together_all_get_wal(tmp_path):
    """SQLite refuses all but one at once ("database is locked", no busy wait); none may fail."""
    context = multiprocessing.get_context("fork")
    outcomes = []
    for round_number in range(25):
        barrier, results = context.Barrier(4), context.Queue()
        path = str(tmp_path / f"new-{round_number}.db")
        processes = [context.Process(target=_open_new_file_together, args=(path, barrier, results)) for _ in range(4)]
        for process in processes:
            process.start()
        outcomes += [results.get(timeout=30) for _ in processes]
        for process in processes:
            process.join(10)
    assert set(outcomes) == {"wal"}


def test_moments_are_bound_as_the_text_sqlalchemy_would_write():
    """UTCDateTime's one-step SQLite text equals the two steps it replaces: comparisons in SQL rely on it."""
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from sqlalchemy.dialects import sqlite

    from analytics.models import UTCDateTime

    dialect = sqlite.dialect()
    kind = UTCDateTime()
    one_step = kind.dialect_impl(dialect).bind_processor(dialect)
    text = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    moments = [datetime(2026, 3, 14, 15, 0, tzinfo=timezone.utc),
               datetime(2026, 3, 14, 15, 0, 0, 1, tzinfo=timezone.utc),
               datetime(2026, 10, 25, 2, 30, 59, 999999, tzinfo=ZoneInfo("Europe/Berlin")),
               datetime(999, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
               datetime(2026, 12, 31, 23, 59, 59, 500000, tzinfo=timezone(timedelta(hours=5, minutes=45)))]
    for moment in moments:
        assert one_step(moment) == text(kind.process_bind_param(moment, dialect))
    assert one_step(None) is None
    with pytest.raises(ValueError, match="naive"):
        one_step(datetime(2026, 3, 14, 15, 0))


def test_an_orm_session_opened_in_a_request_is_closed_at_its_end(app):
    """Flask-SQLAlchemy's teardown is replaced by a cheaper one: a session used in a request still ends with it."""
    with app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        assert db.session.registry.has()
    with app.app_context():
        assert not db.session.registry.has()
        assert db.session.registry.registry == {}
