"""Zeroing the period counters: by hand (everything) or by schedule (only what is stale)."""

import sqlalchemy as sa

from ..clock import Clock
from ..database import write_transaction
from ..models import Video
from . import stats_cache
from .views import Stamps


def reset_daily(clock: Clock, *, stale_only: bool = False) -> int:
    """Zero today's counters and return how many videos were reset.

    With `stale_only`, only counters stamped with another day (an earlier
    one, or a wrong clock's future) are zeroed, so a view already counted
    today survives a late or repeated run.
    """
    period = clock.period()
    return _reset(
        sa.update(Video).values(views_today=0, period_day=period.day),
        sa.not_(Stamps(period).day) if stale_only else None,
    )


def reset_monthly(clock: Clock, *, stale_only: bool = False) -> int:
    """Zero this month's counters and return how many videos were reset.

    With `stale_only`, only counters stamped with another month are zeroed.
    """
    period = clock.period()
    return _reset(
        sa.update(Video).values(views_month=0, period_month=period.month),
        sa.not_(Stamps(period).month) if stale_only else None,
    )


def _reset(statement, condition) -> int:
    if condition is not None:
        statement = statement.where(condition)
    with write_transaction() as connection:
        count = connection.execute(statement).rowcount
    if condition is None:
        # A stale-only reset changes no number anyone reads: stale counters
        # read as 0 already, so cached entries stay true and stay cached.
        stats_cache.forget_all()
    return count
