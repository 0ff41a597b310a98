"""The JSON API under /api: every answer is an envelope."""

from flask import Blueprint

from ..session import exempt_from_csrf

bp = Blueprint("api", __name__, url_prefix="/api")
exempt_from_csrf(bp)  # its writes take bearer tokens, never cookies, so no other site can borrow them

from . import analytics, cors, export, openapi, videos  # noqa: E402,F401  (routes register on bp)

# CORS is set up on the app, once its config is known: when the app registers this blueprint.
bp.record_once(lambda state: cors.init_app(state.app))
