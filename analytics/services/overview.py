"""Numbers across all videos, for the dashboard: totals, their change, views per day."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from ..clock import Clock
from ..database import read_transaction
from ..models import DailyView, Video, VideoViewLog
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
    today_views, month_views, total, yesterday, last_month, videos = (int(value) for value in row)
    return Totals(today=today_views, month=month_views, total=total, yesterday_by_now=yesterday,
                  last_month_by_now=last_month, videos=videos)


def views_per_day(days: int, clock: Clock, video_id: str | None = None) -> list[tuple[date, int]]:
    """Return (local day, views) for the last `days` days, oldest first, zero days included.

    Across all videos, or one video's when `video_id` is given.
    """
    today = clock.today()
    first = today - timedelta(days=days - 1)
    query = (sa.select(DailyView.day, sa.func.sum(DailyView.views))
             .where(DailyView.day.between(first, today)).group_by(DailyView.day))
    if video_id is not None:
        query = query.where(DailyView.video_id == video_id)
    with read_transaction() as connection:
        stored = {day: int(views) for day, views in connection.execute(query).all()}
    return [(day, stored.get(day, 0)) for day in (first + timedelta(n) for n in range(days))]
