"""Let players on other sites call the public endpoints from the browser (CORS), and nothing else.

Hand-written in one after-request function: Flask-CORS matched every
answer's path against each resource's pattern and cost a fifth of a cached
stats answer, and it matches paths, never methods, while /api/videos is
both the public list (GET) and the admin's POST.
"""

import re

from flask import Flask, request

from ...context import running_app, this_request
from ..headers import Response

# The public endpoints and the methods a page on another site may use on them.
# Admin endpoints stay same-origin: a browser on another site never gets their answers.
PUBLIC_PATHS = {
    r"/api/analytics/view/.*": ("POST",),
    r"/api/analytics/pixel/.*": ("GET", "HEAD"),
    r"/api/analytics/stats/.*": ("GET", "HEAD"),  # a video's counts and its daily series
    r"/api/analytics/counter/.*": ("GET", "HEAD"),  # the public counters
    "/api/videos": ("GET", "HEAD"),
}
PUBLIC_ENDPOINTS = frozenset({"api.track_view", "api.track_pixel", "api.stats", "api.daily_stats", "api.list_videos",
                              "api.counter_badge", "api.counter_json"})
ANY_ORIGIN = (("Access-Control-Allow-Origin", "*"),)
# A page may send JSON and name its viewer, and need not ask again for a day.
ALLOWED_HEADERS = frozenset({"content-type", "x-viewtally-session"})
MAX_AGE = "86400"


def init_app(app: Flask) -> None:
    """Answer other origins' requests and preflights on the public endpoints, as CORS_ORIGINS allows."""
    app.after_request(allow_other_origins)


def allow_other_origins(response: Response) -> Response:
    """Add the CORS headers to a public endpoint's answer (error pages included) or to a preflight for one.

    With "*" every public answer carries the header, Origin or not, so a
    shared cache can never hand a page one without it. With a list, only a
    listed Origin gets its own name back, and the answer varies by Origin.
    """
    origins = running_app().config["CORS_ORIGINS"]
    if not origins:
        return response
    methods = None
    req = this_request()
    if req.method == "OPTIONS":
        methods = _preflight_methods()
        if methods is None:
            return response
    elif req.endpoint not in PUBLIC_ENDPOINTS:
        return response
    headers = response.headers
    if origins == ["*"]:
        response.sent_with += ANY_ORIGIN  # constant: sent without werkzeug's checks (web/headers.py)
    else:
        response.vary.add("Origin")
        origin = req.headers.get("Origin", "")
        if origin.lower() not in origins:  # the listed origins are in lower case (config)
            return response
        headers["Access-Control-Allow-Origin"] = origin
    if methods is not None:  # a preflight
        headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        wanted = req.headers.get("Access-Control-Request-Headers", "")
        allowed = [name.strip() for name in wanted.split(",") if name.strip().lower() in ALLOWED_HEADERS]
        if allowed:
            headers["Access-Control-Allow-Headers"] = ", ".join(allowed)
        headers["Access-Control-Max-Age"] = MAX_AGE
    return response


def _preflight_methods() -> tuple[str, ...] | None:
    """Return the public methods of the path a preflight asks about, if it asks for one of them.

    By path, not endpoint: an OPTIONS request on /api/videos may match either of its two routes.
    """
    asked = request.headers.get("Access-Control-Request-Method", "")
    for path, methods in PUBLIC_PATHS.items():
        if asked in methods and re.fullmatch(path, request.path):
            return methods
    return None
