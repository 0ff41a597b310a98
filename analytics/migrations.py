"""Bringing a database made by an earlier release up to date, at start, inside create_tables' transaction.

create_all makes missing tables but never an index on a table that exists,
nor the data of a new column or table. So, on every start: missing indexes
are created and the search index is set up (each checks first); and once
per database, recorded in schema_steps: daily_summary.views is summed from
daily_views and view_buckets counted from the view log. On a new database
the backfills find nothing and are only recorded.
"""

import logging
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .database import insert
from .extensions import db
from .models import BUCKET_SECONDS, DailySummary, DailyView, UTCDateTime

log = logging.getLogger(__name__)

_steps = sa.Table(
    "schema_steps", sa.MetaData(),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("applied_at", UTCDateTime()),
)

# An external-content FTS5 index of the videos' ids and titles: trigrams make
# any substring of 3+ characters a lookup. Only id and title changes touch it,
# so counting a view (an UPDATE of the counters) never does. It follows the
# videos' rowids, which only VACUUM would renumber (the app never runs it;
# after a manual VACUUM, rebuild it: INSERT INTO videos_fts(videos_fts) VALUES('rebuild')).
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE videos_fts USING fts5(id, title, content='videos', tokenize='trigram')",
    """CREATE TRIGGER IF NOT EXISTS videos_fts_insert AFTER INSERT ON videos BEGIN
         INSERT INTO videos_fts (rowid, id, title) VALUES (new.rowid, new.id, new.title); END""",
    """CREATE TRIGGER IF NOT EXISTS videos_fts_delete AFTER DELETE ON videos BEGIN
         INSERT INTO videos_fts (videos_fts, rowid, id, title) VALUES ('delete', old.rowid, old.id, old.title); END""",
    """CREATE TRIGGER IF NOT EXISTS videos_fts_update AFTER UPDATE OF id, title ON videos BEGIN
         INSERT INTO videos_fts (videos_fts, rowid, id, title) VALUES ('delete', old.rowid, old.id, old.title);
         INSERT INTO videos_fts (rowid, id, title) VALUES (new.rowid, new.id, new.title); END""",
    "INSERT INTO videos_fts (videos_fts) VALUES ('rebuild')",
)
# Trigram GIN indexes serve the LIKE of services/videos.py as written: lower(column) LIKE '%…%'.
POSTGRES_SEARCH = tuple(
    f"CREATE INDEX IF NOT EXISTS ix_videos_{column}_trgm ON videos USING gin (lower({column}) gin_trgm_ops)"
    for column in ("title", "id"))

# SQLAlchemy stores a DateTime on SQLite as 'YYYY-MM-DD HH:MM:SS.ffffff': the
# bucket's start is the minute cut down to a multiple of 5, as text.
_SQLITE_BUCKET = ("substr(viewed_at, 1, 15) || CASE WHEN substr(viewed_at, 16, 1) < '5' THEN '0' ELSE '5' END"
                  " || ':00.000000'")
_POSTGRES_BUCKET = (f"TIMESTAMP '1970-01-01' + floor(extract(epoch FROM viewed_at) / {BUCKET_SECONDS})"
                    f" * INTERVAL '{BUCKET_SECONDS} seconds'")


def upgrade(connection: Connection) -> None:
    """Create what the tables lack: indexes, the search index, and (once) the new running totals."""
    _create_missing_indexes(connection)
    if connection.dialect.name == "sqlite":
        _create_sqlite_search(connection)
    elif connection.dialect.name == "postgresql":
        _create_postgres_search(connection)
    _steps.create(connection, checkfirst=True)
    done = set(connection.execute(sa.select(_steps.c.name)).scalars())
    for name, step in BACKFILLS.items():
        if name not in done:
            step(connection)
            connection.execute(_steps.insert().values(name=name, applied_at=datetime.now(timezone.utc)))
            log.info("schema step %s done", name)


def _create_missing_indexes(connection: Connection) -> None:
    inspector = sa.inspect(connection)
    for table in db.metadata.sorted_tables:
        present = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                index.create(connection)
                log.info("created index %s", index.name)


def _create_sqlite_search(connection: Connection) -> None:
    if connection.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'videos_fts'").first():
        return
    for statement in SQLITE_SEARCH:
        connection.exec_driver_sql(statement)
    log.info("created the search index videos_fts")


def _create_postgres_search(connection: Connection) -> None:
    """Index titles and ids by trigram when pg_trgm can be had; without it, search scans the videos."""
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for statement in POSTGRES_SEARCH:
                connection.exec_driver_sql(statement)
    except sa.exc.DBAPIError as error:
        log.warning("pg_trgm unavailable (%s); search scans the videos", error.orig.__class__.__name__)


def _backfill_daily_views(connection: Connection) -> None:
    """Set each day's views across all videos to the sum of its daily_views rows."""
    per_day = (sa.select(DailyView.day, sa.func.sum(DailyView.views))
               .where(sa.true()).group_by(DailyView.day))  # WHERE: SQLite's parser wants one before ON CONFLICT
    statement = insert(connection, DailySummary).from_select(["day", "views"], per_day)
    connection.execute(statement.on_conflict_do_update(index_elements=["day"],
                                                       set_={"views": statement.excluded.views}))


def _backfill_view_buckets(connection: Connection) -> None:
    """Count the view log's rows per bucket (the log is the only record of when views happened)."""
    bucket = _POSTGRES_BUCKET if connection.dialect.name == "postgresql" else _SQLITE_BUCKET
    connection.exec_driver_sql(
        f"INSERT INTO view_buckets (start, views) SELECT {bucket} AS bucket, count(*) FROM video_view_logs"
        " WHERE true GROUP BY bucket ON CONFLICT (start) DO UPDATE SET views = excluded.views")


BACKFILLS = {
    "daily_summary.views": _backfill_daily_views,
    "view_buckets": _backfill_view_buckets,
}
