"""Watch time: what a counted view's player reports it played, summed per video and day.

The player (track.js) gives each view it sends a random id and reports,
under that id, the seconds played, the furthest point reached and the
video's duration: when the video ends, and when its page is hidden or left.
Reports are cumulative, so each replaces the view's last one: the day's
sums move by the difference, and a page hidden twice counts once. A report
never lowers what the view reported before (beacons may arrive out of
order). Only a view counted in the last 24 hours may report; its row goes
with the hourly purge after that, and the day's sums are all that is kept.
"""

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import sqlalchemy as sa

from ..clock import Clock, Period
from ..context import running_app
from ..database import dialect_insert, read_transaction, write_transaction
from ..models import RETENTION_BUCKETS, RETENTION_COLUMNS, SUMMARY_COLUMNS, DailySummary, DailyWatch, Video, WatchedView
from ..prepared import Prepared
from . import stats_cache
from .counts import WatchSums
from .errors import InvalidInput, VideoNotFound
from .group_commit import GroupCommit, deadlocked, each_alone_on_failure
from .pacing import delete_paced

REPORT_HOURS = 24  # how long after its view a report may count (the purge deletes its row from the 23rd hour)
MAX_SECONDS = 86_400  # the longest duration, and the most seconds one view may report
COMPLETED = 0.9  # a view reaching this share of the duration is a completion
_WRITER = "viewtally.watch_writer"  # in app.extensions: this process's GroupCommit of reports


@dataclass(frozen=True, slots=True)
class Report:
    """What a player says one view played, in milliseconds: played, the furthest point, the video's length."""

    video_id: str
    view: bytes  # view_hash of the player's id
    watch_ms: int
    position_ms: int
    duration_ms: int

    @classmethod
    def checked(cls, video_id: str, view_id: str, seconds, position, duration, text: bool = False) -> "Report":
        """Return the report of these values, checked: 0 ≤ seconds ≤ 86400 and 0 ≤ position ≤ duration ≤ 86400.

        `text`: the values come as a form's text, to be read as numbers (JSON's must be numbers).

        :raises InvalidInput: a value missing, not a number, or out of range.
        """
        values = {name: _seconds(name, value, text) for name, value in
                  (("seconds", seconds), ("position", position), ("duration", duration))}
        if not values["position"] <= values["duration"]:
            raise InvalidInput("'position' must not be past 'duration'", code="invalid_watch")
        return cls(video_id, view_hash(view_id), *(round(values[name] * 1000)
                                                   for name in ("seconds", "position", "duration")))

    def reached(self) -> int:
        """How many twentieths of the video this view reached the start of (0 with no known duration)."""
        if self.duration_ms <= 0:
            return 0
        return min(RETENTION_BUCKETS, self.position_ms * RETENTION_BUCKETS // self.duration_ms + 1)

    def completed(self) -> bool:
        return self.duration_ms > 0 and self.position_ms >= COMPLETED * self.duration_ms


def _seconds(name: str, value, text: bool) -> float:
    if text and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_SECONDS:
        raise InvalidInput(f"'{name}' must be a number of seconds from 0 to {MAX_SECONDS}", code="invalid_watch")
    return float(value)


def view_hash(view_id: str) -> bytes:
    """Return the stored form of a player's view id: 16 bytes, whatever its length."""
    return hashlib.blake2b(view_id.encode(), digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class WatchOutcome:
    """Whether a report counted, or why not ("unknown_view": no counted view of that id in 24 hours)."""

    reason: str | None = None

    @property
    def counted(self) -> bool:
        return self.reason is None


def record(report: Report, clock: Clock) -> WatchOutcome:
    """Take a report, with those of concurrent requests in one transaction; say whether it counted.

    :raises VideoNotFound:
    """
    writer = running_app().extensions.get(_WRITER)
    if writer is None:
        writer = running_app().extensions.setdefault(_WRITER, GroupCommit(_write_reports))
    outcome = writer.submit((report, clock.now()))
    if outcome.counted:
        stats_cache.forget(report.video_id)
    return outcome


def _write_reports(items: list[tuple[Report, datetime]]) -> list[WatchOutcome | Exception]:
    """Write a batch of reports in one transaction; should PostgreSQL find a deadlock, write each alone."""
    return each_alone_on_failure(_write_batch, items, deadlocked, "watch reports")


def _write_batch(items: list[tuple[Report, datetime]]) -> list[WatchOutcome | Exception]:
    """Write a batch of reports in one transaction: each view's row and each day's sums once.

    The batch reads its views' rows in one statement (locked in one order
    on PostgreSQL, so two workers cannot deadlock), decides each report in
    arrival order (a later report of the same view sees the earlier one),
    and writes the rows and the sums with one executemany each.
    """
    results: list[WatchOutcome | Exception | None] = [None] * len(items)
    with write_transaction() as connection:
        keys = sorted({(report.video_id, report.view) for report, _ in items})
        held = {}
        for start in range(0, len(keys), _KEYS_AT_ONCE):
            chunk = keys[start:start + _KEYS_AT_ONCE]
            params = {}
            for n, (video_id, view) in enumerate(chunk):
                params[f"video_{n}"], params[f"view_{n}"] = video_id, view
            statement = _view_rows_of(len(chunk), connection.dialect.name == "postgresql")
            for video_id, view, day, counted_at, *state in statement.rows(connection, params):
                held[(video_id, view)] = (day, counted_at, _State(*state))
        changed: dict[tuple, tuple] = {}
        days: dict[tuple[str, date], Counter] = defaultdict(Counter)
        missing: list[int] = []
        for i, (report, now) in enumerate(items):
            found = held.get((report.video_id, report.view))
            if found is None or found[1] <= now - timedelta(hours=REPORT_HOURS):
                missing.append(i)
                continue
            day, counted_at, before = found
            after = before.after(report, _most_ms(now - counted_at))
            held[(report.video_id, report.view)] = changed[(report.video_id, report.view)] = (day, counted_at, after)
            days[(report.video_id, day)].update(after.minus(before))
            results[i] = WatchOutcome()
        if missing:
            known = set(connection.execute(sa.select(Video.id).where(
                Video.id.in_({items[i][0].video_id for i in missing}))).scalars())
            for i in missing:
                video_id = items[i][0].video_id
                results[i] = WatchOutcome("unknown_view") if video_id in known else VideoNotFound(video_id)
        _SET_VIEW.run_many(connection, [{"video": video_id, "view": view, **state.params()}
                                        for (video_id, view), (_, _, state) in sorted(changed.items())])
        _ADD_TO_DAY.run_many(connection, [{"video": video_id, "on_day": day, **{name: added[name] for name in _SUMS}}
                                          for (video_id, day), added in sorted(days.items())])
        site: Counter = Counter()
        for (_, day), added in days.items():
            site[day] += added["watch_ms"]
        _ADD_TO_SITE.run_many(connection, [{"on_day": day, "watch_ms": ms} for day, ms in sorted(site.items()) if ms])
    return results


@dataclass(frozen=True, slots=True)
class _State:
    """What one view has reported so far, as its row holds it."""

    reported: bool = False
    watch_ms: int = 0
    position_ms: int = 0
    reached: int = 0
    completed: bool = False

    def after(self, report: Report, most_ms: int) -> "_State":
        """The view's state once `report` replaces the last one: nothing it reported before is lowered.

        The time played is capped at `most_ms`: what the view could have played since it was counted.
        """
        return _State(True, max(self.watch_ms, min(report.watch_ms, most_ms)),
                      max(self.position_ms, report.position_ms), max(self.reached, report.reached()),
                      self.completed or report.completed())

    def minus(self, before: "_State") -> dict[str, int]:
        """What the day's sums gain from `before` to this state (every difference is 0 or more)."""
        return {"reports": int(self.reported and not before.reported), "watch_ms": self.watch_ms - before.watch_ms,
                "completions": int(self.completed and not before.completed),
                **{column.name: int(before.reached <= n < self.reached) for n, column in enumerate(RETENTION_COLUMNS)}}

    def params(self) -> dict:
        return {"reported": self.reported, "watch_ms": self.watch_ms, "position_ms": self.position_ms,
                "reached": self.reached, "completed": self.completed}


_KEYS_AT_ONCE = 50
# The most a view may have played per second since it counted: a player's fastest rate (16x in
# browsers), plus a minute for clocks and the view's own trip.
FASTEST_RATE, SLACK_SECONDS = 16, 60


def _most_ms(since_counted: timedelta) -> int:
    return int((since_counted.total_seconds() + SLACK_SECONDS) * FASTEST_RATE * 1000)
_SUMS = ("reports", "watch_ms", "completions", *(column.name for column in RETENTION_COLUMNS))


@cache
def _view_rows_of(count: int, locked: bool) -> Prepared:
    """The rows of each of (:video_n, :view_n) for n < `count` whose video exists, locked on PostgreSQL."""
    def build(_):
        statement = sa.select(WatchedView.video_id, WatchedView.view, WatchedView.day, WatchedView.counted_at,
                              WatchedView.reported, WatchedView.watch_ms, WatchedView.position_ms,
                              WatchedView.reached, WatchedView.completed,
                              ).join(Video, Video.id == WatchedView.video_id).where(sa.or_(*(
            sa.and_(WatchedView.video_id == sa.bindparam(f"video_{n}"),
                    WatchedView.view == sa.bindparam(f"view_{n}", type_=WatchedView.view.type))
            for n in range(count))))
        if not locked:
            return statement
        # Locked in the order the batch sorted its keys (Python's, which is C collation's), and
        # FOR UPDATE OF the view rows alone: the videos' rows stay free for counting views.
        return statement.order_by(WatchedView.video_id.collate("C"), WatchedView.view).with_for_update(of=WatchedView)
    return Prepared(build)


_SET_VIEW = Prepared(lambda _: sa.update(WatchedView).where(
    WatchedView.video_id == sa.bindparam("video"),
    WatchedView.view == sa.bindparam("view", type_=WatchedView.view.type),
).values(**{name: sa.bindparam(name, type_=getattr(WatchedView, name).type)
            for name in ("reported", "watch_ms", "position_ms", "reached", "completed")}))


def _add_to_day(dialect_name: str):
    """An upsert adding to every sum of a video's day (bound by the columns' names)."""
    added = {name: sa.bindparam(name, type_=sa.BigInteger) for name in _SUMS}
    upsert = dialect_insert(dialect_name, DailyWatch).values(
        video_id=sa.bindparam("video"), day=sa.bindparam("on_day", type_=DailyWatch.day.type), **added)
    table = DailyWatch.__table__
    return upsert.on_conflict_do_update(index_elements=[DailyWatch.video_id, DailyWatch.day],
                                        set_={name: table.c[name] + value for name, value in added.items()})


def _add_to_site(dialect_name: str):
    """An upsert adding :watch_ms to the site's day."""
    watch_ms = sa.bindparam("watch_ms", type_=sa.BigInteger)
    zero = {name: sa.literal_column("0") for name in ("views", *SUMMARY_COLUMNS)}  # columns with Python defaults
    upsert = dialect_insert(dialect_name, DailySummary).values(
        day=sa.bindparam("on_day", type_=DailySummary.day.type), watch_ms=watch_ms, **zero)
    return upsert.on_conflict_do_update(index_elements=[DailySummary.day],
                                        set_={"watch_ms": DailySummary.watch_ms + watch_ms})


_ADD_TO_DAY = Prepared(_add_to_day)
_ADD_TO_SITE = Prepared(_add_to_site)


@dataclass(frozen=True, slots=True)
class Watching:
    """What a video's views reported over some days: reports, watch time, completions, the retention curve."""

    reports: int
    watch_ms: int
    completions: int
    reached: tuple[int, ...]  # views that reached each twentieth, from the start

    @property
    def average_seconds(self) -> float | None:
        return self.watch_ms / self.reports / 1000 if self.reports else None

    @property
    def completion_rate(self) -> float | None:
        return self.completions / self.reports if self.reports else None

    @property
    def average_share(self) -> float | None:
        """About how much of the video the views that reported reached, from the curve.

        A view that reached the start of k twentieths stopped within the k-th:
        taken at its middle, the estimate is off by at most a fortieth.
        """
        if not self.reached or not self.reached[0]:
            return None
        return (sum(self.reached) - self.reached[0] / 2) / (len(self.reached) * self.reached[0])


def watching(video_id: str, first: date, last: date) -> Watching:
    """Return what a video's views counted from `first` to `last` (local days) reported."""
    with read_transaction() as connection:
        row = connection.execute(sa.select(*(sa.func.coalesce(sa.func.sum(column), 0) for column in (
            DailyWatch.reports, DailyWatch.watch_ms, DailyWatch.completions, *RETENTION_COLUMNS))).where(
            DailyWatch.video_id == video_id, DailyWatch.day.between(first, last))).one()
    reports, watch_ms, completions, *reached = (int(value) for value in row)
    return Watching(reports, watch_ms, completions, tuple(reached))


def sums(connection, video_id: str, period: Period) -> WatchSums:
    """Return a video's watch time today and this month, and today's completions, as the stats cache keeps them."""
    today = DailyWatch.day == period.day
    row = connection.execute(sa.select(
        sa.func.coalesce(sa.func.sum(sa.case((today, DailyWatch.watch_ms))), 0),
        sa.func.coalesce(sa.func.sum(DailyWatch.watch_ms), 0),
        sa.func.coalesce(sa.func.sum(sa.case((today, DailyWatch.completions))), 0),
    ).where(DailyWatch.video_id == video_id, DailyWatch.day.between(period.month, period.day))).one()
    return (period.day.toordinal(), period.month.toordinal(), *(int(value) for value in row))


def purge_expired(clock: Clock) -> int:
    """Delete the views an hour before they can no longer report; return how many went.

    The purge runs hourly: deleting at 23 hours, no row is left past its 24.
    """
    cutoff = clock.now() - timedelta(hours=REPORT_HOURS - 1)
    return delete_paced((WatchedView.video_id, WatchedView.view), WatchedView.counted_at <= cutoff,
                        order_by=WatchedView.counted_at)
