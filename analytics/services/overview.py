"""Numbers across all videos, for the dashboard: totals, their change, views per day, and a period's."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.util import ClauseAdapter

from ..clock import Clock
from ..database import read_transaction
from ..models import (BUCKET_SECONDS, FILTER_REASONS, SUMMARY_COLUMNS, DailySummary, DailyView, DailyWatch, Video,
                      ViewBucket, counter_totals)
from .periods import Span
from .stamps import Stamps

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Totals:
    """Views across all videos.

    Today, this month and all time are the sums of the video counters, so
    they follow a reset. The comparisons add up five-minute view buckets up
    to the same point of the earlier period: yesterday up to this time of
    day, last month up to this day and hour (to the nearest five minutes),
    so a morning is never compared with a whole day.
    """

    today: int
    month: int
    total: int
    yesterday_by_now: int
    last_month_by_now: int
    videos: int
    uniques_today: int = 0
    filtered_today: dict[str, int] = field(default_factory=dict)
    watch_ms_today: int = 0  # what the views counted today reported playing
    watch_ms_total: int = 0


class DayCount(NamedTuple):
    """Views and distinct viewers on one local day, and what the views reported playing."""

    date: date
    views: int
    unique_viewers: int
    watch_ms: int = 0
    completions: int = 0


def totals(clock: Clock) -> Totals:
    """Return today's, this month's and all-time views, and what the periods before had by now.

    Every sum reads a few rows: the counters' sums per stamp pair (on
    PostgreSQL, the index of the current stamps), at most a month of
    buckets, and a row a day for the watch time.
    """
    now = clock.now()
    stamps = Stamps.at(clock, now)
    period = stamps.period
    day_start, month_start = clock.start_of(period.day), clock.start_of(period.month)
    yesterday_start = clock.start_of(period.day - timedelta(days=1))
    last_month_start = clock.start_of((period.month - timedelta(days=1)).replace(day=1))
    total = lambda column, *where: sa.select(sa.func.coalesce(sa.func.sum(column), 0)).where(  # noqa: E731
        *where).scalar_subquery()
    with read_transaction() as connection:
        row = connection.execute(sa.select(
            *_counter_sums(connection, stamps, total),
            total(ViewBucket.views, *_buckets(yesterday_start, min(yesterday_start + (now - day_start), day_start))),
            total(ViewBucket.views, *_buckets(last_month_start,
                                              min(last_month_start + (now - month_start), month_start))),
            sa.select(sa.func.count()).select_from(Video).scalar_subquery(),
        )).one()
        summary = connection.execute(sa.select(*(getattr(DailySummary, name) for name in SUMMARY_COLUMNS),
                                               DailySummary.watch_ms)
                                     .where(DailySummary.day == period.day)).one_or_none()
        watched = int(connection.scalar(sa.select(sa.func.coalesce(sa.func.sum(DailySummary.watch_ms), 0))))
    today_views, month_views, all_views, yesterday, last_month, videos = (int(value) for value in row)
    uniques, *filtered, watched_today = summary or [0] * (len(SUMMARY_COLUMNS) + 1)
    return Totals(today=today_views, month=month_views, total=all_views, yesterday_by_now=yesterday,
                  last_month_by_now=last_month, videos=videos, uniques_today=uniques,
                  filtered_today=dict(zip(FILTER_REASONS, filtered)), watch_ms_today=watched_today,
                  watch_ms_total=watched)


def _counter_sums(connection, stamps: Stamps, total) -> tuple:
    """Today's, this month's and all-time views by the stamps rule, from counter_totals where triggers keep it."""
    if connection.dialect.name != "sqlite":  # the period counters' indexes hold only the current stamps' rows
        return total(Video.views_today, stamps.day), total(Video.views_month, stamps.month), total(Video.views_total)
    as_totals = ClauseAdapter(counter_totals, adapt_on_names=True).traverse  # the same rule, on the sums' rows
    today, month = stamps.current_views()
    return total(as_totals(today)), total(as_totals(month)), total(counter_totals.c.views_total)


def _buckets(start: datetime, end: datetime) -> tuple:
    """WHERE for the buckets from `start` up to `end` rounded to the nearest bucket boundary."""
    seconds = round((end - EPOCH).total_seconds() / BUCKET_SECONDS) * BUCKET_SECONDS
    return ViewBucket.start >= start, ViewBucket.start < EPOCH + timedelta(seconds=seconds)


def views_per_day(days: int, clock: Clock, video_id: str | None = None) -> list[DayCount]:
    """Return views and distinct viewers per local day for the last `days` days, oldest first, zero days included.

    Across all videos (a viewer of two videos is one viewer) from one
    daily_summary row per day, or one video's when `video_id` is given.
    """
    today = clock.today()
    first = today - timedelta(days=days - 1)
    zero = sa.literal(0, sa.BigInteger)
    if video_id is not None:
        counted = sa.select(DailyView.day, DailyView.views, DailyView.unique_viewers, zero, zero).where(
            DailyView.day.between(first, today), DailyView.video_id == video_id)
        watched = sa.select(DailyWatch.day, zero, zero, DailyWatch.watch_ms, DailyWatch.completions).where(
            DailyWatch.day.between(first, today), DailyWatch.video_id == video_id)
        query = sa.union_all(counted, watched)  # one statement; a day may have views, reports or both
    else:
        query = sa.select(DailySummary.day, DailySummary.views, DailySummary.unique_viewers, DailySummary.watch_ms,
                          zero).where(DailySummary.day.between(first, today))
    stored: dict[date, list[int]] = {}
    with read_transaction() as connection:
        for day, *numbers in connection.execute(query):
            sums = stored.setdefault(day, [0, 0, 0, 0])
            for n, number in enumerate(numbers):
                sums[n] += int(number or 0)
    return [DayCount(day, *stored.get(day, (0, 0, 0, 0))) for day in (first + timedelta(n) for n in range(days))]


class MonthCount(NamedTuple):
    """Views in one local month (its first day), or in the part of it a period covers."""

    month: date
    views: int


@dataclass(frozen=True)
class PeriodNumbers:
    """Views across all videos in a span of local days, from one daily_summary row per day.

    ``unique_viewers`` is the day's distinct viewers when the span is one
    day; over several days it is their sum, viewer-days: daily distinct
    viewers cannot be added up into distinct viewers, so the page names it
    so. Either ``per_day`` or, for a span charted per month, ``per_month``
    is filled.
    """

    views: int
    unique_viewers: int
    filtered: dict[str, int]
    per_day: list[DayCount]
    per_month: list[MonthCount]
    watch_ms: int = 0  # what the period's counted views reported playing


def in_span(span: Span) -> PeriodNumbers:
    """Return the views, viewers and filtered requests of every day in `span`, and their sums.

    A reset of the counters does not touch the daily rows, so "today" here
    may differ from the live figure after one.
    """
    columns = (DailySummary.day, DailySummary.views, DailySummary.unique_viewers,
               *(getattr(DailySummary, reason) for reason in FILTER_REASONS), DailySummary.watch_ms)
    with read_transaction() as connection:
        stored = {day: numbers for day, *numbers in connection.execute(
            sa.select(*columns).where(DailySummary.day.between(span.first, span.last))).all()}
    sums = [sum(int(numbers[n] or 0) for numbers in stored.values()) for n in range(len(columns) - 1)]
    per_day = [DayCount(day, *(int(n) for n in stored.get(day, (0, 0))[:2]))
               for day in (span.first + timedelta(n) for n in range(span.days))]
    per_month = []
    if span.monthly:
        views = {month: 0 for month in span.months()}
        for day in per_day:
            views[day.date.replace(day=1)] += day.views
        per_month = [MonthCount(month, count) for month, count in views.items()]
    return PeriodNumbers(views=sums[0], unique_viewers=sums[1], filtered=dict(zip(FILTER_REASONS, sums[2:-1])),
                         watch_ms=sums[-1],
                         per_day=per_day if not span.monthly else [], per_month=per_month)
