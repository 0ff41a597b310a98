"""The JSON API under /api: every answer is an envelope."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from . import analytics, cors, videos  # noqa: E402,F401  (routes register on bp)

bp.after_request(cors.allow_origin)
