"""Time, in one place: services ask a clock, so tests can set the hour."""

import re
import time as system_time
from dataclasses import dataclass
from functools import cached_property
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from .context import running_app


def utc_now() -> datetime:
    """Return the current moment as an aware UTC datetime."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Period:
    """The local day and month (its first day) that a moment falls in."""

    day: date
    month: date

    @cached_property
    def next_day(self) -> date:
        return self.day + timedelta(days=1)

    @cached_property
    def next_month(self) -> date:
        return (self.month + timedelta(days=32)).replace(day=1)


class Clock:
    """Tell the time and the local period in the configured time zone."""

    def __init__(self, tz: str | ZoneInfo = "UTC", now: Callable[[], datetime] = utc_now):
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self._now = now
        # The system clock, as now() reads it: second() may then ask time.time() (a subclass's now() may differ).
        self._system = now is utc_now and type(self).now is Clock.now
        self._periods: dict[float, Period] = {}  # by whole UTC second: every view asks a few times

    def now(self) -> datetime:
        """Return the current moment, aware, in UTC."""
        moment = self._now()
        return moment if moment.tzinfo is timezone.utc else moment.astimezone(timezone.utc)

    def second(self) -> float:
        """Return the current whole second as a UTC timestamp: what the rules kept per second are keyed on.

        The system clock answers from time.time(), the clock datetime.now reads,
        without making a datetime (a cached stats answer asks once).
        """
        if self._system:
            return system_time.time() // 1
        return self.now().timestamp() // 1

    def period(self, moment: datetime | None = None) -> Period:
        """Return the local day and month of `moment` (default: now)."""
        # A zone's offsets are whole seconds: one second, one local day.
        second = self.second() if moment is None else moment.timestamp() // 1
        period = self._periods.get(second)
        if period is None:
            if len(self._periods) >= 64:
                self._periods.clear()
            day = (moment or datetime.fromtimestamp(second, timezone.utc)).astimezone(self.tz).date()
            period = self._periods[second] = Period(day=day, month=day.replace(day=1))
        return period

    def today(self) -> date:
        """Return the local date now."""
        return self.period().day

    def start_of(self, day: date) -> datetime:
        """Return the first instant of a local day, in UTC.

        Where a DST change skips midnight, the day begins at the change
        (zoneinfo reads a missing 00:00 with the offset before it); where
        midnight happens twice, at the first of them.
        """
        return datetime.combine(day, time(0), tzinfo=self.tz).astimezone(timezone.utc)

    def next_day_start(self) -> datetime:
        """Return when the next local day begins, in UTC."""
        now = self.now()
        tomorrow = self.period(now).next_day
        start = self.start_of(tomorrow)
        if start <= now:  # a DST change set the clock back across midnight: 00:00 comes again
            start = datetime.combine(tomorrow, time(0, fold=1), tzinfo=self.tz).astimezone(timezone.utc)
        return start

    def next_month_start(self) -> datetime:
        """Return when the next local month begins, in UTC."""
        return self.start_of(self.period().next_month)


class ManualClock(Clock):
    """A clock that stands still until it is set or advanced (for tests and tools)."""

    def __init__(self, start: datetime, tz: str | ZoneInfo = "UTC"):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.moment = start
        super().__init__(tz, now=lambda: self.moment)

    def set(self, moment: datetime) -> None:
        """Move the clock to `moment` (aware)."""
        self.moment = moment

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a timedelta given as keywords."""
        self.moment = self.moment + timedelta(**delta)


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str) -> date | None:
    """Return the day written YYYY-MM-DD in `text`, or None for any other text (fromisoformat takes more forms)."""
    if _ISO_DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:  # such as 2026-02-30
            pass
    return None


def iso_utc(moment: datetime) -> str:
    """Format an aware moment as ISO 8601 in UTC with a Z."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def current_clock() -> Clock:
    """Return the clock of the running app."""
    return running_app().extensions["viewtally.clock"]
