"""The long periods' views per video, added up ahead, so a year's table on the dashboard walks an index.

Ranking 100,000 videos by their views over a year adds up millions of
daily_views rows: seconds. But a named period (last 7 days, last 12
months, …) is, apart from its last two days, days nothing counts into any
more. So the scheduler adds up each named period's days up to the day
before yesterday, once, into span_views (one row per video with views,
the span_sums row saying the span is complete), and a page adds only the
two newest days to it. Two, not one: a view counted just before midnight
may be written just after, when the new day's sums are being added up.

A stored span is read only while its days' daily_summary views are what
they were when it was added up, and an import forgets the spans whose
days it changes (also those being added up: each add-up marks its span
with its own token first, and stores nothing once the mark is gone or
another's), so history changed through the app is never read through a
stale sum. Custom ranges, today and yesterday are added up when asked.
"""

import logging
import secrets
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..clock import Clock
from ..database import insert, read_transaction, write_transaction
from ..models import DAILY_VIEWS_BY_DAY, DailySummary, DailyView, SpanSum, SpanView
from . import periods
from .pacing import Pace

log = logging.getLogger(__name__)

# The newest day stored, in days before today.
STORED_UNTIL_DAYS_AGO = 2


def stored_part(first: date, last: date, today: date) -> tuple[date, date] | None:
    """Return the days from `first` to `last` that a stored span may hold, or None when there are none."""
    end = min(last, today - timedelta(days=STORED_UNTIL_DAYS_AGO))
    return (first, end) if first <= end else None


def wanted(clock: Clock) -> set[tuple[date, date]]:
    """Return the spans today's named periods read: each one's days up to the day before yesterday."""
    today = clock.today()
    spans = (periods.named(name, clock) for name in periods.NAMED)
    return {part for span in spans if (part := stored_part(span.first, span.last, today)) is not None}


def refresh(clock: Clock) -> int:
    """Add up every span today's periods read that is not stored (or no longer true); drop the rest.

    Run by the scheduler each hour and at local midnight, and after an
    import. Returns how many video rows it stored.
    """
    spans = wanted(clock)
    with read_transaction(one_snapshot=True) as connection:
        stored = {(first, last): views for first, last, views in connection.execute(
            sa.select(SpanSum.first, SpanSum.last, SpanSum.views))}
        true = {span for span, views in stored.items()
                if views is not None and views == summary_views(connection, *span)}
        leftovers = {(first, last) for first, last in connection.execute(
            sa.select(SpanView.first, SpanView.last).distinct())}
    forget((set(stored) | leftovers) - spans)
    return sum(add_up(*span) for span in sorted(spans - true))


def add_up(first: date, last: date) -> int:
    """Store each video's views from `first` to `last`, then mark the span complete; return the rows stored.

    The span is first marked as being added up by this call (a token in
    span_sums, views unknown); the sums are read in one snapshot, then
    written in paced batches so tracking never waits long for the write
    lock, each batch only while the mark is still this call's. An import
    that forgets the span, or another add-up of it, takes the mark away,
    and this one stops: its sums may be older.
    """
    token = _mark(first, last)
    with read_transaction(one_snapshot=True) as connection:
        views = summary_views(connection, first, last)
        sums = connection.execute(day_sums(connection, first, last)).all()
    pace, done = Pace(), 0
    if not _clear(first, last, token, pace):  # rows of an earlier add-up that stopped
        return 0
    while done < len(sums):
        with pace.batch() as connection:
            if not _still_ours(connection, first, last, token):
                return 0
            rows = [{"video_id": video_id, "views": int(n), "first": first, "last": last}
                    for video_id, n in sums[done:done + pace.size]]
            upsert = insert(connection, SpanView)
            connection.execute(upsert.on_conflict_do_update(
                index_elements=list(_KEY), set_={"views": upsert.excluded.views}), rows)
        done += len(rows)
    with write_transaction() as connection:
        if not _still_ours(connection, first, last, token):
            return 0
        connection.execute(sa.update(SpanSum).where(SpanSum.first == first, SpanSum.last == last)
                           .values(views=views))
    log.info("added up %d videos' views from %s to %s", len(sums), first, last)
    return len(sums)


def _mark(first: date, last: date) -> str:
    """Mark the span as being worked on by a new token (its views unknown meanwhile); return the token."""
    token = secrets.token_hex(8)
    with write_transaction() as connection:
        mark = insert(connection, SpanSum).values(first=first, last=last, views=None, builder=token)
        connection.execute(mark.on_conflict_do_update(index_elements=[SpanSum.first, SpanSum.last],
                                                      set_={"views": None, "builder": token}))
    return token


def _clear(first: date, last: date, token: str, pace: Pace) -> bool:
    """Delete the span's rows in paced batches while the mark is `token`'s; return whether it stayed so."""
    while True:
        with pace.batch() as connection:
            if not _still_ours(connection, first, last, token):
                return False
            batch = sa.select(*_KEY).where(*_of((first, last))).limit(pace.size)
            if connection.execute(sa.delete(SpanView).where(sa.tuple_(*_KEY).in_(batch))).rowcount < pace.size:
                return True


def _still_ours(connection: Connection, first: date, last: date, token: str) -> bool:
    """Tell whether the span is still marked as added up by `token`; on PostgreSQL, hold the mark till commit."""
    mark = sa.select(SpanSum.builder).where(SpanSum.first == first, SpanSum.last == last)
    if connection.dialect.name != "sqlite":  # see hold_off_add_ups
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(_WRITERS_LOCK)))
        mark = mark.with_for_update()
    if connection.scalar(mark) == token:
        return True
    log.info("the views from %s to %s are being added up anew; this run stops", first, last)
    return False


def forget(spans: set[tuple[date, date]]) -> None:
    """Drop these spans: mark each (no page reads it from then on), delete its rows, then the mark.

    Under a mark of its own, like an add-up: should another add-up of the
    span start meanwhile, it takes the mark and this stops, leaving it the rows.
    """
    for first, last in sorted(spans):
        token = _mark(first, last)
        if _clear(first, last, token, Pace()):
            with write_transaction() as connection:
                connection.execute(sa.delete(SpanSum).where(SpanSum.first == first, SpanSum.last == last,
                                                            SpanSum.builder == token))


def hold_off_add_ups(connection: Connection) -> None:
    """Keep add-ups from writing until this writer of past days' views commits: first thing in its transaction.

    On PostgreSQL an add-up's batch holds its mark, then waits for the
    videos its rows name, which such a writer locks; the writer then drops
    the marks. So writer and batches take one lock first, the writer alone
    and the batches shared: neither waits for the other while holding
    anything. (SQLite has one writer at a time.)
    """
    if connection.dialect.name != "sqlite":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_WRITERS_LOCK)))


def forget_overlapping(connection: Connection, first: date, last: date) -> None:
    """Drop the marks of the spans that hold any day from `first` to `last`, in the writer's transaction.

    An add-up that read those days before the writer's commit loses its
    mark and stops; the next refresh adds them up anew.
    """
    connection.execute(sa.delete(SpanSum).where(SpanSum.first <= last, SpanSum.last >= first))


def forget_days(first: date, last: date) -> None:
    """forget_overlapping in a transaction of its own, once the writer's is in.

    On PostgreSQL a mark added while the writer's transaction ran is not
    seen by its delete; this one sees it, and its add-up, whose sums may
    be from before the writer's commit, stops.
    """
    with write_transaction() as connection:
        forget_overlapping(connection, first, last)


def usable(connection: Connection, first: date, last: date, today: date) -> tuple[date, date] | None:
    """Return the stored span a table from `first` to `last` can start from, or None.

    None when the period has no stored part, its span is not (yet) added
    up, or its days' views have changed since.
    """
    part = stored_part(first, last, today)
    if part is None:
        return None
    views = connection.scalar(sa.select(SpanSum.views).where(SpanSum.first == part[0], SpanSum.last == part[1]))
    return part if views is not None and views == summary_views(connection, *part) else None


def summary_views(connection: Connection, first: date, last: date) -> int:
    """The counted views of the days from `first` to `last`, as daily_summary holds them."""
    return int(connection.scalar(sa.select(sa.func.coalesce(sa.func.sum(DailySummary.views), 0)).where(
        DailySummary.day.between(first, last))))


class Matches(NamedTuple):
    """The ids a search matches (read once per statement), and whether they are few enough to look up each."""

    ids: sa.Select
    few: bool


def day_sums(connection: Connection, first: date, last: date, videos: Matches | None = None) -> sa.Select:
    """SELECT video_id, views: each video's views from `first` to `last`, for the videos with any.

    A search's few videos are read by the primary key, a video at a time;
    otherwise the days are read from DAILY_VIEWS_BY_DAY and the videos
    picked as they pass.
    """
    video_id, day, views = sa.column("video_id"), sa.column("day", sa.Date), sa.column("views")
    where = [day.between(first, last)]
    source = _daily_views_by_day(connection)
    if videos is not None and videos.few:
        source = DailyView.__table__
        where.append(video_id.in_(videos.ids))
    elif videos is not None:
        # On SQLite, `video_id || ''` keeps the day range the index's one lookup: given the ids,
        # it would probe each day for each of them (11 times slower for "42" over 7 days at 100,000 videos).
        searched = video_id.concat("") if connection.dialect.name == "sqlite" else video_id
        where.append(searched.in_(videos.ids))
    return (sa.select(video_id.label("video_id"), sa.func.sum(views).label("views"))
            .select_from(source).where(*where).group_by(video_id).having(sa.func.sum(views) > 0))


def _daily_views_by_day(connection: Connection):
    """FROM daily_views, read through DAILY_VIEWS_BY_DAY.

    SQLite is told to: once ANALYZE has run, it prefers to skip-scan the
    primary key (video_id, day) for its order, reading every row of the
    table for the views (about 4x slower for a year than this index and a
    sort; see bench/periods.py).
    """
    if connection.dialect.name == "sqlite":
        return sa.table(sa.quoted_name(f"{DailyView.__tablename__} INDEXED BY {DAILY_VIEWS_BY_DAY.name}", quote=False))
    return DailyView.__table__


_KEY = (SpanView.video_id, SpanView.first, SpanView.last)
# PostgreSQL's advisory lock between writers of past days and add-ups' batches (any number, unique in the app).
_WRITERS_LOCK = 0x5649_4557_5350_414E  # "VIEWSPAN"


def _of(span: tuple[date, date]) -> tuple:
    return SpanView.first == span[0], SpanView.last == span[1]
