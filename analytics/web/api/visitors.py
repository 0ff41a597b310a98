"""Who sent a view, as the request tells it: address, user agent, session id, prefetch."""

import json

from ...context import this_request
from ...services.errors import InvalidInput
from ...services.viewers import Visitor
from .responses import reject_unknown_fields

SESSION_HEADER = "X-Viewtally-Session"
SESSION_MAX = 128
_SESSION_KEY = "HTTP_" + SESSION_HEADER.upper().replace("-", "_")  # its WSGI key
# Headers by which browsers announce a prefetch or prerender (their WSGI keys), and the values that mean it.
_PREFETCH_HEADERS = (("HTTP_SEC_PURPOSE", ("prefetch", "prerender")), ("HTTP_PURPOSE", ("prefetch", "prerender")),
                     ("HTTP_X_MOZ", ("prefetch",)), ("HTTP_X_PURPOSE", ("preview",)))


def visitor() -> Visitor:
    """Describe this request's sender.

    The address is the socket peer, or what TRUSTED_PROXIES lets ProxyFix
    take from X-Forwarded-For; no other header is believed.

    :raises InvalidInput: a malformed session id or JSON body.
    """
    req = this_request()
    environ = req.environ  # read straight: this runs on every view (ProxyFix has set REMOTE_ADDR by now)
    return Visitor(address=environ.get("REMOTE_ADDR") or "", user_agent=environ.get("HTTP_USER_AGENT"),
                   session=_session(req), prefetch=_is_prefetch(environ))


def _is_prefetch(environ: dict) -> bool:
    for header, values in _PREFETCH_HEADERS:  # most views send none of these
        announced = environ.get(header)
        if announced and any(value in announced.lower() for value in values):
            return True
    return False


def _session(req) -> str | None:
    """Return the session id from the header, or a "session" field of a JSON or form body."""
    header = _checked_session(req.environ.get(_SESSION_KEY))
    # The body is checked even when the header names the viewer: a bad body is a 400 either way.
    body = _checked_session(_body_field(req, "session")) if req.method == "POST" else None
    return body if header is None else header


def _checked_session(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= SESSION_MAX or not value.isprintable():
        raise InvalidInput(f"A session id is 1 to {SESSION_MAX} printable characters", code="invalid_session")
    return value


def _body_field(req, name: str):
    if req.environ.get("CONTENT_LENGTH", "0") in ("", "0"):  # no body (a chunked one has a length by now)
        return None
    # JSON, or text/plain: what fetch() sends for a JSON.stringify() body, which spares a
    # page on another site the CORS preflight, so it must be read (not ignored) too.
    if req.is_json or req.mimetype == "text/plain":
        data = req.get_data(cache=True)
        if not data.strip():
            return None
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise InvalidInput('Send a JSON object such as {"session": "…"}, or no body', code="invalid_json")
        reject_unknown_fields(body, (name,))
        if name in body and body[name] is None:  # null is no way to leave a field out
            raise InvalidInput(f"'{name}' must not be null; leave it out instead", code=f"invalid_{name}")
        return body.get(name)
    if req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        reject_unknown_fields([*req.form, *req.files], (name,))
        return req.form.get(name)
    return None
