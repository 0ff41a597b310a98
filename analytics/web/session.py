"""The admin's browser session: login, logout, and what refuses a form post from elsewhere.

The session is Flask's signed cookie: HttpOnly, SameSite=Lax, and Secure
whenever the request came over https (directly, or through a trusted proxy).
The admin logs in with ADMIN_TOKEN, compared in constant time; the token
itself is never stored in the cookie. Each login is also a row on the server
(services/admin_sessions.py): logging out deletes it, and it outlives
neither PERMANENT_SESSION_LIFETIME nor the ADMIN_TOKEN it was made with.
CSRF tokens are Flask-WTF's (`csrf` in extensions.py).
"""

import hashlib
import hmac
from datetime import datetime, timezone
from functools import wraps

from flask import current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from ..clock import current_clock, utc_now
from ..context import running_app, this_request
from ..extensions import csrf
from ..services import admin_sessions

_ADMIN = "admin"
_NONCE = "login"
_EXPIRES = "expires"


class HttpsAwareSessions(SecureCookieSessionInterface):
    """Mark the session cookie Secure over https, and let it expire a fixed time after login."""

    def open_session(self, app, request):
        # Most requests (every view a player sends) carry no cookie: skip parsing
        # cookies and building the signer.
        if "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        # As Flask's, which first looks up every cookie attribute: most sessions are empty and untouched.
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def get_expiration_time(self, app, session):
        # Flask would set now + lifetime each time the cookie is written (a flash
        # message writes it too), so the login would slide; the login fixed the end.
        if session.permanent and isinstance(session.get(_EXPIRES), int):
            return datetime.fromtimestamp(session[_EXPIRES], timezone.utc)
        return super().get_expiration_time(app, session)


def _token_mark() -> str:
    """A keyed fingerprint of the admin token: a new token ends every session made with the old one."""
    token = (current_app.config["ADMIN_TOKEN"] or "").encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), token, hashlib.sha256).hexdigest()[:32]


def log_in(token: str) -> bool:
    """Start an admin session if `token` is the admin token; tell whether it was."""
    expected = current_app.config["ADMIN_TOKEN"] or ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return False
    lifetime = current_app.permanent_session_lifetime
    if isinstance(session.get(_NONCE), str):
        admin_sessions.end(session[_NONCE])  # a copy of the cookie from before this login opens nothing
    session.clear()  # a new session, and with it a new CSRF token
    session.permanent = True
    session[_ADMIN] = _token_mark()
    session[_NONCE] = admin_sessions.start(current_clock(), lifetime)
    # The browser's clock is the wall clock, whatever clock the app was given.
    session[_EXPIRES] = int((utc_now() + lifetime).timestamp())
    g.admin_logged_in = True
    return True


def log_out() -> None:
    """End the admin session here and on the server, so a copy of the cookie opens nothing."""
    if isinstance(session.get(_NONCE), str):
        admin_sessions.end(session[_NONCE])
    session.clear()
    g.admin_logged_in = False


def logged_in() -> bool:
    """Tell whether this request belongs to a live admin login (asked once per request)."""
    if "admin_logged_in" not in g:
        mark, nonce = session.get(_ADMIN), session.get(_NONCE)
        g.admin_logged_in = (isinstance(mark, str) and isinstance(nonce, str)
                             and hmac.compare_digest(mark, _token_mark())
                             and admin_sessions.is_live(nonce, current_clock(), current_app.permanent_session_lifetime))
    return g.admin_logged_in


def to_login():
    """Redirect to the login page, which sends the admin back here afterwards."""
    return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))


def login_required(view):
    """Send a visitor without an admin session to the login page, and back afterwards."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not logged_in():
            return to_login()
        return view(*args, **kwargs)

    return guarded


_EXEMPT_BLUEPRINTS: set[str] = set()


def exempt_from_csrf(blueprint) -> None:
    """Take a blueprint whose writes never ride on cookies (bearer tokens) out of the CSRF check."""
    csrf.exempt(blueprint)
    _EXEMPT_BLUEPRINTS.add(blueprint.name)


def check_csrf() -> None:
    """Refuse a form post without this session's CSRF token, as Flask-WTF's own check does.

    Flask-WTF's check looks the endpoint's exemptions up before the method,
    on every request; this asks the method first, so a GET costs nothing,
    and the blueprint next, so a view sent to the API costs little.
    """
    req = this_request()
    config = running_app().config
    if (req.method in config["WTF_CSRF_METHODS"] and config["WTF_CSRF_ENABLED"]  # as routed: upper case
            and req.blueprint not in _EXEMPT_BLUEPRINTS):
        csrf.protect(apply_exemptions=True)  # views marked exempt one by one stay so


def init_app(app) -> None:
    """Use the https-aware sessions and check CSRF tokens, after the body-size check has run."""
    app.session_interface = HttpsAwareSessions()
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # check_csrf checks instead
    csrf.init_app(app)
    app.before_request(check_csrf)  # it reads the form, so it must come after request_guards' size check
