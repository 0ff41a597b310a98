"""Checks every request passes before any view: body size and client address."""

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix


def reject_large_body() -> None:
    """Refuse a body over MAX_CONTENT_LENGTH on every route, read by the view or not.

    Flask enforces the limit only when a view reads the body; this looks at
    Content-Length up front, and reads a chunked body (bounded by the same
    limit) to learn its size.
    """
    length = request.content_length
    if length is not None:
        if length > (request.max_content_length or 0):
            raise RequestEntityTooLarge()
    elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        request.get_data(cache=True)  # raises RequestEntityTooLarge past the limit


def init_app(app: Flask) -> None:
    """Install the body check and, behind trusted proxies, ProxyFix."""
    app.before_request(reject_large_body)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Believe exactly the last `proxies` hops of X-Forwarded-For; anything
        # a client wrote before them is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0)
