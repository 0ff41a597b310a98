"""Writing a batch of views in one transaction: the rows each view touches, in one order.

Every statement is prepared once per dialect (see prepared.py) and run with
bound values. Viewer rows are decided one view at a time, since a repeat
depends on the rows before it; counters, daily rows and the site's sums
change once per batch, by the batch's number of views.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..database import dialect_insert
from ..models import (BUCKET_SECONDS, ORIGIN_CANDIDATES, OTHER_ORIGINS, SUMMARY_COLUMNS, DailyOrigin, DailySummary,
                      DailyView, DayViewer, RecentView, Video, VideoViewLog, ViewBucket, WatchedView)
from ..prepared import Prepared
from .counts import CounterRow, Counts, Outcome
from .errors import VideoNotFound
from .stamps import Stamps, after_views_bound


@dataclass(slots=True)  # made per view, so slotted rather than frozen (see counts.Counts)
class View:
    """A view as the write needs it: everything about the viewer is decided before the batch."""

    video_id: str
    now: datetime
    stamps: Stamps
    reason: str | None = None  # why it is not counted, when screening already knows
    viewer: bytes = b""
    elsewhere: tuple[tuple[date, bytes], ...] = ()  # (day, hash) of the viewer on other days the window reaches
    lock: int | None = None  # PostgreSQL: one such viewer and video at a time across those days
    cutoff: datetime | None = None  # a view of this viewer counted after it makes this one a repeat
    watched: bytes | None = None  # the hash of the player's view id, whose watch reports this view takes
    origin: str | None = None  # the embedding site, counted with the view


def write(connection: Connection, views: list[View]) -> list[Outcome | Exception]:
    """Write the views in the open transaction and return each one's outcome (or error), in their order.

    Rows are touched in one order in every batch (viewer rows by video, day
    and viewer, then counters by video, then daily rows, then the site's rows),
    so two batches in two PostgreSQL workers cannot deadlock. (SQLite's batches,
    one at a time under its write lock, write their viewer rows by day first.)
    """
    if connection.dialect.name == "postgresql":
        for lock in sorted({view.lock for view in views if view.lock is not None}):
            _VIEWER_LOCK.rows(connection, {"id": lock})
    found = counter_rows(connection, sorted({view.video_id for view in views}))
    results: list[Outcome | Exception | None] = [None] * len(views)
    site: dict[date, Counter] = defaultdict(Counter)
    counted: dict[tuple, list[tuple[int, bool]]] = defaultdict(list)  # (video, period, late) -> [(i, first today)]
    # By day too: a viewer's hash differs from day to day, and their view before midnight
    # must be decided before their view after it, as it would have been alone.
    order = sorted(range(len(views)), key=lambda n: (views[n].video_id, views[n].stamps.period.day,
                                                     views[n].viewer, n))
    viewer_rows = _viewer_rows(connection, [views[i] for i in order
                                            if views[i].video_id in found and views[i].reason is None])
    for i in order:
        view = views[i]
        if view.video_id not in found:
            results[i] = VideoNotFound(view.video_id)
        elif view.reason is not None:
            site[view.stamps.period.day][view.reason] += 1
        elif (views_of_viewer := viewer_rows.note(view)) is None:
            site[view.stamps.period.day]["duplicate"] += 1
        else:
            counted[(view.video_id, view.stamps.period, view.stamps.late_views)].append((i, views_of_viewer == 1))
    viewer_rows.write()

    latest: dict[str, Counts] = {}
    log_rows, watched_rows, first_of_day = [], [], set()
    origins: Counter = Counter()  # (video, day, origin) -> views
    days: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])  # (video, day) -> [views, new viewers]
    buckets: Counter = Counter()
    groups = [(video_id, views[members[0][0]].stamps, members, sum(first for _, first in members))
              for (video_id, *_), members in sorted(counted.items(),
                                                    key=lambda item: (item[0][0], views[item[1][0][0]].now))]
    added = _add_to_counters(connection, found, [(video_id, stamps, len(members), new)
                                                 for video_id, stamps, members, new in groups])
    for (video_id, stamps, members, new), counts in zip(groups, added):
        if counts is None:  # deleted since the batch began (PostgreSQL); its viewer rows are harmless
            for i, _ in members:
                results[i] = VideoNotFound(video_id)
            continue
        latest[video_id] = counts
        day = stamps.period.day
        days[(video_id, day)][0] += len(members)
        days[(video_id, day)][1] += new
        site[day]["views"] += len(members)
        for i, first in members:
            view = views[i]
            results[i] = Outcome(counts)
            log_rows.append({"video": video_id, "now": view.now})
            if view.watched is not None:
                watched_rows.append({"video": video_id, "view": view.watched, "on_day": day, "now": view.now})
            if view.origin is not None:
                origins[(video_id, day, view.origin)] += 1
            buckets[bucket_start(view.now)] += 1
            if first:
                first_of_day.add((day, view.viewer))
    _ADD_TO_DAY.run_many(connection, [{"video": video_id, "on_day": day, "views": n, "new_viewer": new}
                                      for (video_id, day), (n, new) in sorted(days.items())])
    _ADD_TO_LOG.run_many(connection, log_rows)
    if watched_rows:
        _ADD_WATCHED.run_many(connection, watched_rows)
    if origins:
        _ADD_TO_ORIGIN.run_many(connection, [{"video": video_id, "on_day": day, "origin": origin, "views": n}
                                             for (video_id, day, origin), n in sorted(origins.items())])
    for day in sorted({day for day, _ in first_of_day}):  # the rows inserted are the day's new viewers
        site[day]["unique_viewers"] += _FIRST_ON_SITE.run_many(connection, [
            {"on_day": day, "viewer_hash": viewer} for on_day, viewer in sorted(first_of_day) if on_day == day])
    _ADD_TO_SUMMARY.run_many(connection, [{"on_day": day, **{name: added[name] for name in SITE_COLUMNS}}
                                          for day, added in sorted(site.items())])
    _ADD_TO_BUCKET.run_many(connection, [{"start": start, "views": n} for start, n in sorted(buckets.items())])

    for i, view in enumerate(views):
        if results[i] is None:
            counts = latest.get(view.video_id) or found[view.video_id].counts(view.stamps)
            results[i] = Outcome(counts, view.reason or "duplicate")
    return results


def _add_to_counters(connection: Connection, found: dict[str, CounterRow],
                     groups: list[tuple[str, Stamps, int, int]]) -> list[Counts | None]:
    """Add each (video, stamps, views, new viewers) to the video's counters; return each one's counts after it.

    One executemany for the batch. On SQLite nothing can write between the
    batch's first read of the counters (`found`) and this, so the counts
    after it follow from those by the same rule; elsewhere one read gets
    what the batch left. A video with views on both sides of midnight in
    one batch has two groups, each of which must answer the counts as of
    its own day: such a batch adds group by group, each returning its counts.
    """
    params = [{"video": video_id, "views": n, "new_viewer": new, **stamps.params()}
              for video_id, stamps, n, new in groups]
    if len({video_id for video_id, *_ in groups}) < len(groups):
        return [None if (row := _ADD_TO_COUNTERS.first(connection, one)) is None else Counts(one["video"], *row)
                for one in params]
    _ADD_TO_COUNTERS_MANY.run_many(connection, params)
    if connection.dialect.name == "sqlite":
        return [found[video_id].after_views(stamps, n, new).counts(stamps) for video_id, stamps, n, new in groups]
    after = counter_rows(connection, sorted(video_id for video_id, *_ in groups))
    return [None if (row := after.get(video_id)) is None else row.counts(stamps) for video_id, stamps, *_ in groups]


def counter_rows(connection: Connection, video_ids: list[str]) -> dict[str, CounterRow]:
    """Return the counters as stored of those of the videos that exist, by id, a few dozen per statement."""
    found = {}
    for start in range(0, len(video_ids), _IDS_AT_ONCE):
        chunk = video_ids[start:start + _IDS_AT_ONCE]
        params = {f"video_{n}": video_id for n, video_id in enumerate(chunk)}
        for row in _counter_rows_of(len(chunk)).rows(connection, params):
            found[row[0]] = CounterRow(*row)
    return found


def bucket_start(moment: datetime) -> datetime:
    """Return the UTC start of the view bucket holding `moment`."""
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % BUCKET_SECONDS, timezone.utc)


def _viewer_rows(connection: Connection, views: list[View]):
    """Return how this batch notes its viewers: all at once on SQLite, else one statement per view.

    Views near midnight, whose window reaches another day, are noted one by
    one everywhere: their check reads the other day's rows as the batch leaves them.
    """
    if connection.dialect.name == "sqlite" and not any(view.elsewhere for view in views):
        return _HeldViewerRows(connection, views)
    return _EachViewerRow(connection)


class _EachViewerRow:
    """Each view's viewer row upserted by its own statement, which decides a repeat in the database."""

    def __init__(self, connection: Connection):
        self.connection = connection

    def note(self, view: View) -> int | None:
        return _note_view(self.connection, view)

    def write(self) -> None:
        pass


class _HeldViewerRows:
    """The batch's viewer rows read in one statement, decided here, and written in one executemany.

    Only under SQLite's write lock, where nothing else can change the rows
    meanwhile: the rule is _note_viewer's (a view of a viewer counted after
    the cutoff is a repeat), and a statement per view cost more than its row.
    """

    def __init__(self, connection: Connection, views: list[View]):
        self.connection = connection
        self.rows: dict[tuple[date, str, bytes], tuple[datetime, int]] = {}  # key -> (counted at, views)
        self.changed: set[tuple[date, str, bytes]] = set()
        keys = sorted({(view.stamps.period.day, view.video_id, view.viewer) for view in views})
        for start in range(0, len(keys), _IDS_AT_ONCE):
            chunk = keys[start:start + _IDS_AT_ONCE]
            params = {}
            for n, (day, video_id, viewer) in enumerate(chunk):
                params[f"day_{n}"], params[f"video_{n}"], params[f"viewer_{n}"] = day, video_id, viewer
            for day, video_id, viewer, counted_at, seen in _viewer_rows_of(len(chunk)).rows(connection, params):
                self.rows[(day, video_id, viewer)] = (counted_at, seen)

    def note(self, view: View) -> int | None:
        """Return the viewer's views of the video that day with this one, or None for a repeat."""
        key = (view.stamps.period.day, view.video_id, view.viewer)
        row = self.rows.get(key)
        if row is not None and view.cutoff is not None and row[0] > view.cutoff:
            return None
        seen = 1 if row is None else row[1] + 1
        self.rows[key] = (view.now, seen)
        self.changed.add(key)
        return seen

    def write(self) -> None:
        rows = []
        for key in sorted(self.changed):
            (day, video_id, viewer), (counted_at, seen) = key, self.rows[key]
            rows.append({"on_day": day, "video": video_id, "viewer_hash": viewer, "now": counted_at, "views": seen})
        _SET_VIEWER.run_many(self.connection, rows)


def _note_view(connection: Connection, view: View) -> int | None:
    """Return the viewer's views of the video that day with this one, or None for a repeat."""
    if view.elsewhere:
        params = {"video": view.video_id, "since": view.cutoff}
        for n, (day, hashed) in enumerate(view.elsewhere):
            params[f"day_{n}"], params[f"viewer_{n}"] = day, hashed
        if _seen_elsewhere(len(view.elsewhere)).first(connection, params) is not None:
            return None
    row = _NOTE_VIEWER[view.cutoff is not None].first(connection, {
        "on_day": view.stamps.period.day, "video": view.video_id, "viewer_hash": view.viewer, "now": view.now,
        "cutoff": view.cutoff})
    return None if row is None else row[0]


# Each day's summary row gains the day's counted views and distinct viewers, and its filtered views by reason.
SITE_COLUMNS = ("views", *SUMMARY_COLUMNS)

_VIEWER_LOCK = Prepared(lambda _: sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("id", type_=sa.BigInteger))))

_COUNTER_COLUMNS = (Video.id, Video.views_today, Video.views_month, Video.views_total, Video.uniques_today,
                    Video.period_day, Video.period_month)
_IDS_AT_ONCE = 50


@cache
def _counter_rows_of(count: int) -> Prepared:
    """The counters of each of :video_0 … :video_{count-1} that exists (one statement per count)."""
    return Prepared(lambda _: sa.select(*_COUNTER_COLUMNS).where(
        Video.id.in_([sa.bindparam(f"video_{n}") for n in range(count)])))


@cache
def _seen_elsewhere(days: int) -> Prepared:
    """A row of the viewer's counted after :since on any of `days` other days (:day_n, :viewer_n)."""
    return Prepared(lambda _: sa.select(RecentView.views).where(
        RecentView.video_id == sa.bindparam("video"),
        RecentView.counted_at > sa.bindparam("since", type_=RecentView.counted_at.type),
        sa.or_(*(sa.and_(RecentView.day == sa.bindparam(f"day_{n}", type_=RecentView.day.type),
                         RecentView.viewer == sa.bindparam(f"viewer_{n}", type_=RecentView.viewer.type))
                 for n in range(days))),
    ).limit(1))


def _note_viewer(dialect_name: str, windowed: bool):
    """An upsert returning the viewer's views of the video that day, or no row for a repeat.

    A repeat is a row counted after :cutoff (with a window; without one, no view is a repeat).
    """
    now = sa.bindparam("now", type_=RecentView.counted_at.type)
    statement = dialect_insert(dialect_name, RecentView).values(
        day=sa.bindparam("on_day", type_=RecentView.day.type), video_id=sa.bindparam("video"),
        viewer=sa.bindparam("viewer_hash", type_=RecentView.viewer.type), counted_at=now, views=1)
    return statement.on_conflict_do_update(
        index_elements=[RecentView.day, RecentView.video_id, RecentView.viewer],
        set_={"counted_at": now, "views": RecentView.views + 1},
        where=RecentView.counted_at <= sa.bindparam("cutoff", type_=RecentView.counted_at.type) if windowed else None,
    ).returning(RecentView.views)


_NOTE_VIEWER = {windowed: Prepared(lambda dialect_name, windowed=windowed: _note_viewer(dialect_name, windowed))
                for windowed in (False, True)}


@cache
def _viewer_rows_of(count: int) -> Prepared:
    """The viewer rows of each of (:day_n, :video_n, :viewer_n) for n < `count` that exists.

    ORed pairs, not a row-value IN: SQLite searches its key for each of those, and scans the table for that.
    """
    return Prepared(lambda _: sa.select(RecentView.day, RecentView.video_id, RecentView.viewer,
                                        RecentView.counted_at, RecentView.views).where(sa.or_(*(
        sa.and_(RecentView.day == sa.bindparam(f"day_{n}", type_=RecentView.day.type),
                RecentView.video_id == sa.bindparam(f"video_{n}"),
                RecentView.viewer == sa.bindparam(f"viewer_{n}", type_=RecentView.viewer.type))
        for n in range(count)))))


def _set_viewer(dialect_name: str):
    """An upsert writing a viewer row as the batch left it: when last counted, and how many views."""
    statement = dialect_insert(dialect_name, RecentView).values(
        day=sa.bindparam("on_day", type_=RecentView.day.type), video_id=sa.bindparam("video"),
        viewer=sa.bindparam("viewer_hash", type_=RecentView.viewer.type),
        counted_at=sa.bindparam("now", type_=RecentView.counted_at.type), views=sa.bindparam("views"))
    return statement.on_conflict_do_update(
        index_elements=[RecentView.day, RecentView.video_id, RecentView.viewer],
        set_={"counted_at": statement.excluded.counted_at, "views": statement.excluded.views})


_SET_VIEWER = Prepared(_set_viewer)


def _add_to_counters_statement():
    """The UPDATE adding :views views (and :new_viewer viewers) to a video's counters, by the stamps rule."""
    return (sa.update(Video).where(Video.id == sa.bindparam("video"))
            .values(views_total=Video.views_total + sa.bindparam("views", type_=sa.BigInteger), **after_views_bound()))


_ADD_TO_COUNTERS = Prepared(lambda _: _add_to_counters_statement().returning(
    Video.views_today, Video.views_month, Video.views_total, Video.uniques_today))
_ADD_TO_COUNTERS_MANY = Prepared(lambda _: _add_to_counters_statement())

_ADD_TO_LOG = Prepared(lambda _: sa.insert(VideoViewLog).values(
    video_id=sa.bindparam("video"), viewed_at=sa.bindparam("now", type_=VideoViewLog.viewed_at.type)))


def _add_to_day(dialect_name: str):
    """An upsert adding :views views, and :new_viewer distinct viewers, to the video's day."""
    views = sa.bindparam("views", type_=sa.BigInteger)
    new = sa.bindparam("new_viewer", type_=sa.BigInteger)
    return dialect_insert(dialect_name, DailyView).values(
        video_id=sa.bindparam("video"), day=sa.bindparam("on_day", type_=DailyView.day.type), views=views,
        unique_viewers=new,
    ).on_conflict_do_update(
        index_elements=[DailyView.video_id, DailyView.day],
        set_={"views": DailyView.views + views, "unique_viewers": DailyView.unique_viewers + new},
    )


def _first_on_site(dialect_name: str):
    """An insert of a viewer's day row that does nothing when it is there: its row count tells the new ones."""
    return dialect_insert(dialect_name, DayViewer).values(
        day=sa.bindparam("on_day", type_=DayViewer.day.type),
        viewer=sa.bindparam("viewer_hash", type_=DayViewer.viewer.type),
    ).on_conflict_do_nothing()


def _add_to_summary(dialect_name: str):
    """An upsert adding to every column of the summary row of :on_day (bound by the columns' names)."""
    added = {name: sa.bindparam(name, type_=sa.BigInteger) for name in SITE_COLUMNS}
    upsert = dialect_insert(dialect_name, DailySummary).values(
        day=sa.bindparam("on_day", type_=DailySummary.day.type), **added)
    return upsert.on_conflict_do_update(
        index_elements=[DailySummary.day],
        set_={name: getattr(DailySummary, name) + value for name, value in added.items()})


def _add_to_bucket(dialect_name: str):
    """An upsert adding :views to the view bucket starting at :start."""
    views = sa.bindparam("views", type_=sa.BigInteger)
    return dialect_insert(dialect_name, ViewBucket).values(
        start=sa.bindparam("start", type_=ViewBucket.start.type), views=views,
    ).on_conflict_do_update(index_elements=[ViewBucket.start], set_={"views": ViewBucket.views + views})


_ADD_TO_DAY = Prepared(_add_to_day)
_FIRST_ON_SITE = Prepared(_first_on_site)
_ADD_TO_SUMMARY = Prepared(_add_to_summary)
_ADD_TO_BUCKET = Prepared(_add_to_bucket)


def _add_watched(dialect_name: str):
    """An insert of a counted view that may report watch time; a view id sent again keeps its first view."""
    return dialect_insert(dialect_name, WatchedView).values(
        video_id=sa.bindparam("video"), view=sa.bindparam("view", type_=WatchedView.view.type),
        day=sa.bindparam("on_day", type_=WatchedView.day.type),
        counted_at=sa.bindparam("now", type_=WatchedView.counted_at.type),
        reported=sa.false(), watch_ms=sa.literal_column("0"), position_ms=sa.literal_column("0"),
        reached=sa.literal_column("0"), completed=sa.false(),
    ).on_conflict_do_nothing()


def _add_to_origin(dialect_name: str):
    """An upsert adding :views to the video's day from :origin, or to its "other" row past ORIGIN_CANDIDATES.

    One statement whatever the case, so a batch writes its origins in one
    executemany. (Across PostgreSQL workers two new origins may pass the
    check at once: the bound is then a few rows more, never unbounded.)
    """
    on_day = sa.bindparam("on_day", type_=DailyOrigin.day.type)
    video, origin = sa.bindparam("video"), sa.bindparam("origin", type_=DailyOrigin.origin.type)
    views = sa.bindparam("views", type_=sa.BigInteger)
    of_day = (DailyOrigin.video_id == video, DailyOrigin.day == on_day)
    kept = sa.or_(
        sa.exists().where(*of_day, DailyOrigin.origin == origin),
        sa.select(sa.func.count()).where(*of_day, DailyOrigin.origin != OTHER_ORIGINS).scalar_subquery()
        < ORIGIN_CANDIDATES)
    row = sa.select(video.label("video_id"), on_day.label("day"),
                    sa.case((kept, origin), else_=sa.literal(OTHER_ORIGINS, DailyOrigin.origin.type)).label("origin"),
                    views.label("views")).where(sa.true())  # WHERE: SQLite's parser wants one before ON CONFLICT
    statement = dialect_insert(dialect_name, DailyOrigin).from_select(["video_id", "day", "origin", "views"], row)
    return statement.on_conflict_do_update(index_elements=[DailyOrigin.video_id, DailyOrigin.day, DailyOrigin.origin],
                                           set_={"views": DailyOrigin.views + statement.excluded.views})


_ADD_WATCHED = Prepared(_add_watched)
_ADD_TO_ORIGIN = Prepared(_add_to_origin)
