"""Every configuration key, its default, and the one place that reads the environment.

Values are layered: the defaults below, then ``instance/config.py``, then
environment variables ``FLASK_<KEY>`` (``FLASK_TIMEZONE=Europe/Paris``).
A ``test_config`` mapping replaces the last two layers, so tests never see
a developer's local settings.

==========================  ==========================  ===============================================
key                         default                     meaning
==========================  ==========================  ===============================================
SQLALCHEMY_DATABASE_URI     sqlite:///analytics.db      database; relative SQLite paths land in instance/
SECRET_KEY                  generated once              kept in instance/secret_key when not set
ADMIN_TOKEN                 generated once              bearer token for admin endpoints, at least 16
                                                        characters; kept in instance/admin_token
                                                        (mode 0600) when not set
TIMEZONE                    UTC                         IANA zone deciding when "today" and
                                                        "this month" begin
STATS_CACHE_SECONDS         30                          how long GET stats answers are cached
CACHE_TYPE                  SimpleCache                 flask-caching backend (RedisCache for Redis)
CACHE_REDIS_URL             None                        Redis address when CACHE_TYPE is RedisCache
CACHE_KEY_PREFIX            viewtally:                  prefix of every cache key
SCHEDULER_ENABLED           True                        run the midnight resets and the hourly log
                                                        purge in the serving process
SCHEDULER_LEASE_SECONDS     45                          how long the process that runs the jobs holds
                                                        its lease; another takes over within this
                                                        and a third more (a minute) after it dies
RATELIMIT_ENABLED           True                        apply the rate limits below
RATELIMIT_STORAGE_URI       memory://                   flask-limiter storage (redis://… to share)
RATELIMIT_KEY_PREFIX        viewtally                   prefix of rate-limit keys (read once a process)
RATELIMIT_HEADERS_ENABLED   True                        send X-RateLimit-* and Retry-After headers
RATELIMIT_SWALLOW_ERRORS    True                        a broken limiter storage lets requests through
TRACK_RATE_LIMIT            120 per minute              views (POST and pixel together) per client
STATS_RATE_LIMIT            600 per minute              stats reads (stats, daily, totals, public
                                                        counters) per client
LOGIN_RATE_LIMIT            5 per minute                wrong admin tokens per client (form and API)
DASHBOARD_PUBLIC            True                        False: the dashboard needs the admin login
PUBLIC_COUNTERS             True                        answer the public counters (badge, JSON);
                                                        False: they are 404s
IMPORT_MAX_CONTENT_LENGTH   2097152                     largest CSV upload on the admin page, bytes
SESSION_COOKIE_SAMESITE     Lax                         SameSite of the admin's session cookie
PERMANENT_SESSION_LIFETIME  43200                       seconds an admin login lasts, counted from
                                                        the login (not from the last request)
SQLITE_SYNCHRONOUS          NORMAL                      NORMAL: a commit survives a crash of the
                                                        process; FULL: also of the machine (slower)
MAX_CONTENT_LENGTH          16384                       largest request body in bytes; larger is 413
CORS_ORIGINS                *                           origins whose pages may read the public
                                                        endpoints (space-separated; empty: none)
TRUSTED_PROXIES             0                           proxies in front whose X-Forwarded-For is
                                                        believed; 0 ignores that header
PUBLIC_URL                  None                        the service's own address (https://host), used
                                                        for every absolute URL instead of the Host
                                                        header; none: the request's host
WTF_CSRF_TIME_LIMIT         None                        seconds a form's CSRF token is good for;
                                                        None: as long as the admin's login
WTF_CSRF_SSL_STRICT         True                        over https, a form post's Referer must name
                                                        this host (keep the Host header at the proxy)
DEDUP_WINDOW_SECONDS        3600                        a viewer's repeat views of a video within this
                                                        many seconds count once (0: every view;
                                                        at most 86400)
BOT_FILTER                  True                        leave views of bots, crawlers, HTTP libraries
                                                        and headless browsers uncounted
BOT_FILTER_ALLOW            None                        user-agent substrings that are never bots
                                                        (comma-separated; e.g. your own apps)
IGNORE_IPS                  None                        addresses and CIDR ranges whose views are
                                                        excluded (space- or comma-separated)
ALLOWED_EMBED_ORIGINS       None                        the only sites whose pages may count views
                                                        (space-separated origins; none: any site);
                                                        this server's own pages always may
METRICS_PUBLIC              False                       answer GET /metrics to anyone; False: only
                                                        with the admin token
LOG_LEVEL                   INFO                        level of the ``analytics`` loggers
LOG_RETENTION_DAYS          400                         days a view-log row is kept; older ones are
                                                        purged hourly (0: kept forever)
==========================  ==========================  ===============================================

``VIEWTALLY_INSTANCE_PATH`` (a plain environment variable, read before the
app exists) moves the instance folder, which holds the SQLite file, the
generated secrets and ``config.py``.

``PROMETHEUS_MULTIPROC_DIR`` (another, read by prometheus_client as it
loads) is the folder where the workers of one server add up their
request and error figures; gunicorn.conf.py makes one when it is unset.
"""

import ipaddress
import os
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import pytz
from flask import Flask
from limits import parse_many

DEFAULTS: dict[str, object] = {
    "SQLALCHEMY_DATABASE_URI": "sqlite:///analytics.db",
    "SECRET_KEY": None,
    "ADMIN_TOKEN": None,
    "TIMEZONE": "UTC",
    "STATS_CACHE_SECONDS": 30,
    "CACHE_TYPE": "SimpleCache",
    "CACHE_REDIS_URL": None,
    "CACHE_KEY_PREFIX": "viewtally:",
    "SCHEDULER_ENABLED": True,
    "SCHEDULER_LEASE_SECONDS": 45,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_KEY_PREFIX": "viewtally",
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "TRACK_RATE_LIMIT": "120 per minute",
    "STATS_RATE_LIMIT": "600 per minute",
    "LOGIN_RATE_LIMIT": "5 per minute",
    "DASHBOARD_PUBLIC": True,
    "PUBLIC_COUNTERS": True,
    "IMPORT_MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 12 * 60 * 60,
    "SQLITE_SYNCHRONOUS": "NORMAL",
    "MAX_CONTENT_LENGTH": 16 * 1024,
    "CORS_ORIGINS": "*",
    "TRUSTED_PROXIES": 0,
    "PUBLIC_URL": None,
    # A form's CSRF token lives as long as the admin's login, not Flask-WTF's default hour.
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_CSRF_SSL_STRICT": True,
    "DEDUP_WINDOW_SECONDS": 3600,
    "BOT_FILTER": True,
    "BOT_FILTER_ALLOW": None,
    "IGNORE_IPS": None,
    "ALLOWED_EMBED_ORIGINS": None,
    "METRICS_PUBLIC": False,
    "LOG_LEVEL": "INFO",
    "LOG_RETENTION_DAYS": 400,
}

_BOOLEANS = ("SCHEDULER_ENABLED", "RATELIMIT_ENABLED", "RATELIMIT_HEADERS_ENABLED",
             "RATELIMIT_SWALLOW_ERRORS", "DASHBOARD_PUBLIC", "PUBLIC_COUNTERS", "BOT_FILTER",
             "METRICS_PUBLIC")
_COUNTS = ("STATS_CACHE_SECONDS", "MAX_CONTENT_LENGTH", "IMPORT_MAX_CONTENT_LENGTH", "TRUSTED_PROXIES",
           "PERMANENT_SESSION_LIFETIME", "DEDUP_WINDOW_SECONDS", "LOG_RETENTION_DAYS",
           "SCHEDULER_LEASE_SECONDS")
_TEXTS = ("SECRET_KEY", "ADMIN_TOKEN")
_SUPPORTED_DATABASES = ("sqlite", "postgresql")
# A token short enough to guess at LOGIN_RATE_LIMIT is no lock; a generated one has 43 characters.
MIN_ADMIN_TOKEN_LENGTH = 16
# Viewer hashes use a key of the day; a longer window would keep keys, and so links between days, longer.
MAX_DEDUP_WINDOW = 24 * 60 * 60


class ConfigError(click.ClickException, ValueError):
    """A configuration value that the service cannot run with.

    A ClickException, so a ``flask`` command stops with this one line
    instead of a traceback.
    """


def instance_path() -> str | None:
    """Return the instance folder named by VIEWTALLY_INSTANCE_PATH, if any."""
    path = os.environ.get("VIEWTALLY_INSTANCE_PATH")
    return os.path.abspath(path) if path else None


def metrics_folder() -> str | None:
    """Return the folder named by PROMETHEUS_MULTIPROC_DIR, where a server's workers add up their figures."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def load(app: Flask, test_config: dict | None = None) -> None:
    """Fill app.config from the layers and check that every value is usable."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
        # from_prefixed_env parses values as JSON; a secret is taken exactly as written.
        for key in _TEXTS:
            if f"FLASK_{key}" in os.environ:
                app.config[key] = os.environ[f"FLASK_{key}"]
    else:
        app.config.from_mapping(test_config)
    _normalise(app.config)


def _normalise(config) -> None:
    for key in _BOOLEANS:
        config[key] = _as_bool(key, config[key])
    for key in _COUNTS:
        config[key] = _as_count(key, config[key])
    for key in _TEXTS:
        # An environment value of digits arrives as an int; a token is text.
        if config[key] is not None:
            config[key] = str(config[key])
    if config["ADMIN_TOKEN"] and len(config["ADMIN_TOKEN"]) < MIN_ADMIN_TOKEN_LENGTH:
        # The message never repeats the token: it may reach a log.
        raise ConfigError(f"ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long, "
                          f"not {len(config['ADMIN_TOKEN'])}; leave it unset to have one generated")
    if config["ADMIN_TOKEN"] and config["ADMIN_TOKEN"] != config["ADMIN_TOKEN"].strip():
        # A bearer header's blanks are stripped, so such a token could never be matched.
        raise ConfigError("ADMIN_TOKEN must not begin or end with blanks")
    if isinstance(config["CORS_ORIGINS"], str):
        config["CORS_ORIGINS"] = config["CORS_ORIGINS"].replace(",", " ").split()
    if config["CORS_ORIGINS"] != ["*"]:
        config["CORS_ORIGINS"] = [_origin("CORS_ORIGINS", value) for value in config["CORS_ORIGINS"]]
    config["PUBLIC_URL"] = _origin("PUBLIC_URL", config["PUBLIC_URL"]) if config["PUBLIC_URL"] else None
    if config["SCHEDULER_LEASE_SECONDS"] < 1:
        # A lease that lapses at once elects no one: every worker would run the jobs.
        raise ConfigError("SCHEDULER_LEASE_SECONDS must be at least 1")
    if config["DEDUP_WINDOW_SECONDS"] > MAX_DEDUP_WINDOW:
        raise ConfigError(f"DEDUP_WINDOW_SECONDS must be at most {MAX_DEDUP_WINDOW} (one day), "
                          f"not {config['DEDUP_WINDOW_SECONDS']!r}")
    config["BOT_FILTER_ALLOW"] = _as_list("BOT_FILTER_ALLOW", config["BOT_FILTER_ALLOW"], ",")
    config["IGNORE_IPS"] = _networks(_as_list("IGNORE_IPS", config["IGNORE_IPS"], ", "))
    config["ALLOWED_EMBED_ORIGINS"] = frozenset(
        _without_default_port(_origin("ALLOWED_EMBED_ORIGINS", value))  # as browsers send an origin
        for value in _as_list("ALLOWED_EMBED_ORIGINS", config["ALLOWED_EMBED_ORIGINS"], " ,"))
    try:
        ZoneInfo(str(config["TIMEZONE"]))
        pytz.timezone(str(config["TIMEZONE"]))  # the scheduler's library must know it too
    except (ZoneInfoNotFoundError, ValueError, pytz.UnknownTimeZoneError):
        raise ConfigError(f"TIMEZONE {config['TIMEZONE']!r} is not an IANA time zone name") from None
    for key in ("TRACK_RATE_LIMIT", "STATS_RATE_LIMIT", "LOGIN_RATE_LIMIT"):
        try:
            parse_many(str(config[key]))
        except ValueError:
            raise ConfigError(f"{key} {config[key]!r} is not a rate limit like '120 per minute'") from None
    config["SQLITE_SYNCHRONOUS"] = str(config["SQLITE_SYNCHRONOUS"]).upper()
    if config["SQLITE_SYNCHRONOUS"] not in ("NORMAL", "FULL"):
        raise ConfigError(f"SQLITE_SYNCHRONOUS must be NORMAL or FULL, not {config['SQLITE_SYNCHRONOUS']!r}")
    config["LOG_LEVEL"] = str(config["LOG_LEVEL"]).upper()
    if config["LOG_LEVEL"] not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL {config['LOG_LEVEL']!r} is not DEBUG, INFO, WARNING, ERROR or CRITICAL")
    config["SQLALCHEMY_DATABASE_URI"] = _database_url(str(config["SQLALCHEMY_DATABASE_URI"]))


def _database_url(url: str) -> str:
    """Check the database URL; a PostgreSQL URL without a driver gets psycopg 3.

    SQLAlchemy's default PostgreSQL driver, psycopg2, would stop every
    request of a gevent worker while it waits; psycopg 3 waits cooperatively.
    """
    scheme, _, rest = url.partition(":")
    engine, _, driver = scheme.partition("+")
    if engine not in _SUPPORTED_DATABASES:
        raise ConfigError(f"SQLALCHEMY_DATABASE_URI must be a SQLite or PostgreSQL URL, not {engine!r}")
    if engine == "postgresql":
        if driver not in ("", "psycopg"):
            raise ConfigError(f"SQLALCHEMY_DATABASE_URI: the PostgreSQL driver is psycopg "
                              f"(postgresql+psycopg://…), not {driver!r}")
        return "postgresql+psycopg:" + rest
    return url


def _as_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{key} must be true or false, not {value!r}")


def _as_list(key: str, value: object, separators: str) -> list[str]:
    """Split a setting given as text (env, instance config) or take a list of texts."""
    if value is None:
        return []
    if isinstance(value, str):
        for separator in separators[1:]:
            value = value.replace(separator, separators[0])
        value = value.split(separators[0])
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{key} must be text separated by {separators[0]!r} or a list of texts, not {value!r}")
    return [item.strip() for item in value if item.strip()]


def _origin(key: str, value: object) -> str:
    """Check a scheme and host (with an optional port), as a browser writes an origin; drop a final slash.

    Only names, digits, dots, dashes and a port pass (no IPv6 literal, no
    wildcard), and the origin comes back in lower case, as browsers send it.
    """
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username
            or parts.password or parts.path not in ("", "/") or parts.query or parts.fragment
            or "?" in text or "#" in text or not re.fullmatch(r"[A-Za-z0-9.:-]+", parts.netloc)):
        raise ConfigError(f"{key}: {value!r} is not an address like https://stats.example.com "
                          "(http or https, a host, an optional port, no path)")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _without_default_port(origin: str) -> str:
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[:-len(port)]
    return origin


def _networks(values: list[str]) -> list:
    try:
        return [ipaddress.ip_network(value, strict=False) for value in values]
    except ValueError as error:
        raise ConfigError(f"IGNORE_IPS: {error}; give addresses or CIDR ranges like 203.0.113.0/24") from None


def _as_count(key: str, value: object) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a whole number, 0 or more, not {value!r}") from None
    if number < 0 or isinstance(value, bool):
        raise ConfigError(f"{key} must be a whole number, 0 or more, not {value!r}")
    return number
