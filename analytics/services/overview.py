"""Numbers across all videos, for the dashboard: totals, their change, views per day."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

import sqlalchemy as sa

from ..clock import Clock
from ..database import read_transaction
from ..models import FILTER_REASONS, SUMMARY_COLUMNS, DailySummary, DailyView, Video, VideoViewLog
from .stamps import Stamps


@dataclass(frozen=True)
class Totals:
    """Views across all videos.

    Today and this month come from the counters (a reset zeroes them). The
    comparisons come from the view log and stop at the same point of the
    period: yesterday up to this time of day, last month up to this day and
    hour, so a morning is never compared with a whole day.
    """

    today: int
    month: int
    total: int
    yesterday_by_now: int
    last_month_by_now: int
    videos: int
    uniques_today: int = 0
    filtered_today: dict[str, int] = field(default_factory=dict)


class DayCount(NamedTuple):
    """Views and distinct viewers on one local day."""

    date: date
    views: int
    unique_viewers: int


def totals(clock: Clock) -> Totals:
    """Return today's, this month's and all-time views, and what the periods before had by now."""
    now = clock.now()
    stamps = Stamps.at(clock, now)
    today, month = stamps.current_views()
    period = stamps.period
    day_start, month_start = clock.start_of(period.day), clock.start_of(period.month)
    yesterday_start = clock.start_of(period.day - timedelta(days=1))
    last_month_start = clock.start_of((period.month - timedelta(days=1)).replace(day=1))
    logged = lambda start, end: sa.select(sa.func.count()).where(  # noqa: E731
        VideoViewLog.viewed_at >= start, VideoViewLog.viewed_at < end).scalar_subquery()
    with read_transaction() as connection:
        row = connection.execute(sa.select(
            sa.select(sa.func.coalesce(sa.func.sum(today), 0)).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(month), 0)).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(Video.views_total), 0)).scalar_subquery(),
            logged(yesterday_start, min(yesterday_start + (now - day_start), day_start)),
            logged(last_month_start, min(last_month_start + (now - month_start), month_start)),
            sa.select(sa.func.count()).select_from(Video).scalar_subquery(),
        )).one()
        summary = connection.execute(sa.select(*(getattr(DailySummary, name) for name in SUMMARY_COLUMNS))
                                     .where(DailySummary.day == period.day)).one_or_none()
    today_views, month_views, total, yesterday, last_month, videos = (int(value) for value in row)
    uniques, *filtered = summary or [0] * len(SUMMARY_COLUMNS)
    return Totals(today=today_views, month=month_views, total=total, yesterday_by_now=yesterday,
                  last_month_by_now=last_month, videos=videos, uniques_today=uniques,
                  filtered_today=dict(zip(FILTER_REASONS, filtered)))


def views_per_day(days: int, clock: Clock, video_id: str | None = None) -> list[DayCount]:
    """Return views and distinct viewers per local day for the last `days` days, oldest first, zero days included.

    Across all videos (a viewer of two videos is one viewer), or one video's when `video_id` is given.
    """
    today = clock.today()
    first = today - timedelta(days=days - 1)
    in_range = DailyView.day.between(first, today)
    if video_id is not None:
        query = sa.select(DailyView.day, DailyView.views, DailyView.unique_viewers).where(
            in_range, DailyView.video_id == video_id)
    else:
        views = (sa.select(DailyView.day, sa.func.sum(DailyView.views).label("views"))
                 .where(in_range).group_by(DailyView.day).subquery())
        query = (sa.select(views.c.day, views.c.views, sa.func.coalesce(DailySummary.unique_viewers, 0))
                 .outerjoin(DailySummary, DailySummary.day == views.c.day))
    with read_transaction() as connection:
        stored = {day: (int(views), int(uniques)) for day, views, uniques in connection.execute(query).all()}
    return [DayCount(day, *stored.get(day, (0, 0))) for day in (first + timedelta(n) for n in range(days))]
