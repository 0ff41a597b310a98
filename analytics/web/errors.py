"""One error shape: the JSON envelope for machines, a friendly page for people.

Every error reaches a client through `error_response`: 4xx from services
and from Flask alike, a database that cannot be reached (or is locked past
the busy timeout) as 503, anything unexpected as a logged 500 without a
trace. The tracking pixel answers its GIF instead, so
an <img> never shows a broken image.
"""

import logging
import time

from flask import Flask, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from ..extensions import limiter
from ..services.errors import ServiceError
from .api import responses

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "rate_limited", 500: "internal_error",
    503: "service_unavailable",
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def wants_json() -> bool:
    """Tell whether this request is a machine's: the API, the health check and the metrics."""
    return request.path.startswith("/api/") or request.path in ("/api", "/healthz", "/metrics")


def error_response(status: int, code: str, message: str, headers=None):
    """Answer an error as the pixel, the JSON envelope, or an HTML page."""
    # An <img> never sends a body, so a 413 is not an image request: it gets the envelope.
    if request.endpoint == "api.track_pixel" and status != 413:
        response = responses.pixel(status)
    elif wants_json():
        response = responses.error(status, code, message)
    else:
        response = make_response(render_template("error.html", status=status, message=message), status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_message(error: HTTPException) -> str:
    if error.code == 404:
        return f"Nothing is at {request.method} {request.path}"
    if error.code == 405:
        allowed = ", ".join(sorted(set(error.valid_methods or []) - {"HEAD", "OPTIONS"}))
        return f"{request.method} is not allowed here; use {allowed}"
    if error.code == 413:
        return f"The request body is larger than {request.max_content_length} bytes"
    if error.code == 429:
        return f"Too many requests (limit: {error.description}); try again in {_seconds_to_wait()} seconds"
    return error.description or error.name


def _seconds_to_wait() -> int:
    """Seconds until the limit that was hit lets this client through again."""
    limit = limiter.current_limit
    return max(1, int(limit.reset_at - time.time())) if limit else 60  # as Retry-After counts


def on_service_error(error: ServiceError):
    return error_response(error.status, error.code, error.message,
                          {"WWW-Authenticate": "Bearer"} if error.status == 401 else None)


def on_csrf_error(error: CSRFError):
    # Flask-WTF's reasons ("The CSRF token is missing.") mean nothing to the admin.
    return error_response(400, "csrf_rejected",
                          "This form has expired or was not sent from this site. Reload the page and try again.")


def on_http_error(error: HTTPException):
    status = error.code or 500
    headers = {name: value for name, value in error.get_headers() if name in _KEPT_HEADERS}
    return error_response(status, CODES.get(status, "error"), _http_message(error), headers)


def on_integrity_error(error: IntegrityError):
    log.warning("integrity error: %s", error.orig)
    return error_response(409, "conflict", "The change conflicts with data already stored")


def on_database_error(error: Exception):
    log.exception("database unavailable")
    return error_response(503, "database_unavailable", "The database is unavailable; try again shortly")


def on_unexpected_error(error: Exception):
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "Something went wrong on our side; it has been logged")


def init_app(app: Flask) -> None:
    """Route every error to `error_response`."""
    app.register_error_handler(ServiceError, on_service_error)
    app.register_error_handler(HTTPException, on_http_error)
    app.register_error_handler(CSRFError, on_csrf_error)
    app.register_error_handler(IntegrityError, on_integrity_error)
    for outage in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(outage, on_database_error)
    app.register_error_handler(Exception, on_unexpected_error)
