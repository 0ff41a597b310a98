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
they were when it was added up, so an import that changes history is
never read through a stale sum; imports also forget the spans they touch.
Custom ranges and today and yesterday are added up when asked.
"""

import logging
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..clock import Clock
from ..database import insert, read_transaction, write_transaction
from ..models import DAILY_VIEWS_BY_DAY, DailySummary, DailyView, SpanSum, SpanView
from . import periods
from .pacing import Pace, delete_paced

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
    with read_transaction() as connection:
        stored = {(first, last): views for first, last, views in connection.execute(
            sa.select(SpanSum.first, SpanSum.last, SpanSum.views))}
        true = {span for span, views in stored.items() if views == summary_views(connection, *span)}
        leftovers = {(first, last) for first, last in connection.execute(
            sa.select(SpanView.first, SpanView.last).distinct())}
    forget(set(stored) - (spans & true))
    for span in leftovers - spans:
        delete_paced((SpanView.video_id, SpanView.first, SpanView.last), *_of(span))
    return sum(add_up(*span, clock) for span in sorted(spans - true))


def add_up(first: date, last: date, clock: Clock) -> int:
    """Store each video's views from `first` to `last`, then mark the span complete; return the rows stored.

    The sums are read in one go, then written in paced batches so tracking
    never waits long for the write lock. History that changes while they
    are read (an import) leaves the span unstored, for the next run.
    """
    with read_transaction() as connection:
        views = summary_views(connection, first, last)
        video_id, day, day_views = sa.column("video_id"), sa.column("day", sa.Date), sa.column("views")
        sums = connection.execute(
            sa.select(video_id.label("video_id"), sa.func.sum(day_views).label("views"))
            .select_from(daily_views_by_day(connection)).where(day.between(first, last))
            .group_by(video_id).having(sa.func.sum(day_views) > 0)).mappings().all()
        if summary_views(connection, first, last) != views:
            log.warning("views of %s to %s changed while being added up; trying again at the next run", first, last)
            return 0
    delete_paced((SpanView.video_id, SpanView.first, SpanView.last), *_of((first, last)))
    pace, done = Pace(), 0
    while done < len(sums):
        with pace.batch() as connection:
            rows = [{"video_id": row["video_id"], "views": row["views"], "first": first, "last": last}
                    for row in sums[done:done + pace.size]]
            upsert = insert(connection, SpanView)  # another process may be adding up the same span
            connection.execute(upsert.on_conflict_do_update(
                index_elements=[SpanView.video_id, SpanView.first, SpanView.last],
                set_={"views": upsert.excluded.views}), rows)
        done += len(rows)
    with write_transaction() as connection:
        upsert = insert(connection, SpanSum).values(first=first, last=last, views=views, built_at=clock.now())
        connection.execute(upsert.on_conflict_do_update(
            index_elements=[SpanSum.first, SpanSum.last],
            set_={"views": upsert.excluded.views, "built_at": upsert.excluded.built_at}))
    log.info("added up %d videos' views from %s to %s", len(sums), first, last)
    return len(sums)


def forget(spans: set[tuple[date, date]]) -> None:
    """Drop these spans: first their span_sums rows, so no page reads them again, then their videos' rows."""
    for span in spans:
        with write_transaction() as connection:
            connection.execute(sa.delete(SpanSum).where(SpanSum.first == span[0], SpanSum.last == span[1]))
        delete_paced((SpanView.video_id, SpanView.first, SpanView.last), *_of(span))


def forget_overlapping(connection: Connection, first: date, last: date) -> None:
    """Mark the spans that hold any day from `first` to `last` incomplete, in the caller's transaction.

    For a writer of past days' views; the next refresh adds them up anew.
    """
    connection.execute(sa.delete(SpanSum).where(SpanSum.first <= last, SpanSum.last >= first))


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


def daily_views_by_day(connection: Connection):
    """FROM daily_views, read through DAILY_VIEWS_BY_DAY.

    SQLite is told to: once ANALYZE has run, it prefers to skip-scan the
    primary key (video_id, day) for its order, reading every row of the
    table for the views (about 4x slower for a year than this index and a
    sort; see bench/periods.py).
    """
    if connection.dialect.name == "sqlite":
        return sa.table(sa.quoted_name(f"{DailyView.__tablename__} INDEXED BY {DAILY_VIEWS_BY_DAY.name}", quote=False))
    return DailyView.__table__


def _of(span: tuple[date, date]) -> tuple:
    return SpanView.first == span[0], SpanView.last == span[1]
