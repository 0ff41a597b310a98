"""Bringing a database made by an earlier release up to date, at start, inside create_tables' transaction.

create_all makes missing tables but never an index on a table that exists,
nor the data of a new column or table. So, on every start: missing indexes
are created, and on SQLite the search index and counter_totals with their
triggers, filled as they are made (each checks first); and once
per database, recorded in schema_steps: daily_summary.views is summed from
daily_views and view_buckets counted from the view log. On a new database
the backfills find nothing and are only recorded.
"""

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .clock import utc_now
from .database import insert
from .extensions import db
from .models import BUCKET_SECONDS, DailySummary, DailyView, UTCDateTime, counter_totals

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
_ADD = ("INSERT INTO counter_totals (period_day, period_month, views_today, views_month, views_total)"
        " VALUES ({0}.period_day, {0}.period_month, {1}{0}.views_today, {1}{0}.views_month, {1}{0}.views_total)"
        " ON CONFLICT (period_day, period_month) DO UPDATE SET views_today = views_today + excluded.views_today,"
        " views_month = views_month + excluded.views_month, views_total = views_total + excluded.views_total;")
_SAME_STAMPS = "old.period_day = new.period_day AND old.period_month = new.period_month"
_COUNTERS = "views_today, views_month, views_total, period_day, period_month"
# Counting a view keeps its stamps: one upsert of the difference. A new
# period's first view moves the video's counters from one pair to another.
SQLITE_TOTALS = (
    f"CREATE TRIGGER IF NOT EXISTS videos_totals_insert AFTER INSERT ON videos BEGIN {_ADD.format('new', '')} END",
    f"CREATE TRIGGER IF NOT EXISTS videos_totals_delete AFTER DELETE ON videos BEGIN {_ADD.format('old', '-')} END",
    f"""CREATE TRIGGER IF NOT EXISTS videos_totals_count AFTER UPDATE OF {_COUNTERS} ON videos
        WHEN {_SAME_STAMPS} BEGIN
        INSERT INTO counter_totals (period_day, period_month, views_today, views_month, views_total)
        VALUES (new.period_day, new.period_month, new.views_today - old.views_today,
                new.views_month - old.views_month, new.views_total - old.views_total)
        ON CONFLICT (period_day, period_month) DO UPDATE SET views_today = views_today + excluded.views_today,
        views_month = views_month + excluded.views_month, views_total = views_total + excluded.views_total; END""",
    f"""CREATE TRIGGER IF NOT EXISTS videos_totals_restamp AFTER UPDATE OF {_COUNTERS} ON videos
        WHEN NOT ({_SAME_STAMPS}) BEGIN {_ADD.format('old', '-')} {_ADD.format('new', '')} END""",
    """INSERT INTO counter_totals (period_day, period_month, views_today, views_month, views_total)
       SELECT period_day, period_month, sum(views_today), sum(views_month), sum(views_total)
       FROM videos GROUP BY period_day, period_month""",
)
# Trigram GIN indexes serve the LIKE of services/videos.py as written: lower(column) LIKE '%…%'.
POSTGRES_SEARCH = tuple(
    f"CREATE INDEX IF NOT EXISTS ix_videos_{column}_trgm ON videos USING gin (lower({column}) gin_trgm_ops)"
    for column in ("title", "id"))

# On SQLite a GROUP BY of 10 M log rows sorts them all (~30 s); counting each
# bucket's range of the viewed_at index is one pass in order (~4 s). The
# starts are written as SQLAlchemy writes a DateTime there: 'YYYY-MM-DD HH:MM:SS.ffffff'
# (the fraction is cut before strftime('%s'), which would round 59.9999 s up; unixepoch()
# would need SQLite 3.38).
_SQLITE_BUCKETS = f"""
WITH RECURSIVE edges(start, stop) AS (
  SELECT strftime('%Y-%m-%d %H:%M:%S.000000',
                  CAST(strftime('%s', substr(min(viewed_at), 1, 19)) AS INTEGER) / {BUCKET_SECONDS} * {BUCKET_SECONDS},
                  'unixepoch'),
         max(viewed_at) FROM video_view_logs
  UNION ALL
  SELECT strftime('%Y-%m-%d %H:%M:%S.000000', start, '+{BUCKET_SECONDS} seconds'), stop FROM edges WHERE start <= stop)
SELECT start, views FROM (
  SELECT start, (SELECT count(*) FROM video_view_logs WHERE viewed_at >= start
                 AND viewed_at < strftime('%Y-%m-%d %H:%M:%S.000000', start, '+{BUCKET_SECONDS} seconds')) AS views
  FROM edges) WHERE views > 0"""
_POSTGRES_BUCKETS = f"""
SELECT TIMESTAMP '1970-01-01'
       + floor(extract(epoch FROM viewed_at) / {BUCKET_SECONDS}) * INTERVAL '{BUCKET_SECONDS} seconds' AS bucket,
       count(*) FROM video_view_logs GROUP BY bucket"""


def upgrade(connection: Connection) -> None:
    """Create what the tables lack: indexes, the search index, and (once) the new running totals."""
    _create_missing_indexes(connection)
    if connection.dialect.name == "sqlite":
        _create_sqlite_search(connection)
        _create_sqlite_totals(connection)
    elif connection.dialect.name == "postgresql":
        _create_postgres_search(connection)
    _steps.create(connection, checkfirst=True)
    done = set(connection.execute(sa.select(_steps.c.name)).scalars())
    for name, step in BACKFILLS.items():
        if name not in done:
            step(connection)
            connection.execute(_steps.insert().values(name=name, applied_at=utc_now()))
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


def _create_sqlite_totals(connection: Connection) -> None:
    """Create counter_totals with its triggers and fill it from the videos, all at once."""
    if sa.inspect(connection).has_table(counter_totals.name):
        return
    counter_totals.create(connection)
    for statement in SQLITE_TOTALS:
        connection.exec_driver_sql(statement)
    log.info("created counter_totals")


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
    counted = _POSTGRES_BUCKETS if connection.dialect.name == "postgresql" else _SQLITE_BUCKETS
    connection.exec_driver_sql(f"INSERT INTO view_buckets (start, views) {counted}"
                               " ON CONFLICT (start) DO UPDATE SET views = excluded.views")


BACKFILLS = {
    "daily_summary.views": _backfill_daily_views,
    "view_buckets": _backfill_view_buckets,
}
