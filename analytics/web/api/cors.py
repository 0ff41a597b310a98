"""Let players on other sites call the public endpoints from the browser, through Flask-CORS."""

import re

from flask import Flask, request
from flask_cors import CORS

# The public endpoints and the methods a page on another site may use on them.
# Admin endpoints stay same-origin: a browser on another site never gets their answers.
PUBLIC_PATHS = {
    r"/api/analytics/view/.*": ["POST"],
    r"/api/analytics/pixel/.*": ["GET", "HEAD"],
    r"/api/analytics/stats/.*": ["GET", "HEAD"],  # a video's counts and its daily series
    "/api/videos": ["GET", "HEAD"],
}
PUBLIC_ENDPOINTS = {"api.track_view", "api.track_pixel", "api.stats", "api.daily_stats", "api.list_videos"}
CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Expose-Headers")


def init_app(app: Flask) -> None:
    """Answer other origins' requests and preflights on the public paths, as CORS_ORIGINS allows."""
    # Registered before Flask-CORS, so that it runs after it (Flask runs these in reverse).
    app.after_request(_admin_answers_stay_same_origin)
    origins = app.config["CORS_ORIGINS"]
    CORS(
        app,
        resources={path: {"methods": methods} for path, methods in PUBLIC_PATHS.items()},
        origins=origins,
        send_wildcard=True,
        # A page may send JSON and name its viewer, and need not ask again for a day.
        allow_headers=["Content-Type", "X-Viewtally-Session"],
        max_age=86400,
        # With "*", every answer carries it, so a shared cache can never hand a page one without.
        # With a list, only a listed Origin gets its own name back (Flask-CORS would
        # otherwise send every listed origin at once, which browsers refuse).
        always_send=origins == ["*"],
        # Flask runs after_request functions on error pages already: a 404 or 429 is readable too.
        intercept_exceptions=False,
    )


def _admin_answers_stay_same_origin(response):
    """Take the allowance back from anything but a public endpoint's answer, or a preflight.

    Hand-written because Flask-CORS matches paths, never methods, and
    /api/videos is both the public list (GET) and the admin's POST: a
    preflight for the POST gets no allowance at all.
    """
    if request.method == "OPTIONS":
        asked = request.headers.get("Access-Control-Request-Method", "")
        public = any(re.fullmatch(path, request.path) and asked in methods for path, methods in PUBLIC_PATHS.items())
    else:
        public = request.endpoint in PUBLIC_ENDPOINTS
    if not public:
        for header in CORS_HEADERS:
            response.headers.pop(header, None)
    return response
