"""gunicorn settings, read whenever gunicorn starts in this folder."""

# One process with threads keeps the in-memory cache, the rate limiter and
# the scheduler coherent; command-line flags override these.
workers = 1
threads = 8


def post_worker_init(worker):
    """Start the reset scheduler in each worker, after the fork."""
    from analytics import serving

    app = worker.wsgi
    if "viewtally.scheduler" in getattr(app, "extensions", {}):
        serving.worker_started(app, worker.cfg.workers)
