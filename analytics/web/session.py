"""The admin's browser session: login, logout, and the CSRF token of every form.

The session is Flask's signed cookie: HttpOnly, SameSite=Lax, and Secure
whenever the request came over https (directly, or through a trusted proxy).
The admin logs in with ADMIN_TOKEN, compared in constant time; the token
itself is never stored in the cookie.
"""

import hashlib
import hmac
import secrets
from functools import wraps

from flask import current_app, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from ..services.errors import ServiceError

_ADMIN = "admin"
_CSRF = "csrf_token"


class HttpsAwareSessions(SecureCookieSessionInterface):
    """Mark the session cookie Secure when the request itself was https."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


class CsrfRejected(ServiceError):
    """A form post without this session's CSRF token."""

    code = "csrf_rejected"
    status = 400

    def __init__(self):
        super().__init__("This form has expired or was not sent from this site. Reload the page and try again.")


def _token_mark() -> str:
    """A keyed fingerprint of the admin token: a new token ends every session made with the old one."""
    token = (current_app.config["ADMIN_TOKEN"] or "").encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), token, hashlib.sha256).hexdigest()[:32]


def log_in(token: str) -> bool:
    """Start an admin session if `token` is the admin token; tell whether it was."""
    expected = current_app.config["ADMIN_TOKEN"] or ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        return False
    session.clear()
    session.permanent = True  # lasts PERMANENT_SESSION_LIFETIME, not forever
    session[_ADMIN] = _token_mark()
    session[_CSRF] = secrets.token_urlsafe(32)  # a new session, a new token
    return True


def log_out() -> None:
    session.clear()


def logged_in() -> bool:
    mark = session.get(_ADMIN)
    return isinstance(mark, str) and hmac.compare_digest(mark, _token_mark())


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


def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use (for templates)."""
    if _CSRF not in session:
        session[_CSRF] = secrets.token_urlsafe(32)
    return session[_CSRF]


def check_csrf() -> None:
    """Refuse a form post that does not carry this session's CSRF token.

    :raises CsrfRejected:
    """
    if request.method != "POST":
        return
    if request.endpoint == "admin.logout" and not logged_in():
        return  # nothing to protect: the view just shows the login page
    sent = request.form.get(_CSRF, "")
    expected = session.get(_CSRF, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected()


def init_app(app) -> None:
    app.session_interface = HttpsAwareSessions()
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["admin_logged_in"] = logged_in
