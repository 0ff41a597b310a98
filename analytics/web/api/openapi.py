"""The OpenAPI 3.1 contract of the JSON API, served at /api/openapi.json and read at /api/docs.

Written by hand as one dict, so the README and this read alike; tests/test_contract.py
checks it against app.url_map (no route without an operation, and no operation
without a route) and fuzzes a live server with it (schemathesis).
"""

import json

from flask import render_template, url_for

from ...models import FILTER_REASONS
from ...services.videos import SORTS, TITLE_MAX
from . import bp
from .analytics import WATCH_FIELDS
from .visitors import SESSION_HEADER, SESSION_MAX, VIEW_ID

VIDEO_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "example": "intro-2026"}
COUNT = {"type": "integer", "minimum": 0}
SESSION = {"type": "string", "minLength": 1, "maxLength": SESSION_MAX,
           "description": f"1 to {SESSION_MAX} printable characters naming the viewer"}
TIMESTAMP = {"type": "string", "format": "date-time"}
VIEW = {"type": "string", "pattern": f"^{VIEW_ID.pattern}$",
        "description": "The random id the player made for this view (one element, one page load)"}
SECONDS = {"type": "number", "minimum": 0, "maximum": 86400}

# Every operation may meet these.
COMMON_ERRORS = {413: ["payload_too_large"], 503: ["database_unavailable"]}
READ_ERRORS = {400: ["invalid_video_id"], 404: ["video_not_found"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict, required=None) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties if required is None else required),
            "additionalProperties": False}


def _ok(data: dict, description: str = "Success") -> dict:
    envelope = _object({"success": {"const": True}, "data": data})
    return {"description": description, "content": {"application/json": {"schema": envelope}}}


def _error(codes: list[str]) -> dict:
    envelope = _object({"success": {"const": False}, "error": {"type": "string"},
                        "code": {"type": "string", "enum": codes}})
    return {"description": "Error: " + ", ".join(codes), "content": {"application/json": {"schema": envelope}}}


def _responses(success: dict, errors: dict[int, list[str]], status: int = 200) -> dict:
    answers = {str(status): success}
    for code, names in sorted({**COMMON_ERRORS, **errors}.items()):
        answers[str(code)] = _error(names)
    return answers


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


PATH_VIDEO_ID = {"name": "video_id", "in": "path", "required": True, "schema": VIDEO_ID,
                 "description": "1 to 64 characters of A-Z a-z 0-9 _ -; any other is 400 invalid_video_id"}
SESSION_PARAMETER = {"name": SESSION_HEADER, "in": "header", "required": False, "schema": SESSION,
                     "description": "The viewer's session id; otherwise the address and user agent name it"}
ADMIN = [{"bearerAuth": []}]
# Open to anyone while DASHBOARD_PUBLIC is on (the default); otherwise they need the token.
DASHBOARD_DATA = [{}, {"bearerAuth": []}]

PIXEL_GIF = {"description": "A 1x1 transparent GIF, counted or not",
             "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}}}


BADGE_SVG = {"description": 'An SVG badge: "1,234 views"',
             "content": {"image/svg+xml": {"schema": {"type": "string"}}}}
COUNTER_ERRORS = {400: ["invalid_video_id"], 404: ["video_not_found", "not_found"], 429: ["rate_limited"]}
COUNTER_NOTE = "Counts nothing; cached for 5 minutes; 404 not_found while PUBLIC_COUNTERS is off."


def _pixel_errors() -> dict:
    # An <img> never shows a broken image: errors answer the GIF too, except a too large body.
    answers = {"200": PIXEL_GIF}
    for code, names in ((400, "invalid_video_id"), (404, "video_not_found"), (429, "rate_limited"),
                        (503, "database_unavailable")):
        answers[str(code)] = {**PIXEL_GIF, "description": f"The same GIF, with the status of {names}"}
    answers["413"] = _error(["payload_too_large"])
    return answers


DAY = {"type": "string", "format": "date", "example": "2026-01-31"}
EXPORT_FILE = {
    "description": "The file, written while it is sent: one row per video and day with views, by video then day",
    "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                        "description": 'attachment; filename="viewtally-<from>-to-<to>.<format>"'}},
    "content": {
        "text/csv": {"schema": {"type": "string", "description": "Header video_id,date,views,unique_viewers,"
                                "watch_seconds,completions; an id a spreadsheet would run as a formula starts with '"}},
        "application/json": {"schema": _object({"success": {"const": True},
                                                "data": {"type": "array", "items": _ref("ExportRow")}})},
    },
}


_view_body = _object({"session": SESSION, "view": VIEW}, required=[])
_watch_body = _object({
    "view": VIEW, "seconds": {**SECONDS, "description": "Seconds played, parts skipped by seeking left out"},
    "position": {**SECONDS, "description": "The furthest point reached, at most duration"},
    "duration": {**SECONDS, "description": "The video's duration"}}, required=list(WATCH_FIELDS))
# A form's fields are text (read as numbers); JSON's must be numbers.
_watch_form = _object({name: {"type": "string"} for name in WATCH_FIELDS})


def _bodies(schema: dict, form: dict | None = None) -> dict:
    """A body as JSON, a form, or text/plain JSON (what fetch() sends for a JSON.stringify() body)."""
    return {"application/json": {"schema": schema}, "application/x-www-form-urlencoded": {"schema": form or schema},
            "text/plain": {"schema": {"type": "string", "contentMediaType": "application/json",
                                      "contentSchema": schema}}}


ANALYTICS = ["analytics"]

PATHS = {
    "/api/analytics/view/{video_id}": {
        "parameters": [PATH_VIDEO_ID],
        "post": {
            "operationId": "track_view", "tags": ANALYTICS, "summary": "Count a view",
            "description": "200 whether the view counted or not; the reason says why not.",
            "parameters": [SESSION_PARAMETER],
            "requestBody": {"required": False, "content": _bodies(_view_body)},
            "responses": _responses(_ok(_ref("TrackedView")), {
                400: ["invalid_video_id", "invalid_session", "invalid_view", "invalid_json", "unknown_field",
                      "bad_request"],
                404: ["video_not_found"], 429: ["rate_limited"]}),
        },
    },
    "/api/analytics/watch/{video_id}": {
        "parameters": [PATH_VIDEO_ID],
        "post": {
            "operationId": "watch_report", "tags": ANALYTICS, "summary": "Report what a counted view played",
            "description": "A later report of the same view replaces the earlier one (never lowering it). Only a "
                           "view counted with this id in the last 24 hours may report; otherwise counted is false "
                           "and the reason unknown_view.",
            "requestBody": {"required": True, "content": _bodies(_watch_body, _watch_form)},
            "responses": _responses(_ok(_ref("WatchReport")), {
                400: ["invalid_video_id", "invalid_view", "invalid_watch", "invalid_json", "unknown_field",
                      "bad_request"],
                404: ["video_not_found"], 429: ["rate_limited"]}),
        },
    },
    "/api/analytics/pixel/{video_id}.gif": {
        "parameters": [PATH_VIDEO_ID],
        "get": {"operationId": "track_pixel", "tags": ANALYTICS, "summary": "Count a view from an <img>",
                "parameters": [SESSION_PARAMETER], "responses": _pixel_errors()},
        "head": {"operationId": "look_at_pixel", "tags": ANALYTICS, "summary": "Check the pixel; counts nothing",
                 "responses": _pixel_errors()},
    },
    "/api/analytics/stats/{video_id}": {
        "parameters": [PATH_VIDEO_ID],
        "get": {"operationId": "stats", "tags": ANALYTICS, "summary": "A video's counts",
                "responses": _responses(_ok(_ref("Counts")), {**READ_ERRORS, 429: ["rate_limited"]})},
    },
    "/api/analytics/counter/{video_id}.svg": {
        "parameters": [PATH_VIDEO_ID],
        "get": {"operationId": "counter_badge", "tags": ANALYTICS, "summary": "A video's views in all, as a badge",
                "description": COUNTER_NOTE, "responses": _responses(BADGE_SVG, COUNTER_ERRORS)},
    },
    "/api/analytics/counter/{video_id}.json": {
        "parameters": [PATH_VIDEO_ID],
        "get": {"operationId": "counter_json", "tags": ANALYTICS, "summary": "A video's views in all",
                "description": COUNTER_NOTE,
                "responses": _responses(_ok(_object({"videoId": VIDEO_ID, "viewsTotal": COUNT})), COUNTER_ERRORS)},
    },
    "/api/analytics/stats/{video_id}/daily": {
        "parameters": [PATH_VIDEO_ID],
        "get": {"operationId": "daily_stats", "tags": ANALYTICS, "summary": "A video's views per day, oldest first",
                "parameters": [_query("days", {"type": "integer", "minimum": 1, "maximum": 366, "default": 30},
                                      "How many days back, today included")],
                "responses": _responses(_ok({"type": "array", "items": _ref("Day")}), {
                    400: ["invalid_video_id", "invalid_days"], 404: ["video_not_found"], 429: ["rate_limited"]})},
    },
    "/api/analytics/totals": {
        "get": {"operationId": "totals", "tags": ANALYTICS, "summary": "Views across all videos",
                "security": DASHBOARD_DATA,
                "responses": _responses(_ok(_ref("Totals")), {401: ["unauthorized"], 429: ["rate_limited"]})},
    },
    "/api/analytics/reset/daily": {
        "post": {"operationId": "reset_daily", "tags": ANALYTICS, "summary": "Zero every video's views today",
                 "security": ADMIN,
                 "responses": _responses(_ok(_ref("Reset")), {401: ["unauthorized"], 429: ["rate_limited"]})},
    },
    "/api/analytics/reset/monthly": {
        "post": {"operationId": "reset_monthly", "tags": ANALYTICS, "summary": "Zero every video's views this month",
                 "security": ADMIN,
                 "responses": _responses(_ok(_ref("Reset")), {401: ["unauthorized"], 429: ["rate_limited"]})},
    },
    "/api/analytics/export": {
        "get": {"operationId": "export_views", "tags": ANALYTICS, "summary": "Views per video and day, as a file",
                "description": "Days with views only; a year of 100,000 videos streams without a limit on the range.",
                "security": ADMIN,
                "parameters": [
                    _query("from", DAY, "First day (YYYY-MM-DD); default: 29 days before `to`"),
                    _query("to", DAY, "Last day (YYYY-MM-DD); default: today in TIMEZONE"),
                    _query("format", {"type": "string", "enum": ["csv", "json"], "default": "csv"},
                           "CSV, or JSON: the success envelope around an array of rows"),
                ],
                "responses": _responses(EXPORT_FILE, {
                    400: ["invalid_from", "invalid_to", "invalid_range", "invalid_format"], 401: ["unauthorized"],
                    429: ["rate_limited"]})},
    },
    "/api/videos": {
        "post": {
            "operationId": "create_video", "tags": ["videos"], "summary": "Register a video", "security": ADMIN,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewVideo")}}},
            "responses": _responses(_ok(_ref("Video"), "Registered"), {
                400: ["invalid_json", "unknown_field", "invalid_video_id", "invalid_title", "bad_request"],
                401: ["unauthorized"], 409: ["video_exists"], 429: ["rate_limited"]}, status=201),
        },
        "get": {
            "operationId": "list_videos", "tags": ["videos"], "summary": "Videos with their counts, a page at a time",
            "security": DASHBOARD_DATA,
            "parameters": [
                _query("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
                       "Page number; past the last page, items is empty"),
                _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                       "Videos per page"),
                _query("sort", {"type": "string", "enum": list(SORTS), "default": "views_total"},
                       "Largest or newest first"),
                _query("q", {"type": "string", "maxLength": 100},
                       "Keep videos whose title or id contains this, in any case (printable characters)"),
            ],
            "responses": _responses(_ok(_ref("VideoPage")), {
                400: ["invalid_page", "invalid_per_page", "invalid_sort", "invalid_q"],
                401: ["unauthorized"], 429: ["rate_limited"]}),
        },
    },
    "/api/openapi.json": {
        "get": {"operationId": "openapi_json", "tags": ["contract"], "summary": "This document",
                "responses": {"200": {"description": "The OpenAPI 3.1 document",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              "413": _error(["payload_too_large"])}},
    },
    "/api/docs": {
        "get": {"operationId": "docs", "tags": ["contract"], "summary": "This document as a page",
                "responses": {"200": {"description": "An HTML page",
                                      "content": {"text/html": {"schema": {"type": "string"}}}},
                              "413": _error(["payload_too_large"])}},
    },
    "/healthz": {
        "get": {
            "operationId": "healthz", "tags": ["health"], "summary": "Is the service healthy",
            "description": "Not enveloped: the status itself, for load balancers and monitors.",
            "responses": {
                "200": {"description": "The database answers",
                        "content": {"application/json": {"schema": _ref("Health")}}},
                "413": _error(["payload_too_large"]),
                "503": {"description": "The database does not answer", "content": {"application/json": {
                    "schema": _object({"status": {"const": "error"}, "database": {"const": "unreachable"}})}}},
            },
        },
    },
}

_COUNTS = {"videoId": VIDEO_ID, "viewsToday": COUNT, "viewsMonth": COUNT, "viewsTotal": COUNT,
           "uniqueViewersToday": COUNT}
SECONDS_PLAYED = {"type": "number", "minimum": 0, "description": "Seconds the views reported playing"}
_LAST_RUN = _object({"at": TIMESTAMP, "trigger": {"type": "string"}, "outcome": {"type": "string"},
                     "count": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}})
_JOB = _object({"lastRun": {"oneOf": [{"type": "null"}, _LAST_RUN]},
                "nextRun": {"oneOf": [{"type": "null"}, TIMESTAMP]}})

SCHEMAS = {
    "Counts": _object({**_COUNTS, "watchSecondsToday": SECONDS_PLAYED, "watchSecondsMonth": SECONDS_PLAYED,
                       "completionsToday": {**COUNT, "description": "Views today that reached 90 % of the video"}}),
    "WatchReport": _object({"videoId": VIDEO_ID, "counted": {"type": "boolean"}, "message": {"type": "string"},
                            "reason": {"const": "unknown_view", "description": "Only when not counted"}},
                           required=["videoId", "counted", "message"]),
    "TrackedView": _object({
        "message": {"type": "string"}, "counted": {"type": "boolean"},
        "reason": {"type": "string", "enum": list(FILTER_REASONS), "description": "Only when not counted"},
        **_COUNTS}, required=["message", "counted", *_COUNTS]),
    "Day": _object({"date": {"type": "string", "format": "date"}, "views": COUNT, "uniqueViewers": COUNT,
                    "watchSeconds": SECONDS_PLAYED, "completions": COUNT}),
    "Totals": _object({
        "viewsToday": COUNT, "viewsMonth": COUNT, "viewsTotal": COUNT, "uniqueViewersToday": COUNT,
        "filteredToday": _object({reason: COUNT for reason in FILTER_REASONS}),
        "viewsYesterdayByNow": {**COUNT, "description": "Views yesterday up to this time of day, to 5 minutes"},
        "viewsLastMonthByNow": {**COUNT, "description": "Views last month up to this day and time, to 5 minutes"},
        "videos": COUNT, "watchSecondsToday": SECONDS_PLAYED, "watchSecondsTotal": SECONDS_PLAYED}),
    "Reset": _object({"message": {"type": "string"}, "count": COUNT}),
    "ExportRow": _object({"videoId": {"type": "string"}, "date": DAY, "views": COUNT, "uniqueViewers": COUNT,
                          "watchSeconds": {"type": "number", "minimum": 0,
                                           "description": "Seconds played, to the millisecond"},
                          "completions": COUNT}),
    "NewVideo": _object({"id": VIDEO_ID, "title": {
        "type": "string", "minLength": 1, "maxLength": TITLE_MAX,
        "description": f"1 to {TITLE_MAX} printable characters on one line, stored without surrounding blanks"}}),
    "Video": _object({"id": VIDEO_ID, "title": {"type": "string"}, "createdAt": TIMESTAMP,
                      "viewsToday": COUNT, "viewsMonth": COUNT, "viewsTotal": COUNT}),
    "VideoPage": _object({"items": {"type": "array", "items": _ref("Video")}, "page": COUNT, "perPage": COUNT,
                          "total": {**COUNT, "description": "Matching videos; a search counts at most 1,001"},
                          "totalCapped": {"type": "boolean",
                                          "description": "More than 1,000 videos match the search: total is 1,001"},
                          "pages": COUNT}),
    "Health": _object({
        "status": {"const": "ok"}, "database": {"const": "ok"}, "time": TIMESTAMP, "timezone": {"type": "string"},
        "scheduler": _object({"running": {"type": "boolean"},
                              # which process holds the lease that runs the jobs, and whether this one does
                              "leaseHolder": {"type": ["string", "null"]}, "runner": {"type": "boolean"},
                              "jobs": {"type": "object", "additionalProperties": _JOB}})}),
}


def document() -> dict:
    """Return the OpenAPI document; its server is "/", whatever host serves it."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Viewtally", "version": "1",
                 "description": "Count video views and read them back. Every answer under /api is an envelope: "
                                '{"success": true, "data": …} or {"success": false, "error": "…", "code": "…"}.'},
        "servers": [{"url": "/"}],
        "tags": [{"name": "analytics"}, {"name": "videos"}, {"name": "health"}, {"name": "contract"}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer", "description": "The ADMIN_TOKEN"}}},
    }


def describe(schema: dict) -> str:
    """Say in one line what `schema` accepts, naming referenced schemas rather than expanding them."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(value) for value in schema["enum"])
    if "oneOf" in schema:
        return " or ".join(describe(option) for option in schema["oneOf"])
    kind = schema.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array":
        return f"array of {describe(schema['items'])}"
    if kind == "object" and "properties" in schema:
        required = schema.get("required", [])
        fields = ", ".join(f"{name}{'' if name in required else '?'}: {describe(value)}"
                           for name, value in schema["properties"].items())
        closed = " (no other fields)" if schema.get("additionalProperties") is False else ""
        return f"{{{fields}}}{closed}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"{{name: {describe(schema['additionalProperties'])}}}"
    facts = [f"{word} {schema[key]}" for key, word in (
        ("minimum", "from"), ("maximum", "to"), ("minLength", "at least"), ("maxLength", "at most"),
        ("pattern", "matching"), ("format", "format"), ("default", "default")) if key in schema]
    return kind + (f" ({', '.join(facts)})" if facts else "")


@bp.get("/openapi.json")
def openapi_json():
    """Answer the OpenAPI document of this API."""
    return document()


@bp.get("/docs")
def docs():
    """Show the API, operation by operation, as a page."""
    return render_template("api_docs.html", spec=document(), spec_url=url_for("api.openapi_json"),
                           describe=describe)
