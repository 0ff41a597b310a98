"""Checks every request passes before any view: body size and client address."""

import io

from flask import Flask, current_app
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from ..context import this_request
from .session import logged_in


# The admin page's CSV upload may be larger than any other body, for a logged-in admin.
LARGE_BODY_ENDPOINTS = {"admin.import_videos"}


def reject_large_body() -> None:
    """Refuse a body over MAX_CONTENT_LENGTH on every route, read by the view or not.

    Flask enforces the limit only when a view reads the body; this looks at
    Content-Length up front. A chunked body has no length, so it is read (at
    most one byte past the limit) and handed on as a buffer of known size.
    """
    req = this_request()
    environ = req.environ
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not (chunked or environ.get("CONTENT_LENGTH") or environ.get("wsgi.input_terminated")):
        return  # most requests have no body: no limit to look up
    if req.endpoint in LARGE_BODY_ENDPOINTS and logged_in():
        req.max_content_length = current_app.config["IMPORT_MAX_CONTENT_LENGTH"]
    if chunked:
        limit = req.max_content_length or 0
        body = _read_at_most(environ["wsgi.input"], limit + 1)
        if len(body) > limit:
            raise RequestEntityTooLarge()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    # A stream the server marks as terminated may have no length: werkzeug limits its read instead.
    elif (req.content_length or 0) > (req.max_content_length or 0):
        raise RequestEntityTooLarge()


def _read_at_most(stream, size: int) -> bytes:
    """Read up to `size` bytes; a malformed or cut-off chunked body is the client's error."""
    parts, left = [], size
    try:
        while left > 0 and (part := stream.read(left)):
            parts.append(part)
            left -= len(part)
    except Exception as error:  # the server's parser names its own errors (bad chunk size, no more data…)
        raise BadRequest("The chunked request body is malformed or incomplete") from error
    return b"".join(parts)


def init_app(app: Flask) -> None:
    """Install the body check and, behind trusted proxies, ProxyFix."""
    app.before_request(reject_large_body)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Believe exactly the last `proxies` hops of X-Forwarded-For; anything
        # a client wrote before them is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0)
