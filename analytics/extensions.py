"""Extensions, created unbound and attached to each app by create_app."""

from flask import Flask
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.errors import ConfigurationError
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every Viewtally model."""


db = SQLAlchemy(model_class=Base)
cache = Cache()
# The client address is the socket peer, or the address a trusted proxy
# reported (ProxyFix, set up from TRUSTED_PROXIES, rewrites remote_addr).
limiter = Limiter(key_func=get_remote_address)


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
