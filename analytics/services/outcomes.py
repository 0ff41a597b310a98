"""Every view received since the first day, by outcome: counted, or the reason it was not."""

import sqlalchemy as sa

from ..database import read_transaction
from ..models import FILTER_REASONS, DailySummary

OUTCOMES = ("counted", *FILTER_REASONS)


def views_by_outcome() -> dict[str, int]:
    """Return how many views had each outcome, summed over every day of daily_summary.

    The sums only grow: daily_summary rows are never deleted, and a reset
    zeroes only today's distinct viewers there, never a count of views.
    """
    columns = (DailySummary.views, *(getattr(DailySummary, reason) for reason in FILTER_REASONS))
    with read_transaction() as connection:
        sums = connection.execute(sa.select(*(sa.func.coalesce(sa.func.sum(column), 0) for column in columns))).one()
    return {outcome: int(total) for outcome, total in zip(OUTCOMES, sums)}
