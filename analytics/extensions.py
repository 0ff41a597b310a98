"""Extensions, created unbound and attached to each app by create_app."""

import functools

from flask import Flask, current_app
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.errors import ConfigurationError
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from .context import running_app
from .hashing import hmac_sha256


class Base(DeclarativeBase):
    """Declarative base of every Viewtally model."""


db = SQLAlchemy(model_class=Base)
cache = Cache()


def client_key() -> str:
    """Name the client for rate limits by a keyed hash of its address, so no limiter store holds an address.

    The address is the socket peer, or the one a trusted proxy reported
    (ProxyFix, set up from TRUSTED_PROXIES, rewrites remote_addr).
    """
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac_sha256(secret, b"client\0" + get_remote_address().encode())[:12].hex()


limiter = Limiter(key_func=client_key)


def when_limits_enabled(limit):
    """Wrap a view in a limiter decorator that runs only while RATELIMIT_ENABLED.

    Flask-Limiter's decorator looks every request over even with limits
    off: a fifth of a cached stats answer's time in this process.
    """

    def decorate(view):
        limited = limit(view)

        @functools.wraps(view)
        def choose(*args, **kwargs):
            return (limited if running_app().config["RATELIMIT_ENABLED"] else view)(*args, **kwargs)

        return choose

    return decorate

# Every form post needs this session's token; the JSON API is exempt (web/api), web/session attaches it.
csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Attach the cache and the limiter; a backend they cannot build is a ConfigError."""
    from .config import ConfigError

    try:
        cache.init_app(app)
    except ImportError:
        raise ConfigError(f"CACHE_TYPE {app.config['CACHE_TYPE']!r} names no cache backend "
                          "(SimpleCache, RedisCache, NullCache, or an import path)") from None
    except (AttributeError, ValueError) as error:
        raise ConfigError(f"CACHE_TYPE {app.config['CACHE_TYPE']!r} is not usable: {error}") from None
    try:
        limiter.init_app(app)
    except (ConfigurationError, ValueError) as error:
        raise ConfigError(f"RATELIMIT_STORAGE_URI {app.config['RATELIMIT_STORAGE_URI']!r} is not usable: {error}") from None
