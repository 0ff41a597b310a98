"""Let players on other sites call the public endpoints from the browser."""

from flask import current_app, request

# Admin endpoints stay same-origin: a browser on another site never gets their answers.
PUBLIC_ENDPOINTS = {"api.track_view", "api.track_pixel", "api.stats", "api.daily_stats", "api.list_videos"}


def allow_origin(response):
    """Add Access-Control-Allow-Origin to public answers, for the origins in CORS_ORIGINS."""
    if request.endpoint not in PUBLIC_ENDPOINTS:
        return response
    allowed = current_app.config["CORS_ORIGINS"]
    if allowed == ["*"]:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif allowed:
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS" and "Access-Control-Allow-Origin" in response.headers:
        # A preflight: a page may send JSON and read the answer, and need not ask again for a day.
        response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "GET, POST")
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Viewtally-Session"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response
