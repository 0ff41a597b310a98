"""Counting views, reading counts, and the admin resets."""

from flask import abort, current_app, render_template

from ...clock import current_clock
from ...context import this_request
from ...extensions import limiter, when_limits_enabled
from ...services import overview, resets, views, watch
from ...services.errors import InvalidInput
from ...services.videos import check_video_id
from ..auth import admin_required, dashboard_data
from ..params import whole_number
from . import bp
from .responses import ok, ok_counts, pixel
from .visitors import FORMS, body_fields, checked_view_id, visitor

WATCH_FIELDS = ("view", "seconds", "position", "duration")

# Both ways of counting share one budget per client; so do the reads (stats, daily, totals, counters).
track_limit = when_limits_enabled(limiter.shared_limit(lambda: current_app.config["TRACK_RATE_LIMIT"], scope="track"))
# Watch reports have a budget of their own, as large: a view sends a few (ended, hidden, left).
watch_limit = when_limits_enabled(limiter.shared_limit(lambda: current_app.config["TRACK_RATE_LIMIT"], scope="watch"))
stats_limit = when_limits_enabled(limiter.shared_limit(lambda: current_app.config["STATS_RATE_LIMIT"], scope="stats"))


@bp.post("/analytics/view/<video_id>")
@track_limit
def track_view(video_id):
    """Count one view of a video, unless filtered or repeated, and answer its counts."""
    outcome = views.track_view(check_video_id(video_id), current_clock(), visitor())
    if outcome.counted:
        return ok_counts(outcome.counts, counted=True, message="View tracked successfully")
    return ok_counts(outcome.counts, counted=False, message=f"View not counted ({outcome.reason})",
                     reason=outcome.reason)


@bp.post("/analytics/watch/<video_id>")
@watch_limit
def watch_report(video_id):
    """Take what a counted view's player played, replacing the view's earlier report."""
    req = this_request()
    fields = body_fields(req, WATCH_FIELDS, null_code="invalid_watch")
    missing = [name for name in WATCH_FIELDS if name not in fields]
    if missing:
        raise InvalidInput(f"A watch report needs {', '.join(WATCH_FIELDS)}; missing: {', '.join(missing)}",
                           code="invalid_watch")
    report = watch.Report.checked(check_video_id(video_id), checked_view_id(fields["view"], required=True),
                                  fields["seconds"], fields["position"], fields["duration"],
                                  text=req.mimetype in FORMS)
    outcome = watch.record(report, current_clock())
    if outcome.counted:
        return ok({"videoId": video_id, "counted": True, "message": "Watch time recorded"})
    return ok({"videoId": video_id, "counted": False, "reason": outcome.reason,
               "message": "No view of this id was counted in the last 24 hours"})


@bp.get("/analytics/pixel/<video_id>.gif")
@track_limit
def track_pixel(video_id):
    """Count one view from an <img> tag, unless filtered or repeated, and answer a transparent GIF."""
    if this_request().method == "HEAD":  # link checkers and prefetchers look; they do not watch
        views.get_stats(check_video_id(video_id), current_clock())
    else:
        views.track_view(check_video_id(video_id), current_clock(), visitor())
    return pixel()


@bp.get("/analytics/stats/<video_id>")
@stats_limit
def stats(video_id):
    """Answer a video's views today, this month and in all."""
    return ok_counts(views.get_stats(check_video_id(video_id), current_clock()))


# Public counters: a count a site may show under its player with no script. Caches and browsers may keep it.
COUNTER_CACHE_CONTROL = "public, max-age=300"
# Badge text is Verdana 11 px: about 7 px a character, plus the margins.
BADGE_CHARACTER_WIDTH, BADGE_MARGINS = 7, 16


@bp.get("/analytics/counter/<video_id>.svg")
@stats_limit
def counter_badge(video_id):
    """Answer a video's views in all as a small SVG badge ("1,234 views"), for an <img>; counts nothing."""
    total = _public_total(video_id)
    text = f"{total:,} view{'' if total == 1 else 's'}"
    badge = render_template("counter.svg", text=text, width=len(text) * BADGE_CHARACTER_WIDTH + BADGE_MARGINS)
    return _cacheable(current_app.response_class(badge, content_type="image/svg+xml"))


@bp.get("/analytics/counter/<video_id>.json")
@stats_limit
def counter_json(video_id):
    """Answer a video's views in all; counts nothing."""
    return _cacheable(ok({"videoId": video_id, "viewsTotal": _public_total(video_id)}))


def _cacheable(response):
    response.headers["Cache-Control"] = COUNTER_CACHE_CONTROL
    return response


def _public_total(video_id: str) -> int:
    """Return a video's views in all, or answer 404 while PUBLIC_COUNTERS is off."""
    if not current_app.config["PUBLIC_COUNTERS"]:
        abort(404)
    return views.get_stats(check_video_id(video_id), current_clock()).views_total


@bp.get("/analytics/stats/<video_id>/daily")
@stats_limit
def daily_stats(video_id):
    """Answer a video's views per day for the last `days` days, oldest first."""
    days = whole_number("days", default=30, low=1, high=366)
    series = views.daily_views(check_video_id(video_id), days, current_clock())
    return ok([{"date": day.date.isoformat(), "views": day.views, "uniqueViewers": day.unique_viewers,
                "watchSeconds": day.watch_ms / 1000, "completions": day.completions} for day in series])


@bp.get("/analytics/totals")
@stats_limit
@dashboard_data
def totals():
    """Answer the views across all videos today, this month and in all."""
    numbers = overview.totals(current_clock())
    return ok({"viewsToday": numbers.today, "viewsMonth": numbers.month, "viewsTotal": numbers.total,
               "uniqueViewersToday": numbers.uniques_today, "filteredToday": numbers.filtered_today,
               "viewsYesterdayByNow": numbers.yesterday_by_now, "viewsLastMonthByNow": numbers.last_month_by_now,
               "videos": numbers.videos, "watchSecondsToday": numbers.watch_ms_today / 1000,
               "watchSecondsTotal": numbers.watch_ms_total / 1000})


@bp.post("/analytics/reset/daily")
@admin_required
def reset_daily():
    """Zero every video's views today."""
    count = resets.reset_daily(current_clock())
    return ok({"message": f"Reset daily views for {count} videos", "count": count})


@bp.post("/analytics/reset/monthly")
@admin_required
def reset_monthly():
    """Zero every video's views this month."""
    count = resets.reset_monthly(current_clock())
    return ok({"message": f"Reset monthly views for {count} videos", "count": count})


