"""Importing views per video and day from a CSV file (video_id,date,views): history from another tool, or an export.

A row sets its video's day to its views; it never adds, so a file imported
twice changes nothing the second time. The whole file is checked first,
into a staging table in a private temporary SQLite file (a file of
millions of rows never sits in memory): a bad row, a day of a video named
twice, or a day after today refuses the import, naming its line, before
anything is written. The rows are then applied in order of video and day,
in short paced write transactions (see pacing.py) so that views keep being
counted meanwhile. Each changed day moves its video's views_total, and the
day's sum across videos, by the difference from what was stored, in SQL;
a day of this month moves views_month too, and today views_today, by the
rule of the period stamps (see stamps.py). A run cut short is finished by
running it again.
"""

import csv
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..clock import Clock, parse_day
from ..database import insert, read_transaction
from ..models import DailySummary, DailyView, Video
from . import period_sums, stats_cache, videos
from .errors import InvalidInput
from .export import unquoted
from .pacing import Pace
from .stamps import Stamps

COLUMNS = ("video_id", "date", "views")
VIEWS_MAX = 999_999_999_999
# Rows a write transaction takes at most (Pace sizes them below this): two bound values each in one IN.
CHUNK_MAX = 1_000
# Changes a report keeps to show (a dry run of a large file lists these, then counts the rest).
SHOWN = 50

_VIEWS = re.compile(r"[0-9]{1,12}")


class Change(NamedTuple):
    """One day of one video that the import sets: `old` is None where no row was stored."""

    video_id: str
    day: date
    old: int | None
    new: int


@dataclass
class ImportReport:
    """What an import did, or with `dry_run` would do: days added, changed and left alone, videos created."""

    dry_run: bool = False
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    videos_created: int = 0
    views_moved: int = 0  # the change in views in all across the videos
    changes: list[Change] = field(default_factory=list)  # the first SHOWN
    created: list[str] = field(default_factory=list)  # the first SHOWN

    def note_change(self, change: Change) -> None:
        if change.old is None:
            self.added += 1
        else:
            self.changed += 1
        self.views_moved += change.new - (change.old or 0)
        if len(self.changes) < SHOWN:
            self.changes.append(change)

    def note_created(self, video_id: str) -> None:
        self.videos_created += 1
        if len(self.created) < SHOWN:
            self.created.append(video_id)


class Staged:
    """The checked rows of a file, one per video and day, in a temporary SQLite file of their own."""

    def __init__(self):
        # "" opens a private temporary file, deleted on close; SQLite keeps it in memory while small.
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE rows (video_id TEXT, day TEXT, views INTEGER, line INTEGER,"
                         " PRIMARY KEY (video_id, day)) WITHOUT ROWID")
        self.count = 0

    def add(self, line: int, video_id: str, day: date, views: int) -> None:
        """Keep a row; a day of a video that is already kept is refused, naming both lines."""
        added = self._db.execute("INSERT INTO rows VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                 (video_id, day.isoformat(), views, line)).rowcount
        if not added:
            (first,) = self._db.execute("SELECT line FROM rows WHERE video_id = ? AND day = ?",
                                        (video_id, day.isoformat())).fetchone()
            raise _bad(line, f"sets {video_id} on {day.isoformat()} again, after line {first}: "
                             "a file sets each video's day once")
        self.count += 1

    def in_order(self) -> sqlite3.Cursor:
        """Return a cursor over (video_id, day as text, views), by video and day."""
        return self._db.execute("SELECT video_id, day, views FROM rows ORDER BY video_id, day")

    def close(self) -> None:
        self._db.close()


@contextmanager
def staged(lines: Iterable[bytes], clock: Clock) -> Iterator[Staged]:
    """Check every row of a CSV file (lines of UTF-8) and yield them staged; the staging goes when the block ends.

    The first line is the header: it names the columns video_id, date and
    views, in any order, among any others (an export's extra columns are
    ignored). A date after today is refused: its views cannot have happened.

    :raises InvalidInput: code invalid_csv, naming the first bad line; nothing is staged then.
    """
    rows = Staged()
    try:
        today = clock.today()
        reader = _lines_of(lines)
        columns = _columns(next(reader, None))
        for line, fields in reader:
            if fields:
                rows.add(line, *_row(line, fields, columns, today))
        yield rows
    finally:
        rows.close()


def _lines_of(lines: Iterable[bytes]) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) of each CSV row; text that is not UTF-8 or not CSV is a bad line."""
    reader = csv.reader(_decoded(lines))
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _bad(reader.line_num, f"is not a CSV row ({error})") from None
        yield reader.line_num, fields


def _decoded(lines: Iterable[bytes]) -> Iterator[str]:
    """Decode line by line, so that a line that is not UTF-8 is named exactly (a byte order mark may open the file)."""
    for number, line in enumerate(lines, 1):
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise _bad(number, "is not UTF-8 text; save the file as UTF-8 and import it again") from None


def _bad(line: int, message: str) -> InvalidInput:
    return InvalidInput(f"line {line} {message}", code="invalid_csv")


def _columns(header: tuple[int, list[str]] | None) -> tuple[int, int, int]:
    """Return where the header puts video_id, date and views."""
    if header is None:
        raise _bad(1, "is missing: the file is empty, and its first line must be the header video_id,date,views")
    names = [name.strip().lower() for name in header[1]]
    missing = [name for name in COLUMNS if name not in names]
    if missing:
        raise _bad(1, f"must be the header naming the columns video_id, date and views (missing: {', '.join(missing)})")
    twice = [name for name in COLUMNS if names.count(name) > 1]
    if twice:
        raise _bad(1, f"names the column {twice[0]} twice")
    return tuple(names.index(name) for name in COLUMNS)


def _row(line: int, fields: list[str], columns: tuple[int, int, int], today: date) -> tuple[str, date, int]:
    """Return a row's (video_id, day, views), checked."""
    if len(fields) <= max(columns):
        raise _bad(line, f"has {len(fields)} columns where the header has at least {max(columns) + 1}")
    raw_id, raw_day, raw_views = (fields[n].strip() for n in columns)
    video_id = unquoted(raw_id)
    try:
        videos.check_video_id(video_id)
    except InvalidInput:
        raise _bad(line, f"has the video id {raw_id!r}: {videos.VIDEO_ID_RULE}") from None
    day = parse_day(raw_day)
    if day is None:
        raise _bad(line, f"has the date {raw_day!r}: a date is written YYYY-MM-DD, such as 2026-01-31")
    if day > today:
        raise _bad(line, f"has the date {raw_day}, after today ({today.isoformat()}): its views cannot have happened")
    if not _VIEWS.fullmatch(raw_views):
        raise _bad(line, f"has the views {raw_views!r}: views are a whole number from 0 to {VIEWS_MAX:,}")
    return video_id, day, int(raw_views)


def apply(rows: Staged, clock: Clock, dry_run: bool = False,
          progress: Callable[[int], None] | None = None) -> ImportReport:
    """Set each staged day of each video to its views, or with `dry_run` only say what that would change.

    Unknown videos are registered with their id as title. `progress` is told
    how many rows each transaction took.
    """
    report, pace, cursor = ImportReport(dry_run=dry_run), Pace(), rows.in_order()
    created_before: set[str] = set()  # a dry run's videos "created" in the chunk before (a video's rows may span two)
    while chunk := cursor.fetchmany(min(pace.size, CHUNK_MAX)):
        chunk = [(video_id, date.fromisoformat(day), views) for video_id, day, views in chunk]
        if dry_run:
            with read_transaction() as connection:
                created_before = _apply_chunk(connection, chunk, clock, report, created_before, write=False)
        else:
            changed = report.added + report.changed
            with pace.batch() as connection:
                _apply_chunk(connection, chunk, clock, report, created_before, write=True)
            if report.added + report.changed > changed:
                stats_cache.forget_all()
                period_sums.forget_days(min(day for _, day, _ in chunk), max(day for _, day, _ in chunk))
        if progress:
            progress(len(chunk))
    return report


def _apply_chunk(connection: Connection, chunk: list[tuple[str, date, int]], clock: Clock, report: ImportReport,
                 created_before: set[str], write: bool) -> set[str]:
    """Set (or compare) one chunk's days in the open transaction; return the videos it created.

    Rows are locked as the counting of a view takes them: videos by id, then
    days. Counting a view updates its video before its day, so on PostgreSQL,
    with the videos locked, no view of theirs is half written: a view of
    today waits for this transaction and adds to the value set here.
    """
    ids = sorted({video_id for video_id, _, _ in chunk})
    if write:
        period_sums.hold_off_add_ups(connection)
    existing = set(connection.scalars(_locked(sa.select(Video.id).where(Video.id.in_(ids)).order_by(Video.id), write)))
    stored = {(video_id, day): views for video_id, day, views in connection.execute(_locked(
        sa.select(DailyView.video_id, DailyView.day, DailyView.views)
        .where(sa.tuple_(DailyView.video_id, DailyView.day).in_([(video_id, day) for video_id, day, _ in chunk]))
        .order_by(DailyView.video_id, DailyView.day), write))}
    created = set()
    for video_id in ids:
        if video_id not in existing:
            created.add(video_id)
            if video_id not in created_before:
                report.note_created(video_id)
            if write:
                videos.add_if_missing(connection, video_id, video_id, clock)
    stamps = Stamps.at(clock)
    set_days = []
    by_video, by_today, by_month, by_day = defaultdict(int), defaultdict(int), defaultdict(int), defaultdict(int)
    for video_id, day, views in chunk:
        old = stored.get((video_id, day))
        if views == (old or 0):  # a day not stored reads as 0: storing a 0 would change nothing
            report.unchanged += 1
            continue
        report.note_change(Change(video_id, day, old, views))
        set_days.append({"video": video_id, "on_day": day, "views": views})
        delta = views - (old or 0)
        by_video[video_id] += delta
        by_day[day] += delta
        if day >= stamps.period.month:
            by_month[video_id] += delta
        if day == stamps.period.day:
            by_today[video_id] += delta
    if write and set_days:
        _move(connection, _ADD_TO_TOTAL, "video", by_video)
        _move(connection, _today_statement(stamps), "video", by_today)
        _move(connection, _month_statement(stamps), "video", by_month)  # after today's: a month holds its day
        connection.execute(_set_days(connection), set_days)
        _move(connection, _add_to_summary(connection), "on_day", by_day)
        period_sums.forget_overlapping(connection, min(by_day), max(by_day))
    return created


def _locked(query, lock: bool):
    """The query, locking its rows to the end of the transaction when `lock` (SQLite's write lock covers all)."""
    return query.with_for_update() if lock else query


def _move(connection: Connection, statement, key: str, deltas: dict) -> None:
    """Run `statement` for each non-zero delta, in order of key (the order the counting of views takes)."""
    params = [{key: name, "delta": delta} for name, delta in sorted(deltas.items()) if delta]
    if params:
        connection.execute(statement, params)


_DELTA = sa.bindparam("delta", type_=sa.BigInteger)
_VIDEO = Video.id == sa.bindparam("video")
_ON_DAY = sa.bindparam("on_day", type_=sa.Date)
_ADD_TO_TOTAL = sa.update(Video).where(_VIDEO).values(views_total=Video.views_total + _DELTA)


def _today_statement(stamps: Stamps):
    """Move today's views by :delta, by the stamps rule (see stamps.py), as a view would.

    A current counter moves (never below 0, its distinct viewers never above
    it); a late one (stamped by a view of tomorrow) belongs to tomorrow and
    stays; a stale one restarts at the change, as the next view would restart it.
    """
    current = Video.period_day == stamps.period.day
    moved = _at_least(Video.views_today + _DELTA, 0)
    return sa.update(Video).where(_VIDEO).values(
        views_today=sa.case((current, moved), (stamps.late_day, Video.views_today), else_=_at_least(_DELTA, 0)),
        uniques_today=sa.case((current, _at_most(Video.uniques_today, moved)), (stamps.late_day, Video.uniques_today),
                              else_=0),
        period_day=sa.case((stamps.late_day, Video.period_day), else_=stamps.period.day),
    )


def _month_statement(stamps: Stamps):
    """Move this month's views by :delta, by the stamps rule (see stamps.py).

    A current counter moves; a late one (stamped by a view of next month)
    belongs to next month and stays; a stale one restarts at the change, as
    the next view would restart it. A month never falls below today's
    views, which it includes.
    """
    today, _ = stamps.current_views()
    return sa.update(Video).where(_VIDEO).values(
        views_month=sa.case((Video.period_month == stamps.period.month, _at_least(Video.views_month + _DELTA, today)),
                            (stamps.late_month, Video.views_month),
                            else_=_at_least(_DELTA, today)),
        period_month=sa.case((stamps.late_month, Video.period_month), else_=stamps.period.month),
    )


def _at_least(value, floor):
    return sa.case((value < floor, floor), else_=value)


def _at_most(value, ceiling):
    return sa.case((value > ceiling, ceiling), else_=value)


def _set_days(connection: Connection):
    """Set a day's views; its distinct viewers, unknown for a day imported, never exceed them."""
    statement = insert(connection, DailyView).values(
        video_id=sa.bindparam("video"), day=_ON_DAY, views=sa.bindparam("views", type_=sa.BigInteger),
        unique_viewers=0)
    views = statement.excluded.views
    return statement.on_conflict_do_update(
        index_elements=[DailyView.video_id, DailyView.day],
        set_={"views": views, "unique_viewers": _at_most(DailyView.unique_viewers, views)})


def _add_to_summary(connection: Connection):
    """Move a day's views across all videos by :delta; its distinct viewers never exceed them."""
    statement = insert(connection, DailySummary).values(day=_ON_DAY, views=_DELTA)
    moved = DailySummary.views + statement.excluded.views
    return statement.on_conflict_do_update(
        index_elements=[DailySummary.day],
        set_={"views": moved, "unique_viewers": _at_most(DailySummary.unique_viewers, moved)})
