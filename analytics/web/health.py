"""GET /healthz: is the database reachable, and how did the scheduled resets go."""


from flask import Blueprint, current_app

from .. import database, scheduler
from ..clock import current_clock, iso_utc

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report the service's health: 200 when the database answers, 503 when not."""
    if not database.is_reachable():
        return {"status": "error", "database": "unreachable"}, 503
    return {
        "status": "ok",
        "database": "ok",
        "time": iso_utc(current_clock().now()),
        "timezone": current_app.config["TIMEZONE"],
        "scheduler": scheduler.status(current_app._get_current_object()),
    }
