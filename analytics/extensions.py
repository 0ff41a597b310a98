"""Extensions, created unbound and attached to each app by create_app."""

from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every Viewtally model."""


db = SQLAlchemy(model_class=Base)
cache = Cache()
# The client address is the socket peer, or the address a trusted proxy
# reported (ProxyFix, set up from TRUSTED_PROXIES, rewrites remote_addr).
limiter = Limiter(key_func=get_remote_address)
