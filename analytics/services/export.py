"""The views per video and day as a file (CSV or JSON), written a page of rows at a time.

Rows are read in keyset pages along daily_views' primary key (video id,
then day), each page in its own short read transaction: a year of 100,000
videos never sits in memory, and a slow download holds no snapshot open.
Each row is read once, as it stood when its page was read; only today's
rows may still change meanwhile.
"""

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta

import sqlalchemy as sa

from ..database import read_transaction
from ..models import DailyView, DailyWatch
from .errors import InvalidInput

FORMATS = ("csv", "json")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
COLUMNS = ("video_id", "date", "views", "unique_viewers", "watch_seconds", "completions")
DEFAULT_DAYS = 30
PAGE_ROWS = 2_000
# A spreadsheet reads a cell that begins with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_ROWS = sa.select(
    DailyView.video_id, DailyView.day, DailyView.views, DailyView.unique_viewers,
    sa.func.coalesce(DailyWatch.watch_ms, 0), sa.func.coalesce(DailyWatch.completions, 0),
).outerjoin(DailyWatch, sa.and_(DailyWatch.video_id == DailyView.video_id, DailyWatch.day == DailyView.day))


def date_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """Return the days to export: `last` defaults to today, `first` to DEFAULT_DAYS days ending at `last`.

    No longest range: the cost is that of the rows stored, whatever the range.

    :raises InvalidInput: code invalid_range, when `first` comes after `last`.
    """
    last = today if last is None else last
    first = last - timedelta(days=DEFAULT_DAYS - 1) if first is None else first
    if first > last:
        raise InvalidInput(f"'from' ({first.isoformat()}) comes after 'to' ({last.isoformat()})",
                           code="invalid_range")
    return first, last


def filename(first: date, last: date, fmt: str) -> str:
    """Name the file of an export: viewtally-2026-01-01-to-2026-01-31.csv."""
    return f"viewtally-{first.isoformat()}-to-{last.isoformat()}.{fmt}"


def pages(first: date, last: date, size: int = PAGE_ROWS) -> Iterator[list[tuple]]:
    """Yield the rows from `first` to `last`, by video then day, a page at a time.

    Each row is (video_id, day, views, unique_viewers, watch_ms,
    completions); watch time and completions are 0 for a day without them.
    """
    after = None
    while True:
        query = _ROWS.where(DailyView.day.between(first, last)).order_by(DailyView.video_id, DailyView.day)
        if after is not None:
            query = query.where(sa.tuple_(DailyView.video_id, DailyView.day) > after)
        with read_transaction() as connection:
            page = connection.execute(query.limit(size)).all()
        if page:
            yield page
        if len(page) < size:
            return
        after = tuple(page[-1][:2])


def seconds(watch_ms: int) -> str:
    """Write milliseconds as seconds with up to 3 decimals, exactly: 12500 -> "12.5", 0 -> "0"."""
    whole, fraction = divmod(int(watch_ms), 1000)
    return f"{whole}.{fraction:03d}".rstrip("0").rstrip(".")


def spreadsheet_safe(text: str) -> str:
    """Put a ' before text a spreadsheet would run as a formula (see `unquoted` for the way back)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unquoted(text: str) -> str:
    """Undo `spreadsheet_safe`, so that an exported file imports as it was."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def as_csv(pages: Iterator[list[tuple]]) -> Iterator[str]:
    """Write the header, then each page of rows as CSV text."""
    yield ",".join(COLUMNS) + "\r\n"
    for page in pages:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerows((spreadsheet_safe(video_id), day.isoformat(), views, uniques, seconds(watch_ms), completions)
                         for video_id, day, views, uniques, watch_ms, completions in page)
        yield text.getvalue()


def as_json(pages: Iterator[list[tuple]]) -> Iterator[str]:
    """Write the success envelope around an array of rows, a page at a time: valid JSON once complete.

    Should the export fail part way, the answer stops short of its closing
    brackets, so no reader can take part of the rows for all of them.
    """
    yield '{"data":['
    separator = ""
    for page in pages:
        yield separator + ",".join(
            f'{{"completions":{completions:d},"date":"{day.isoformat()}","uniqueViewers":{uniques:d},'
            f'"videoId":{json.dumps(video_id)},"views":{views:d},"watchSeconds":{seconds(watch_ms)}}}'
            for video_id, day, views, uniques, watch_ms, completions in page)
        separator = ","
    yield '],"success":true}\n'


WRITERS = {"csv": as_csv, "json": as_json}


def pieces(first: date, last: date, fmt: str) -> Iterator[str]:
    """Yield the file of the rows from `first` to `last` in `fmt` (csv or json), piece by piece."""
    return WRITERS[fmt](pages(first, last))
