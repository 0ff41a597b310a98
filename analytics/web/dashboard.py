"""The dashboard: what is watched, server-rendered for people."""

from datetime import datetime, timedelta

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from ..clock import Clock, current_clock
from ..services import origins, overview, periods, videos, watch
from ..services.errors import InvalidInput
from ..services.periods import Span
from ..services.videos import SORTS, check_video_id
from .params import choice, iso_date, text, whole_number
from .session import logged_in, to_login

bp = Blueprint("dashboard", __name__)

PER_PAGE = 50
CHART_DAYS = 30
RANGES = ("7", "30", "90", "365")


@bp.app_template_filter("thousands")
def thousands(number: int) -> str:
    """Write a count with thousands separators: 12,345."""
    return f"{number:,}"


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """Write seconds as m:ss, or h:mm:ss from an hour; "—" for no data (as static/dashboard.js writes them)."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@bp.app_template_filter("percent")
def percent(share: float | None) -> str:
    """Write a share as a whole percentage, "—" for no data."""
    return "—" if share is None else f"{share:.0%}"


@bp.app_template_global("absolute_url")
def absolute_url(endpoint: str, **values) -> str:
    """Build an absolute URL on PUBLIC_URL, or, without it, on the request's own host.

    The Host header is the client's to choose: only PUBLIC_URL keeps a
    snippet that people copy into their sites from naming another server.
    """
    public = current_app.config["PUBLIC_URL"]
    if public:
        return public + url_for(endpoint, **values)
    return url_for(endpoint, **values, _external=True)


@bp.app_template_filter("local_time")
def local_time(moment: str) -> str:
    """Write an ISO 8601 UTC moment in the configured time zone, to the minute."""
    local = datetime.fromisoformat(moment).astimezone(current_clock().tz)
    return local.strftime("%Y-%m-%d %H:%M %Z")


@bp.before_request
def private_unless_public():
    """With DASHBOARD_PUBLIC off, only a logged-in admin sees the pages."""
    if not current_app.config["DASHBOARD_PUBLIC"] and not logged_in():
        return to_login()
    return None


@bp.get("/")
def home():
    """Send visitors to the dashboard."""
    return redirect(url_for("dashboard.overview_page"))


@bp.get("/dashboard")
def overview_page():
    """Show the totals, the views per day and the table of videos: live, or in a chosen period."""
    clock = current_clock()
    search = text("q", max_length=100)
    sort = choice("sort", default="views_total", allowed=SORTS)
    page = whole_number("page", default=1, low=1, high=1_000_000)
    span = chosen_span(clock)
    if from_the_picker():
        kept = {"q": search or None, "sort": request.args.get("sort") if span is None else None}
        return redirect(url_for("dashboard.overview_page", **kept, **span_address(span)))
    shared = dict(search=search, span=span, periods=periods.NAMED, today=clock.today(),
                  zone=current_app.config["TIMEZONE"])
    if span is not None:
        return render_template(
            "dashboard/period.html", numbers=overview.in_span(span), address=span_address(span),
            listing=videos.list_viewed_between(span.first, span.last, page, PER_PAGE, clock, search), **shared)
    return render_template(
        "dashboard/overview.html",
        totals=overview.totals(clock),
        per_day=overview.views_per_day(CHART_DAYS, clock),
        listing=videos.list_videos(page, PER_PAGE, sort, clock, search),
        sort=sort, **shared,
    )


def chosen_span(clock: Clock) -> Span | None:
    """Read the period of the address: ?period=<name>, or ?from=&to= (also with period=custom); None for live.

    The picker sends every field: with a named period its dates are ignored,
    and an empty period means live.

    :raises InvalidInput: an unknown name, a malformed date, or a custom period without both dates.
    """
    if request.args.get("period") == "":
        return None
    name = choice("period", default="custom", allowed=(*periods.NAMED, "custom"))
    first, last = iso_date("from", blank_is_none=True), iso_date("to", blank_is_none=True)
    if name != "custom":
        return periods.named(name, clock)
    if first is None and last is None and "period" not in request.args:
        return None
    if first is None or last is None:
        raise InvalidInput("A custom period needs both dates: 'from' and 'to', written YYYY-MM-DD",
                           code="invalid_period")
    return periods.between(first, last, clock)


def from_the_picker() -> bool:
    """Tell whether the address is the picker's form, which sends fields its period does not need."""
    fields = request.args
    return "period" in fields and (fields["period"] in ("", "custom") or "from" in fields or "to" in fields)


def span_address(span: Span | None) -> dict[str, str]:
    """Return the query parameters that name `span` in an address."""
    if span is None:
        return {}
    if span.name != "custom":
        return {"period": span.name}
    return {"from": span.first.isoformat(), "to": span.last.isoformat()}


@bp.get("/dashboard/videos/<video_id>")
def video_page(video_id):
    """Show one video's numbers, its views per day, how and where it is watched, and the snippet that tracks it."""
    clock = current_clock()
    days = int(choice("days", default="30", allowed=RANGES))
    video = videos.get_video(check_video_id(video_id), clock)
    last = clock.today()
    first = last - timedelta(days=days - 1)
    return render_template(
        "dashboard/video.html",
        video=video, per_day=overview.views_per_day(days, clock, video["id"]),  # get_video checked the id
        watching=watch.watching(video["id"], first, last), where=origins.where_watched(video["id"], first, last),
        days=days, ranges=RANGES, zone=current_app.config["TIMEZONE"],
    )


@bp.get("/demo")
def demo():
    """Show a player instrumented with the tracking script, for the most viewed video."""
    listing = videos.list_videos(1, 1, "views_total", current_clock())
    return render_template("dashboard/demo.html", video=listing.items[0] if listing.items else None)
