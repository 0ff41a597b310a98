"""What a server process does once it is up (called from gunicorn.conf.py)."""

import logging

from flask import Flask

from . import metrics, scheduler
from .services import screening

log = logging.getLogger(__name__)


def worker_started(app: Flask, workers: int) -> None:
    """Start the scheduler, ready the filters; warn when per-process state would split between workers."""
    scheduler.start_if_enabled(app)
    screening.warm(app)
    if not app.config["PUBLIC_URL"]:
        log.warning("PUBLIC_URL is not set: snippets name whatever host a request names; "
                    "set it to this service's public address")
    if workers > 1:
        if app.config["CACHE_TYPE"] == "SimpleCache":
            log.warning("%d workers share no SimpleCache: a viewer may read a stale count for up to "
                        "STATS_CACHE_SECONDS; set CACHE_TYPE=RedisCache", workers)
        if not metrics.multiprocess():
            log.warning("%d workers without PROMETHEUS_MULTIPROC_DIR: each answers /metrics with its own "
                        "latencies and errors; serve with gunicorn.conf.py, which sets it", workers)
        if str(app.config["RATELIMIT_STORAGE_URI"]).startswith("memory://"):
            log.warning("%d workers count rate limits apart, so clients get %dx the limit; "
                        "set RATELIMIT_STORAGE_URI=redis://…", workers, workers)
