"""Numbers across all videos, for the dashboard: totals, their change, views per day."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from ..clock import Clock
from ..database import read_transaction
from ..models import DailyView, Video
from .stamps import Stamps


@dataclass(frozen=True)
class Totals:
    """Views across all videos. Today and this month come from the counters (a
    reset zeroes them); yesterday and last month from the daily history."""

    today: int
    month: int
    total: int
    yesterday: int
    last_month: int
    videos: int


def totals(clock: Clock) -> Totals:
    """Return today's, this month's and all-time views, with yesterday's and last month's."""
    stamps = Stamps.at(clock)
    today, month = stamps.current_views()
    period = stamps.period
    yesterday = period.day - timedelta(days=1)
    last_month = (period.month - timedelta(days=1)).replace(day=1)
    with read_transaction() as connection:
        counters = connection.execute(sa.select(
            sa.func.coalesce(sa.func.sum(today), 0), sa.func.coalesce(sa.func.sum(month), 0),
            sa.func.coalesce(sa.func.sum(Video.views_total), 0), sa.func.count(),
        )).one()
        history = connection.execute(sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((DailyView.day == yesterday, DailyView.views), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((DailyView.day < period.month, DailyView.views), else_=0)), 0),
        ).where(DailyView.day >= last_month, DailyView.day < period.day)).one()
    return Totals(today=int(counters[0]), month=int(counters[1]), total=int(counters[2]), videos=counters[3],
                  yesterday=int(history[0]), last_month=int(history[1]))


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
