"""GET /healthz: is the database reachable, and how did the scheduled resets go; GET /metrics: the figures."""


from flask import Blueprint, current_app

from .. import database, metrics, scheduler
from ..clock import current_clock, iso_utc
from .auth import admin_unless

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


@bp.get("/metrics")
@admin_unless("METRICS_PUBLIC")
def metrics_text():
    """Answer the deployment's figures in Prometheus text format, for a scraper holding the admin token."""
    body, content_type = metrics.exposition(scheduler.JOBS)
    return current_app.response_class(body, content_type=content_type)
