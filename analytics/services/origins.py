"""Where a video is watched: the sites whose pages counted its views, from daily_origins."""

import logging
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ..clock import Clock
from ..database import insert, read_transaction, write_transaction
from ..models import ORIGINS_KEPT, OTHER_ORIGINS, DailyOrigin, DailyView

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WhereWatched:
    """A video's views over some days by embedding site: the top sites, the rest of the sites, and no site at all."""

    sites: list[tuple[str, int]]  # (origin, views), most views first
    other_sites: int  # views from sites past the top ones, or past those kept per day
    direct: int  # views that named no page (opened directly, a server, a hidden referrer)


def where_watched(video_id: str, first: date, last: date, top: int = 10) -> WhereWatched:
    """Return a video's views from `first` to `last` (local days) by site, the `top` sites by name."""
    in_range = (DailyOrigin.video_id == video_id, DailyOrigin.day.between(first, last))
    with read_transaction() as connection:
        by_site = connection.execute(
            sa.select(DailyOrigin.origin, sa.func.sum(DailyOrigin.views).label("views"))
            .where(*in_range).group_by(DailyOrigin.origin)
            .order_by(sa.desc("views"), DailyOrigin.origin)).all()
        views = connection.scalar(sa.select(sa.func.coalesce(sa.func.sum(DailyView.views), 0)).where(
            DailyView.video_id == video_id, DailyView.day.between(first, last)))
    named = [(origin, int(n)) for origin, n in by_site if origin != OTHER_ORIGINS]
    sited = sum(int(n) for _, n in by_site)
    return WhereWatched(sites=named[:top], other_sites=sited - sum(n for _, n in named[:top]),
                        direct=max(0, int(views) - sited))  # a reset of daily views would not lower the sites


def fold_past_days(clock: Clock) -> int:
    """Fold the sites of each video's past days beyond the ORIGINS_KEPT with the most views into "other".

    A day's rows are bounded while it runs (ORIGIN_CANDIDATES, first come);
    once it is over, only the top sites keep rows, whatever came first.
    Each video's day is folded in one transaction, so its views stay exact.
    Returns how many rows went.
    """
    named = DailyOrigin.origin != OTHER_ORIGINS
    with read_transaction() as connection:
        crowded = connection.execute(
            sa.select(DailyOrigin.video_id, DailyOrigin.day).where(DailyOrigin.day < clock.today(), named)
            .group_by(DailyOrigin.video_id, DailyOrigin.day).having(sa.func.count() > ORIGINS_KEPT)).all()
    gone = 0
    for video_id, day in crowded:
        of_day = (DailyOrigin.video_id == video_id, DailyOrigin.day == day)
        with write_transaction() as connection:
            tail = connection.execute(sa.select(DailyOrigin.origin, DailyOrigin.views).where(*of_day, named)
                                      .order_by(DailyOrigin.views.desc(), DailyOrigin.origin)
                                      .offset(ORIGINS_KEPT)).all()
            for start in range(0, len(tail), 500):
                connection.execute(sa.delete(DailyOrigin).where(
                    *of_day, DailyOrigin.origin.in_([origin for origin, _ in tail[start:start + 500]])))
            other = insert(connection, DailyOrigin).values(video_id=video_id, day=day, origin=OTHER_ORIGINS,
                                                           views=sum(views for _, views in tail))
            connection.execute(other.on_conflict_do_update(
                index_elements=[DailyOrigin.video_id, DailyOrigin.day, DailyOrigin.origin],
                set_={"views": DailyOrigin.views + other.excluded.views}))
        gone += len(tail)
    if gone:
        log.info("folded %d sites of %d past days into other", gone, len(crowded))
    return gone
