"""Building API answers: the success envelope, the error envelope, the pixel."""

from flask import Response, current_app, jsonify, make_response

from ...clock import iso_utc
from ...services.errors import InvalidInput
from ...services.views import Counts

# A 1x1 transparent GIF.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def ok(data, status: int = 200) -> Response:
    """Wrap `data` in the success envelope (a response made here: Flask's way from a tuple looks it over first)."""
    response = current_app.json.response({"success": True, "data": data})
    if status != 200:
        response.status_code = status
    return response


def error(status: int, code: str, message: str):
    """Build the error envelope response."""
    response = jsonify(success=False, error=message, code=code)
    response.status_code = status
    return response


def pixel(status: int = 200):
    """Answer the tracking pixel, never cached, with `status`."""
    response = make_response(PIXEL_GIF, status)
    response.headers["Content-Type"] = "image/gif"
    response.headers["Cache-Control"] = "no-store"
    return response


def reject_unknown_fields(body, known: tuple[str, ...]) -> None:
    """Refuse a body with a field outside `known`: a typo such as "titel" must not pass silently.

    :raises InvalidInput: code unknown_field, naming the first unknown field.
    """
    for name in body:
        if name not in known:
            raise InvalidInput(f"Unknown field {name!r}; the fields are {', '.join(known)}", code="unknown_field")


def counts_json(counts: Counts) -> dict:
    return {
        "videoId": counts.video_id,
        "viewsToday": counts.views_today,
        "viewsMonth": counts.views_month,
        "viewsTotal": counts.views_total,
        "uniqueViewersToday": counts.uniques_today,
    }


def video_json(video: dict) -> dict:
    return {
        "id": video["id"],
        "title": video["title"],
        "createdAt": iso_utc(video["created_at"]),
        "viewsToday": video["views_today"],
        "viewsMonth": video["views_month"],
        "viewsTotal": video["views_total"],
    }
