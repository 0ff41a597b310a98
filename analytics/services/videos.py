"""Registering videos and listing them with their counts."""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from ..clock import Clock
from ..database import insert, read_transaction, write_transaction
from ..models import SpanView, Video
from . import period_sums
from .errors import InvalidInput, VideoExists, VideoNotFound
from .stamps import Stamps

VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # as fullmatch: a well-formed video id
TITLE_MAX = 200
SORTS = ("views_total", "views_month", "views_today", "created_at")
# The search index is of trigrams: a shorter search reads every title.
SEARCH_MIN = 3
# A search counts its matches up to this many (and one more, to know there are more).
COUNT_CAP = 1000
VIDEO_ID_RULE = "a video id is 1 to 64 characters of A-Z, a-z, 0-9, _ and -"


def check_video_id(video_id: object) -> str:
    """Return `video_id` if it is well formed.

    :raises InvalidInput: code invalid_video_id.
    """
    if not isinstance(video_id, str) or not VIDEO_ID.fullmatch(video_id):
        raise InvalidInput(f"Invalid video id: {VIDEO_ID_RULE}", code="invalid_video_id")
    return video_id


def check_title(title: object) -> str:
    """Return `title` without surrounding blanks if it is 1 to 200 printable characters.

    :raises InvalidInput: code invalid_title.
    """
    if not isinstance(title, str) or not 1 <= len(title.strip()) <= TITLE_MAX or not title.strip().isprintable():
        raise InvalidInput(f"Invalid title: a title is 1 to {TITLE_MAX} printable characters on one line",
                           code="invalid_title")
    return title.strip()


def _new_video(video_id: str, title: str, clock: Clock) -> dict:
    now = clock.now()
    period = clock.period(now)
    return dict(
        id=video_id, title=title, created_at=now, views_today=0, views_month=0, views_total=0,
        period_day=period.day, period_month=period.month,
    )


def _insert_new(connection, values: dict):
    """INSERT that skips an existing id and returns the id only when it added the row."""
    return insert(connection, Video).values(values).on_conflict_do_nothing().returning(Video.id)


def create_video(video_id: str, title: str, clock: Clock) -> dict:
    """Register a video with zero counts and return its listing.

    :raises InvalidInput: malformed id or title.
    :raises VideoExists:
    """
    values = _new_video(check_video_id(video_id), check_title(title), clock)
    with write_transaction() as connection:
        added = connection.execute(_insert_new(connection, values)).scalar()
    if added is None:
        raise VideoExists(video_id)
    return _listing(values)


def add_if_missing(connection, video_id: str, title: str, clock: Clock) -> bool:
    """Register a video with zero counts in the caller's transaction unless its id exists; tell whether it was added."""
    return connection.execute(_insert_new(connection, _new_video(video_id, title, clock))).scalar() is not None


def _listing(values: dict) -> dict:
    return {key: values[key] for key in ("id", "title", "created_at", "views_today", "views_month", "views_total")}


@dataclass(frozen=True)
class Page:
    """One page of videos; `total` counts at most COUNT_CAP + 1 matches of a search (see `capped`)."""

    items: list[dict]
    page: int
    per_page: int
    total: int

    @property
    def capped(self) -> bool:
        """Tell whether there are more matches than `total` says ("1,000+")."""
        return self.total > COUNT_CAP

    @property
    def pages(self) -> int:
        return -(-self.total // self.per_page)


def get_video(video_id: str, clock: Clock) -> dict:
    """Return one video's listing with its current counts.

    :raises VideoNotFound:
    """
    stamps = Stamps.at(clock)
    with read_transaction() as connection:
        row = connection.execute(
            sa.select(*_listing_columns(*stamps.current_views()),
                      stamps.current_uniques().label("uniques_today")).where(Video.id == video_id)
        ).mappings().one_or_none()
    if row is None:
        raise VideoNotFound(video_id)
    return dict(row)


def _listing_columns(today, month) -> tuple:
    return (Video.id, Video.title, Video.created_at, today.label("views_today"), month.label("views_month"),
            Video.views_total)


def list_videos(page: int, per_page: int, sort: str, clock: Clock, search: str = "") -> Page:
    """Return one page of videos with current counts, most viewed (or newest) first.

    With `search`, only videos whose title or id contains it (any case).
    Every order is an index walk, so a deep page costs no sort; its ids are
    found in the index alone, and only the page's rows are read.
    """
    stamps = Stamps.at(clock)
    with read_transaction() as connection:
        total, matching = _count_matching(connection, search)
        order = _order(connection, sort, stamps)
        ids = (sa.select(Video.id).where(matching).order_by(*order)
               .limit(per_page).offset((page - 1) * per_page).scalar_subquery())
        items = connection.execute(
            sa.select(*_listing_columns(*stamps.current_views())).where(Video.id.in_(ids)).order_by(*order)
        ).mappings().all()
    return Page(items=[dict(item) for item in items], page=page, per_page=per_page, total=total)


def list_viewed_between(first: date, last: date, page: int, per_page: int, clock: Clock, search: str = "") -> Page:
    """Return one page of the videos viewed from local day `first` to `last`, most views in them first.

    Each item has the video's id, title and ``views``, its views in those
    days; a video without any is not listed, and `total` counts the ones
    with. A named period starts from its stored sums (period_sums.py) and
    adds its last two days; any other range is added up here: GROUP BY,
    ORDER BY the sums, LIMIT, the count riding along as a window over the
    groups, the days read from the (day, video_id, views) index alone.
    """
    offset = (page - 1) * per_page
    with read_transaction(one_snapshot=True) as connection:  # a span is read only as usable() found it
        videos = None
        if search:
            found, matching = _count_matching(connection, search)
            videos = period_sums.Matches(sa.select(sa.select(Video.id.label("id")).where(matching)
                                                   .cte("matches").prefix_with("MATERIALIZED").c.id),
                                         few=found <= COUNT_CAP)
        stored = period_sums.usable(connection, first, last, clock.today())
        if stored is not None:
            sums, count = _from_stored(connection, stored, last, offset + per_page, videos)
        else:
            sums, count = _added_up(connection, first, last, videos)
        sums = sums.limit(per_page).offset(offset).subquery()
        items = connection.execute(
            sa.select(Video.id, Video.title, sums.c.views, sums.c.total).join(sums, sums.c.video_id == Video.id)
            .order_by(sums.c.views.desc(), Video.id)).mappings().all()
        # Past the last page there is no row to carry the count.
        total = items[0]["total"] if items else connection.scalar(count)
    return Page(items=[{"id": item["id"], "title": item["title"], "views": int(item["views"])} for item in items],
                page=page, per_page=per_page, total=total)


def _added_up(connection, first: date, last: date, videos) -> tuple:
    """The sums of every day in the range, ranked, their count as a window; and a query of the count alone."""
    groups = period_sums.day_sums(connection, first, last, videos)
    return (groups.add_columns(sa.func.count().over().label("total"))
            .order_by(sa.column("views").desc(), sa.column("video_id")),
            sa.select(sa.func.count()).select_from(groups.subquery()))


def _from_stored(connection, stored: tuple, last: date, limit: int, videos) -> tuple:
    """A stored span's sums plus the days after it up to `last`, ranked, the first `limit` exact; and their count.

    Only a video viewed in those newer days can climb, so the first
    `limit` sums are among the stored span's first `limit` and the videos
    viewed since: the page reads that many index entries, not every
    video's. (A video outside both has `limit` videos ahead of it that can
    only gain.)
    """
    first, end = stored
    span = sa.and_(SpanView.first == first, SpanView.last == end)
    ranked = sa.select(SpanView.video_id, SpanView.views).where(span)
    if videos is not None:
        ranked = ranked.where(SpanView.video_id.in_(videos.ids))
    stored_count = sa.select(sa.func.count()).select_from(ranked.subquery()).scalar_subquery()
    order = (SpanView.views.desc(), SpanView.video_id)
    if end >= last:
        total = sa.select(stored_count)
        return ranked.add_columns(total.scalar_subquery().label("total")).order_by(*order), total
    newer = period_sums.day_sums(connection, end + timedelta(days=1), last, videos).subquery()
    # The videos viewed since the span, each with its views in all and whether the span had it.
    since = sa.select(newer.c.video_id, (newer.c.views + sa.func.coalesce(SpanView.views, 0)).label("views"),
                      sa.case((SpanView.video_id.is_(None), 1), else_=0).label("new")).select_from(
        newer.outerjoin(SpanView, sa.and_(span, SpanView.video_id == newer.c.video_id))
    ).cte("since").prefix_with("MATERIALIZED")
    top = ranked.order_by(*order).limit(limit).subquery()
    total = sa.select(stored_count + sa.select(sa.func.coalesce(sa.func.sum(since.c.new), 0)).scalar_subquery())
    candidates = sa.union_all(
        sa.select(top.c.video_id, top.c.views).where(top.c.video_id.not_in(sa.select(since.c.video_id))),
        sa.select(since.c.video_id, since.c.views)).subquery()
    sums = (sa.select(candidates.c.video_id, candidates.c.views, total.scalar_subquery().label("total"))
            .order_by(candidates.c.views.desc(), candidates.c.video_id))
    return sums, total


def _count_matching(connection, search: str) -> tuple[int, object]:
    """Count the videos a search matches (up to COUNT_CAP + 1) and return the WHERE that finds them.

    On SQLite, 3 characters or more: the trigram index, which counts alone.
    Its few matches are then read by rowid; when there are over COUNT_CAP,
    walking the list's order and keeping the titles that match finds a page
    sooner than reading every match. Shorter searches, and PostgreSQL (whose
    trigram index serves LIKE itself), use LIKE.
    """
    # lower(column) LIKE lower(pattern), the expression PostgreSQL's trigram indexes hold (ILIKE is not served by them).
    pattern = sa.func.lower(sa.literal("%" + search.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"))
    like = sa.or_(*(sa.func.lower(column).like(pattern, escape="/") for column in (Video.title, Video.id)))
    if not search:
        return connection.scalar(sa.select(sa.func.count()).select_from(Video)), sa.true()
    if connection.dialect.name == "sqlite" and len(search) >= SEARCH_MIN:
        phrase = '"' + search.replace('"', '""') + '"'  # one quoted phrase: the text as typed, not a query
        found = sa.select(sa.column("rowid")).select_from(sa.table("videos_fts")).where(
            sa.text("videos_fts MATCH :phrase").bindparams(phrase=phrase))
        total = connection.scalar(sa.select(sa.func.count()).select_from(found.limit(COUNT_CAP + 1).subquery()))
        return total, (like if total > COUNT_CAP else sa.literal_column("videos.rowid").in_(found))
    counted = sa.select(sa.literal(1)).select_from(Video).where(like).limit(COUNT_CAP + 1)
    return connection.scalar(sa.select(sa.func.count()).select_from(counted.subquery())), like


def _order(connection, sort: str, stamps: Stamps) -> tuple:
    """ORDER BY terms for `sort`, each matching an index (see models.py), ties broken by id.

    Today's and this month's counters are ordered by their index only while
    every video is stamped with the current period (the midnight reset sees
    to it); until then a stale counter counts as 0, so those orders sort.
    """
    if sort in ("views_total", "created_at"):
        return getattr(Video, sort).desc(), Video.id
    stamp, counter, current = {
        "views_today": (Video.period_day, Video.views_today, stamps.period.day),
        "views_month": (Video.period_month, Video.views_month, stamps.period.month),
    }[sort]
    stale = sa.or_(sa.exists().where(stamp < current), sa.exists().where(stamp > current))
    if connection.scalar(sa.select(stale)):
        today, month = stamps.current_views()
        return (today if sort == "views_today" else month).desc(), Video.id
    return stamp, counter.desc(), Video.id  # one stamp for all: the index order is the counter's


@dataclass
class ImportReport:
    """What an import did: added and skipped (already there) ids, and bad lines."""

    added: int = 0
    skipped: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)


def csv_lines(data: bytes) -> list[str]:
    """Split an uploaded CSV file into lines of text.

    :raises InvalidInput: code invalid_csv, naming the first line that is not UTF-8.
    """
    try:
        return data.decode("utf-8-sig").splitlines(keepends=True)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidInput(f"line {line} is not UTF-8 text; save the file as UTF-8 and import it again",
                           code="invalid_csv") from None


def import_csv(lines: Iterable[str], clock: Clock, chunk_size: int = 500) -> ImportReport:
    """Add the videos of a CSV with columns id,title (a header row is optional).

    Existing ids are skipped, not changed; each bad row is reported with its
    line number and the rest still go in.
    """
    report = ImportReport()
    reader = csv.reader(lines)
    chunk: list[dict] = []
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:  # e.g. a field over the csv module's size limit: that row is bad
            report.bad_rows.append((reader.line_num, f"not a CSV row ({error})"))
            continue
        line = reader.line_num
        if not fields or (line == 1 and [f.strip().lower() for f in fields] == ["id", "title"]):
            continue
        try:
            if len(fields) != 2:
                raise InvalidInput(f"expected 2 columns (id,title), found {len(fields)}")
            chunk.append(_new_video(check_video_id(fields[0].strip()), check_title(fields[1]), clock))
        except InvalidInput as error:
            report.bad_rows.append((line, error.message))
            continue
        if len(chunk) >= chunk_size:
            _add_many(chunk, report)
            chunk = []
    _add_many(chunk, report)
    return report


def _add_many(rows: list[dict], report: ImportReport) -> None:
    if not rows:
        return
    with write_transaction() as connection:
        for row in rows:
            if connection.execute(_insert_new(connection, row)).scalar() is not None:
                report.added += 1
            else:
                report.skipped += 1

