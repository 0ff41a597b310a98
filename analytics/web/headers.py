"""Security headers: what a browser may do with the pages it gets from us."""

from flask import Response

from ..context import this_request

# Every script and style is a file under static/; the demo plays a canvas stream (blob:)
# in a <video>, and nobody may frame a page (clickjacking on the admin's buttons).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
])
# A year; no includeSubDomains, since the parent domain's other hosts are not ours to decide.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def secure_headers(response: Response) -> Response:
    """Add the security headers: the page policies on HTML, nosniff and (over https) HSTS on all.

    track.js, the pixel and the JSON API are loaded by other sites' pages, so
    they get no CSP or framing rule, which would mean nothing for them anyway.
    """
    headers = response.headers
    # Set, not setdefault: werkzeug's test for a missing header raises and catches an exception.
    headers["X-Content-Type-Options"] = "nosniff"
    if this_request().environ["wsgi.url_scheme"] == "https":  # request.is_secure, without its lookups
        headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    if (headers.get("Content-Type") or "").startswith("text/html"):
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app) -> None:
    """Send the security headers with every answer."""
    app.after_request(secure_headers)
