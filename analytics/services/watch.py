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
import logging
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from ..clock import Clock, Period
from ..context import running_app
from ..database import insert, read_transaction, write_transaction
from ..models import RETENTION_BUCKETS, RETENTION_COLUMNS, DailySummary, DailyWatch, Video, WatchedView
from . import stats_cache
from .counts import WatchSums
from .errors import InvalidInput, VideoNotFound
from .group_commit import GroupCommit
from .pacing import delete_paced

log = logging.getLogger(__name__)

REPORT_HOURS = 24  # how long after its view a report still counts
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
    def checked(cls, video_id: str, view_id: str, seconds, position, duration) -> "Report":
        """Return the report of these values, checked: 0 ≤ seconds ≤ 86400 and 0 ≤ position ≤ duration ≤ 86400.

        :raises InvalidInput: a value missing, not a number, or out of range.
        """
        values = {name: _seconds(name, value) for name, value in
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


def _seconds(name: str, value) -> float:
    if isinstance(value, str):  # a form body's fields are text
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


def _write_reports(items) -> list:
    """Write a batch of reports in one transaction, each view's row in one order (no deadlock across workers)."""
    results: list = [None] * len(items)
    with write_transaction() as connection:
        for i in sorted(range(len(items)), key=lambda n: (items[n][0].video_id, items[n][0].view)):
            try:
                results[i] = _write_report(connection, *items[i])
            except VideoNotFound as error:  # raised before the report wrote anything
                results[i] = error
    return results


def _write_report(connection, report: Report, now) -> WatchOutcome:
    """Replace the view's last report with this one, and move its day's sums by the difference."""
    row = connection.execute(_VIEW_ROW.with_for_update() if connection.dialect.name == "postgresql" else _VIEW_ROW,
                             {"video": report.video_id, "view": report.view,
                              "since": now - timedelta(hours=REPORT_HOURS)}).first()
    if row is None:
        if connection.scalar(sa.select(Video.id).where(Video.id == report.video_id)) is None:
            raise VideoNotFound(report.video_id)
        return WatchOutcome("unknown_view")
    day, reported, watch_ms, position_ms, reached, completed = row
    new_watch, new_position = max(watch_ms, report.watch_ms), max(position_ms, report.position_ms)
    new_reached, new_completed = max(reached, report.reached()), completed or report.completed()
    connection.execute(sa.update(WatchedView).where(
        WatchedView.video_id == report.video_id, WatchedView.view == report.view,
    ).values(reported=True, watch_ms=new_watch, position_ms=new_position, reached=new_reached,
             completed=new_completed))
    added = {"reports": 0 if reported else 1, "watch_ms": new_watch - watch_ms,
             "completions": int(new_completed and not completed),
             **{column.name: int(reached <= n < new_reached) for n, column in enumerate(RETENTION_COLUMNS)}}
    upsert = insert(connection, DailyWatch).values(video_id=report.video_id, day=day, **added)
    connection.execute(upsert.on_conflict_do_update(
        index_elements=[DailyWatch.video_id, DailyWatch.day],
        set_={name: getattr(DailyWatch.__table__.c, name) + getattr(upsert.excluded, name) for name in added}))
    if added["watch_ms"]:
        site = insert(connection, DailySummary).values(day=day, watch_ms=added["watch_ms"])
        connection.execute(site.on_conflict_do_update(
            index_elements=[DailySummary.day], set_={"watch_ms": DailySummary.watch_ms + site.excluded.watch_ms}))
    return WatchOutcome()


_VIEW_ROW = (sa.select(WatchedView.day, WatchedView.reported, WatchedView.watch_ms, WatchedView.position_ms,
                       WatchedView.reached, WatchedView.completed)
             .join(Video, Video.id == WatchedView.video_id)
             .where(WatchedView.video_id == sa.bindparam("video"),
                    WatchedView.view == sa.bindparam("view", type_=WatchedView.view.type),
                    WatchedView.counted_at > sa.bindparam("since", type_=WatchedView.counted_at.type)))


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
    """Delete the views that can no longer report; return how many went."""
    cutoff = clock.now() - timedelta(hours=REPORT_HOURS)
    return delete_paced((WatchedView.video_id, WatchedView.view), WatchedView.counted_at <= cutoff,
                        order_by=WatchedView.counted_at)
