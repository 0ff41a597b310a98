"""Which period a video's counters belong to: one rule, in Python and in SQL.

Each video stamps its period counters with the local day and month they
count. A counter is current when stamped with this period, or "late": a
view from just before midnight can commit after one from just after it,
which already stamped the next day (and, on the 1st, the next month), so
near midnight a next-day stamp is current too. Any other stamp is stale:
earlier (no reset ran since) or later (a clock that ran ahead and was set
right). A stale counter reads as 0, the next view restarts it, and a
scheduled reset zeroes it.
"""

from datetime import date, datetime, timedelta, timezone
from functools import cached_property, lru_cache

import sqlalchemy as sa

from ..clock import Clock, Period
from ..models import Video

# How long before midnight a next-day stamp is taken for a late view: far
# more than clocks of one server disagree or a commit waits for its turn.
LATE_VIEW_WINDOW = timedelta(minutes=5)


class Stamps:
    """The rule as of one moment, as Python tests and SQL expressions (built when first asked for)."""

    def __init__(self, period: Period, late_views: bool):
        self.period = period
        self.late_views = late_views

    @classmethod
    def at(cls, clock: Clock, moment: datetime | None = None) -> "Stamps":
        """Return the rule as of `moment` (default: now) on `clock`: one shared object a second."""
        return _stamps_at(clock, clock.second() if moment is None else moment.timestamp() // 1)

    @cached_property
    def late_day(self):
        return Video.period_day == self.period.next_day if self.late_views else sa.false()

    @cached_property
    def late_month(self):
        return sa.and_(self.late_day, Video.period_month == self.period.next_month)

    @cached_property
    def day(self):
        return sa.or_(Video.period_day == self.period.day, self.late_day)

    @cached_property
    def month(self):
        return sa.or_(Video.period_month == self.period.month, self.late_month)

    def late(self, period_day: date, period_month: date) -> tuple[bool, bool]:
        """Tell whether a day counter and a month counter with these stamps were stamped by a late view."""
        late_day = self.late_views and period_day == self.period.next_day
        return late_day, late_day and period_month == self.period.next_month

    def current(self, period_day: date, period_month: date) -> tuple[bool, bool]:
        """Tell whether a day counter and a month counter with these stamps are current."""
        late_day, late_month = self.late(period_day, period_month)
        return (period_day == self.period.day or late_day,
                period_month == self.period.month or late_month)

    def current_views(self):
        """SQL for (views today, views this month): a stale counter is 0."""
        return (sa.case((self.day, Video.views_today), else_=0),
                sa.case((self.month, Video.views_month), else_=0))

    def current_uniques(self):
        """SQL for today's unique viewers: 0 when the day counter is stale."""
        return sa.case((self.day, Video.uniques_today), else_=0)

    def stamped(self) -> dict:
        """SET values of the stamps for this period; a late stamp stays, so a late view can find it."""
        return _stamped(self.period.day, self.period.month, self.late_day, self.late_month)

    def params(self) -> dict:
        """Bound values of this moment for `after_views_bound`."""
        p = self.period
        return {"stamp_day": p.day, "stamp_month": p.month, "stamp_next_day": p.next_day,
                "stamp_next_month": p.next_month, "stamp_late": self.late_views}


@lru_cache(maxsize=64)
def _stamps_at(clock: Clock, second: float) -> Stamps:
    """The rule in one whole UTC second (a zone's offsets are whole seconds): every view and read asks."""
    moment = datetime.fromtimestamp(second, timezone.utc)
    period = clock.period(moment)
    # Near midnight: the next local day begins within the window.
    return Stamps(period, late_views=clock.period(moment + LATE_VIEW_WINDOW).day != period.day)


def after_views_bound() -> dict:
    """SET values for :views more views: added in this period, untouched if late, else restart at :views.

    Today's unique viewers follow today's views, adding :new_viewer. The
    moment is bound too, so one statement serves every moment: execute it
    with `Stamps.params()`, `views` and `new_viewer`; the late-day test reads
    `:stamp_late AND period_day = :stamp_next_day`.
    """
    views = sa.bindparam("views", type_=sa.BigInteger)
    day = sa.bindparam("stamp_day", type_=sa.Date)
    month = sa.bindparam("stamp_month", type_=sa.Date)
    late_day = sa.and_(sa.bindparam("stamp_late", type_=sa.Boolean),
                       Video.period_day == sa.bindparam("stamp_next_day", type_=sa.Date))
    late_month = sa.and_(late_day, Video.period_month == sa.bindparam("stamp_next_month", type_=sa.Date))
    new_viewer = sa.bindparam("new_viewer", type_=sa.Integer)
    return {
        "views_today": sa.case((Video.period_day == day, Video.views_today + views),
                               (late_day, Video.views_today), else_=views),
        "uniques_today": sa.case((Video.period_day == day, Video.uniques_today + new_viewer),
                                 (late_day, Video.uniques_today), else_=new_viewer),
        "views_month": sa.case((Video.period_month == month, Video.views_month + views),
                               (late_month, Video.views_month), else_=views),
        **_stamped(day, month, late_day, late_month),
    }


def _stamped(day, month, late_day, late_month) -> dict:
    return {
        "period_day": sa.case((late_day, Video.period_day), else_=day),
        "period_month": sa.case((late_month, Video.period_month), else_=month),
    }
