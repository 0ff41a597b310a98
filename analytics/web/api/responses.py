"""Building API answers: the success envelope, the error envelope, the pixel."""

import json
from functools import lru_cache

from flask import Response, jsonify
from flask.json.provider import DefaultJSONProvider

from ...clock import iso_utc
from ...context import running_app
from ...services.errors import InvalidInput
from ...services.videos import VIDEO_ID
from ...services.views import Counts

# A 1x1 transparent GIF.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


# Flask's JSON as it answers outside debug mode (compact, keys sorted), with one encoder made once:
# Flask makes one per answer, half the cost of a counted view's answer.
_COMPACT = json.JSONEncoder(default=DefaultJSONProvider.default, sort_keys=True, separators=(",", ":"))


def ok(data, status: int = 200) -> Response:
    """Wrap `data` in the success envelope (in debug mode, indented by Flask for reading)."""
    app = running_app()
    envelope = {"success": True, "data": data}
    if app.debug:
        response = app.json.response(envelope)
        response.status_code = status
        return response
    return app.response_class(_COMPACT.encode(envelope) + "\n", status=status, content_type="application/json")


def ok_counts(counts: Counts, **before) -> Response:
    """Answer ok({**before, **counts_json(counts)}), byte for byte, writing the JSON directly.

    json's encoder builds its C encoder and cycle check on every call: 29,000
    instructions for one id and four numbers, against 4,000 this way. The
    counts are whole numbers and a well-formed id (services/videos.py) needs
    no escaping (any other id takes the general way). `before` holds members whose names
    sort before "uniqueViewersToday", with str or bool values, encoded as the
    envelope encodes them (tests check the two ways agree).
    """
    app = running_app()
    watched = counts.watch_ms_today is not None
    if app.debug or not VIDEO_ID.fullmatch(counts.video_id) or (watched and before):
        return ok({**before, **counts_json(counts)})
    if watched:  # the stats answer: its members before and after the counts
        head = f'"completionsToday":{counts.completions_today:d},'
        tail = (f',"watchSecondsMonth":{counts.watch_ms_month / 1000!r},'
                f'"watchSecondsToday":{counts.watch_ms_today / 1000!r}')
    else:  # with each value's type: True and 1 are one key to a cache, but not one JSON value
        head = _members(tuple((name, type(value), value) for name, value in before.items())) if before else ""
        tail = ""
    body = (f'{{"data":{{{head}"uniqueViewersToday":{counts.uniques_today:d},"videoId":"{counts.video_id}",'
            f'"viewsMonth":{counts.views_month:d},"viewsToday":{counts.views_today:d},'
            f'"viewsTotal":{counts.views_total:d}{tail}}},"success":true}}\n')
    return app.response_class(body, content_type="application/json")


@lru_cache(maxsize=64)  # a view's answers differ only by their counts: a few heads serve them all
def _members(items: tuple) -> str:
    """Encode (name, type, value) triples as members of a JSON object, sorted by name, each followed by a comma."""
    return "".join(f"{_COMPACT.encode(name)}:{_COMPACT.encode(value)},"
                   for name, _, value in sorted(items, key=lambda item: item[0]))


def error(status: int, code: str, message: str):
    """Build the error envelope response."""
    response = jsonify(success=False, error=message, code=code)
    response.status_code = status
    return response


def pixel(status: int = 200) -> Response:
    """Answer the tracking pixel, never cached, with `status`."""
    return running_app().response_class(PIXEL_GIF, status=status, content_type="image/gif",
                                        headers={"Cache-Control": "no-store"})


def reject_unknown_fields(body, known: tuple[str, ...]) -> None:
    """Refuse a body with a field outside `known`: a typo such as "titel" must not pass silently.

    :raises InvalidInput: code unknown_field, naming the first unknown field.
    """
    for name in body:
        if name not in known:
            raise InvalidInput(f"Unknown field {name!r}; the fields are {', '.join(known)}", code="unknown_field")


def counts_json(counts: Counts) -> dict:
    """A video's counts as the API names them, with its watch time where the counts hold it (the stats answer)."""
    answer = {
        "videoId": counts.video_id,
        "viewsToday": counts.views_today,
        "viewsMonth": counts.views_month,
        "viewsTotal": counts.views_total,
        "uniqueViewersToday": counts.uniques_today,
    }
    if counts.watch_ms_today is not None:
        answer.update(watchSecondsToday=counts.watch_ms_today / 1000, watchSecondsMonth=counts.watch_ms_month / 1000,
                      completionsToday=counts.completions_today)
    return answer


def video_json(video: dict) -> dict:
    return {
        "id": video["id"],
        "title": video["title"],
        "createdAt": iso_utc(video["created_at"]),
        "viewsToday": video["views_today"],
        "viewsMonth": video["views_month"],
        "viewsTotal": video["views_total"],
    }
