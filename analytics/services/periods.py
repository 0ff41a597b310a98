"""The dashboard's periods: runs of local days, named (today, last 7 days, …) or chosen from–to."""

from dataclasses import dataclass
from datetime import date, timedelta

from ..clock import Clock
from .errors import InvalidInput

# The names of the address (?period=) and of the picker, in its order.
NAMED = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last-7-days": "Last 7 days",
    "last-30-days": "Last 30 days",
    "this-month": "This month",
    "last-month": "Last month",
    "last-12-months": "Last 12 months",
}
# A chart of more days than this has a bar per month: 366 bars is already a thin comb.
DAILY_CHART_MAX = 366
# The longest custom range, about ten years: 121 monthly bars at most, and a bound on what one page adds up.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Span:
    """The local days from `first` to `last`, both included; `name` is a key of NAMED, or "custom"."""

    first: date
    last: date
    name: str = "custom"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def monthly(self) -> bool:
        """Tell whether the chart has a bar per month rather than per day."""
        return self.name == "last-12-months" or self.days > DAILY_CHART_MAX

    @property
    def title(self) -> str:
        """Name the span for people: "Last 7 days, 2026-03-08 to 2026-03-14"."""
        dates = self.first.isoformat() if self.days == 1 else f"{self.first.isoformat()} to {self.last.isoformat()}"
        return dates if self.name == "custom" else f"{NAMED[self.name]}, {dates}"

    def months(self) -> list[date]:
        """Return the first day of each month the span touches, oldest first."""
        months, month = [], self.first.replace(day=1)
        while month <= self.last:
            months.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return months


def named(name: str, clock: Clock) -> Span:
    """Return the span a period name means today, in the configured time zone.

    Every named period ends today, except yesterday and last month. "This
    month" runs from the 1st to today; "last 12 months" is this month and
    the 11 before it, whole except for this one.
    """
    today = clock.today()
    month = today.replace(day=1)
    first, last = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "last-7-days": (today - timedelta(days=6), today),
        "last-30-days": (today - timedelta(days=29), today),
        "this-month": (month, today),
        "last-month": ((month - timedelta(days=1)).replace(day=1), month - timedelta(days=1)),
        "last-12-months": (_months_before(month, 11), today),
    }[name]
    return Span(first, last, name)


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def between(first: date, last: date, clock: Clock) -> Span:
    """Return the custom span from `first` to `last`.

    :raises InvalidInput: code invalid_period, when `first` is after
        `last`, `last` is after today (nothing is counted there yet) or the
        span is longer than MAX_DAYS.
    """
    today = clock.today()
    if first > last:
        raise InvalidInput(f"The period starts ({first}) after it ends ({last}); swap the dates",
                           code="invalid_period")
    if last > today:
        raise InvalidInput(f"The period ends after today ({today}); nothing is counted there yet",
                           code="invalid_period")
    span = Span(first, last)
    if span.days > MAX_DAYS:
        raise InvalidInput(f"A period is at most {MAX_DAYS:,} days long; this one has {span.days:,}",
                           code="invalid_period")
    return span
