"""The admin bearer token: required on admin endpoints, compared in constant time."""

import hmac
from functools import wraps

from flask import current_app, request

from .services.errors import ServiceError


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


def admin_required(view):
    """Refuse the view with 401 unless the request carries the admin token."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if not token_matches(request.headers.get("Authorization", ""), current_app.config["ADMIN_TOKEN"]):
            raise AdminTokenRequired()
        return view(*args, **kwargs)

    return guarded
