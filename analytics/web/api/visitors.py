"""Who sent a view, as the request tells it: address, user agent, session id, prefetch, the embedding site."""

import ipaddress
import json
import re
from functools import lru_cache
from urllib.parse import urlsplit

from ...context import running_app, this_request
from ...services.errors import InvalidInput
from ...services.viewers import Visitor
from .responses import reject_unknown_fields

SESSION_HEADER = "X-Viewtally-Session"
SESSION_MAX = 128
# The id a player makes for each view it sends (track.js: 32 random hex digits), for its watch reports.
VIEW_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
VIEW_FIELDS = ("session", "view")
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")  # whose fields are all text
_SESSION_KEY = "HTTP_" + SESSION_HEADER.upper().replace("-", "_")  # its WSGI key
# Headers by which browsers announce a prefetch or prerender (their WSGI keys), and the values that mean it.
_PREFETCH_HEADERS = (("HTTP_SEC_PURPOSE", ("prefetch", "prerender")), ("HTTP_PURPOSE", ("prefetch", "prerender")),
                     ("HTTP_X_MOZ", ("prefetch",)), ("HTTP_X_PURPOSE", ("preview",)))
ORIGIN_MAX = 300
_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")


def visitor() -> Visitor:
    """Describe this request's sender.

    The address is the socket peer, or what TRUSTED_PROXIES lets ProxyFix
    take from X-Forwarded-For; no other header is believed.

    :raises InvalidInput: a malformed session id, view id or JSON body.
    """
    req = this_request()
    environ = req.environ  # read straight: this runs on every view (ProxyFix has set REMOTE_ADDR by now)
    body = body_fields(req, VIEW_FIELDS) if req.method == "POST" else {}
    # The body is checked even when the header names the viewer: a bad body is a 400 either way.
    session = _checked_session(body.get("session"))
    header = _checked_session(environ.get(_SESSION_KEY))
    origin = embedding_origin(environ)
    return Visitor(address=environ.get("REMOTE_ADDR") or "", user_agent=environ.get("HTTP_USER_AGENT"),
                   session=session if header is None else header, prefetch=_is_prefetch(environ),
                   origin=origin, own_origin=origin is not None and origin == _own_origin(environ),
                   view=checked_view_id(body.get("view"), required=False))


def embedding_origin(environ: dict) -> str | None:
    """Return the sending page's scheme and host (with a port other than the scheme's), or None.

    From Origin, else Referer; never a path or query string. Anything but
    http and https (file:, an opaque "null" origin) is unknown.
    """
    for header in ("HTTP_ORIGIN", "HTTP_REFERER"):
        value = environ.get(header)
        if value and value != "null":
            return _origin_of(value)
    return None


@lru_cache(maxsize=1024)  # a site's views send the same few Origin values over and over
def _origin_of(url: str) -> str | None:
    """Return a URL's origin as browsers write it: lower case, an international name in punycode,
    no final dot, no port when it is the scheme's own; None for anything else than a plain host."""
    try:
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
        if host and not host.isascii():
            host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    host = (host or "").rstrip(".")
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:  # an IPv6 address
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return None
    elif not _HOST.fullmatch(host):
        return None
    default = 80 if scheme == "http" else 443
    origin = f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"
    return origin if len(origin) <= ORIGIN_MAX else None


def _own_origin(environ: dict) -> str | None:
    public = running_app().config["PUBLIC_URL"]
    if public:
        return _origin_of(public)
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME")
    return _origin_of(f"{environ.get('wsgi.url_scheme', 'http')}://{host}") if host else None


def _is_prefetch(environ: dict) -> bool:
    for header, values in _PREFETCH_HEADERS:  # most views send none of these
        announced = environ.get(header)
        if announced and any(value in announced.lower() for value in values):
            return True
    return False


def _checked_session(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= SESSION_MAX or not value.isprintable():
        raise InvalidInput(f"A session id is 1 to {SESSION_MAX} printable characters", code="invalid_session")
    return value


def checked_view_id(value, required: bool) -> str | None:
    """Return a player's view id, checked: 16 to 64 letters, digits, "-" or "_"."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or not VIEW_ID.fullmatch(value):
        raise InvalidInput("A view id is 16 to 64 letters, digits, '-' or '_'", code="invalid_view")
    return value


def body_fields(req, names: tuple[str, ...], null_code: str | None = None) -> dict:
    """Return the fields of a JSON, text/plain JSON or form body, refusing any not in `names`.

    :raises InvalidInput: a body that is not a JSON object, an unknown field, or a null.
    """
    if req.environ.get("CONTENT_LENGTH", "0") in ("", "0"):  # no body (a chunked one has a length by now)
        return {}
    # JSON, or text/plain: what fetch() sends for a JSON.stringify() body, which spares a
    # page on another site the CORS preflight, so it must be read (not ignored) too.
    if req.is_json or req.mimetype == "text/plain":
        data = req.get_data(cache=True)
        if not data.strip():
            return {}
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            example = ", ".join(f'"{name}": …' for name in names)
            raise InvalidInput(f"Send a JSON object such as {{{example}}}, or no body", code="invalid_json")
        reject_unknown_fields(body, names)
        for name, value in body.items():
            if value is None:  # null is no way to leave a field out
                raise InvalidInput(f"'{name}' must not be null; leave it out instead",
                                   code=null_code or f"invalid_{name}")
        return body
    if req.mimetype in FORMS:
        reject_unknown_fields([*req.form, *req.files], names)
        return {name: req.form[name] for name in names if name in req.form}
    return {}
