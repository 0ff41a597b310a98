"""Admin logins kept on the server, so that logging out and the lifetime really end them.

A login is a random nonce: the cookie carries it, the database a hash of it
and the moment of login. Logging out deletes the row; a row older than the
lifetime opens nothing and is deleted at the next login.
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from ..clock import Clock
from ..database import read_transaction, write_transaction
from ..models import AdminSession


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def start(clock: Clock, lifetime: timedelta) -> str:
    """Record a new login, delete the expired ones, and return the new login's nonce."""
    nonce = secrets.token_urlsafe(32)
    now = clock.now()
    with write_transaction() as connection:
        connection.execute(sa.delete(AdminSession).where(AdminSession.created_at <= now - lifetime))
        connection.execute(sa.insert(AdminSession).values(nonce_hash=_digest(nonce), created_at=now))
    return nonce


def is_live(nonce: str, clock: Clock, lifetime: timedelta) -> bool:
    """Tell whether the login `nonce` has neither ended nor outlived `lifetime`."""
    with read_transaction() as connection:
        started = connection.scalar(sa.select(AdminSession.created_at)
                                    .where(AdminSession.nonce_hash == _digest(nonce)))
    return started is not None and clock.now() < started + lifetime


def end(nonce: str) -> None:
    """Forget the login `nonce`, so its cookie opens nothing any more."""
    with write_transaction() as connection:
        connection.execute(sa.delete(AdminSession).where(AdminSession.nonce_hash == _digest(nonce)))
