"""A video's counts, and what became of a view."""

from dataclasses import dataclass
from datetime import date

from .stamps import Stamps


# Made for every view, so slotted rather than frozen (a frozen dataclass of five fields took
# 1.7 µs to make, a slotted one 0.3 µs); none is changed once made, and one may answer several views.
@dataclass(slots=True)
class Counts:
    """A video's views today, this month and in all, and its distinct viewers today (never changed once made)."""

    video_id: str
    views_today: int
    views_month: int
    views_total: int
    uniques_today: int = 0
    # What the views reported playing (services/watch.py): only the stats answer reads these.
    watch_ms_today: int | None = None
    watch_ms_month: int | None = None
    completions_today: int | None = None


@dataclass(slots=True)  # made per view: see Counts
class Outcome:
    """What became of a view: counted, or why not, with the video's counts after it."""

    counts: Counts
    reason: str | None = None

    @property
    def counted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class CounterRow:
    """A video's counters as stored, with the periods they belong to."""

    video_id: str
    views_today: int
    views_month: int
    views_total: int
    uniques_today: int
    period_day: date
    period_month: date

    def __reduce__(self):
        # The stats cache pickles rows: plain values load in half the time of a dataclass with dates.
        return (_counter_row, (self.video_id, self.views_today, self.views_month, self.views_total,
                               self.uniques_today, self.period_day.toordinal(), self.period_month.toordinal()))

    def after_views(self, stamps: Stamps, views: int, new_viewers: int) -> "CounterRow":
        """Return the counters after `views` more views by the stamps rule, as `after_views_bound` writes them.

        Where nothing else can write between the read and the write (SQLite's
        write lock), this spares reading the counters back.
        """
        period = stamps.period
        late_day, late_month = stamps.late(self.period_day, self.period_month)
        if self.period_day == period.day:
            today, uniques = self.views_today + views, self.uniques_today + new_viewers
        elif late_day:
            today, uniques = self.views_today, self.uniques_today
        else:
            today, uniques = views, new_viewers
        if self.period_month == period.month:
            month = self.views_month + views
        else:
            month = self.views_month if late_month else views
        return CounterRow(self.video_id, today, month, self.views_total + views, uniques,
                          self.period_day if late_day else period.day,
                          self.period_month if late_month else period.month)

    def counts(self, stamps: Stamps, watched: "WatchSums | None" = None) -> Counts:
        """Return the counts by the stamps rule (a stale period counter is 0), with the watch sums if given."""
        day, month = stamps.current(self.period_day, self.period_month)
        counts = Counts(
            video_id=self.video_id,
            views_today=self.views_today if day else 0,
            views_month=self.views_month if month else 0,
            views_total=self.views_total,
            uniques_today=self.uniques_today if day else 0,
        )
        if watched is not None:
            counts.watch_ms_today, counts.watch_ms_month, counts.completions_today = watched[2:]
        return counts


# A video's watch time as of one local day: (that day's ordinal, its month's first day's ordinal,
# watch ms that day, watch ms that month, completions that day). Plain values, as the cache keeps them.
WatchSums = tuple[int, int, int, int, int]


def _counter_row(video_id, views_today, views_month, views_total, uniques_today, day, month) -> CounterRow:
    return CounterRow(video_id, views_today, views_month, views_total, uniques_today,
                      date.fromordinal(day), date.fromordinal(month))
