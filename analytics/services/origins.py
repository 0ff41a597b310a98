"""Where a video is watched: the sites whose pages counted its views, from daily_origins."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ..database import read_transaction
from ..models import OTHER_ORIGINS, DailyOrigin, DailyView


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
