"""The admin bearer token: required on admin endpoints, compared in constant time, guesses limited."""

import hmac
from functools import wraps

from flask import current_app, request

from ..extensions import limiter
from ..services.errors import ServiceError
from .session import logged_in


class AdminTokenRequired(ServiceError):
    """The request lacks the admin token, or carries a wrong one."""

    code = "unauthorized"
    status = 401

    def __init__(self):
        super().__init__("This endpoint needs the header 'Authorization: Bearer <ADMIN_TOKEN>'")


def token_matches(authorization: str, token: str) -> bool:
    """Tell whether an Authorization header carries `token` as a bearer token."""
    scheme, _, supplied = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(supplied.strip().encode(), token.encode())


def failed_token_limit(**options):
    """A rate limit on wrong admin tokens per client, shared by the login form and the API.

    Only refused tokens count, so using the right token never uses the
    budget up, nor does a request that brought none (a private dashboard's
    refresh after its login ended); after LOGIN_RATE_LIMIT misses the
    client waits, token or not.
    """
    return limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="admin-token",
                                deduct_when=lambda response: response.status_code == 401 and _offered_token(),
                                **options)


def _offered_token() -> bool:
    """Tell whether the request tried a token (a header or the login form): asking without one guesses nothing."""
    return "Authorization" in request.headers or "token" in request.form


def _carries_admin_token() -> bool:
    return token_matches(request.headers.get("Authorization", ""), current_app.config["ADMIN_TOKEN"])


def admin_required(view):
    """Refuse the view with 401 unless the request carries the admin token."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not _carries_admin_token():
            raise AdminTokenRequired()
        return view(*args, **kwargs)

    return failed_token_limit()(guarded)


def admin_unless(setting: str):
    """Open the view to anyone while the config switch `setting` is on; else as admin_required."""

    def decorate(view):
        guarded = admin_required(view)

        @wraps(view)
        def choose(*args, **kwargs):
            return (view if current_app.config[setting] else guarded)(*args, **kwargs)

        return choose

    return decorate


def dashboard_data(view):
    """Open the view like the dashboard: to anyone, or with DASHBOARD_PUBLIC off only to the admin."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not current_app.config["DASHBOARD_PUBLIC"] and not (logged_in() or _carries_admin_token()):
            raise AdminTokenRequired()
        return view(*args, **kwargs)

    # A private dashboard checks the token too, so its reads count wrong guesses like every other door.
    return failed_token_limit(exempt_when=lambda: current_app.config["DASHBOARD_PUBLIC"])(guarded)
