"""gunicorn settings, read whenever gunicorn starts in this folder."""

# One process with threads keeps the in-memory cache, the rate limiter and
# the scheduler coherent; command-line flags override these.
workers = 1
threads = 8
# The access log names no viewer: no client address, user agent, referrer or query string.
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# gunicorn believes no forwarded header from anyone (its default trusts 127.0.0.1's
# X-Forwarded-Proto, and any peer on a UNIX socket): the app's ProxyFix believes
# exactly TRUSTED_PROXIES hops, and none when that is 0.
forwarded_allow_ips = ""
secure_scheme_headers: dict = {}
forwarder_headers = ""


def post_worker_init(worker):
    """Start the reset scheduler in each worker, after the fork."""
    from analytics import serving

    app = worker.wsgi
    if "viewtally.scheduler" in getattr(app, "extensions", {}):
        serving.worker_started(app, worker.cfg.workers)
