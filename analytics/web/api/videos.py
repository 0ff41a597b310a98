"""Registering videos (admin) and listing them with their counts."""

from flask import request

from ...clock import current_clock
from ...services import videos
from ...services.errors import InvalidInput
from ..auth import admin_required, dashboard_data
from ..params import choice, text, whole_number
from . import bp
from .analytics import stats_limit
from .responses import ok, reject_unknown_fields, video_json


@bp.post("/videos")
@admin_required
def create_video():
    """Register a video from a JSON body {"id", "title"}."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting is just bad JSON
        body = None
    if not isinstance(body, dict):
        raise InvalidInput('Send a JSON object like {"id": "intro-1", "title": "Intro"} '
                           "with the header Content-Type: application/json", code="invalid_json")
    reject_unknown_fields(body, ("id", "title"))
    video = videos.create_video(body.get("id"), body.get("title"), current_clock())
    return ok(video_json(video), 201)


@bp.get("/videos")
@stats_limit
@dashboard_data
def list_videos():
    """List videos with their counts, a page at a time."""
    page = videos.list_videos(
        page=whole_number("page", default=1, low=1, high=1_000_000),
        per_page=whole_number("per_page", default=20, low=1, high=100),
        sort=choice("sort", default="views_total", allowed=videos.SORTS),
        clock=current_clock(),
        search=text("q", max_length=100),
    )
    return ok({
        "items": [video_json(item) for item in page.items],
        "page": page.page,
        "perPage": page.per_page,
        "total": page.total,
        "totalCapped": page.capped,
        "pages": page.pages,
    })
