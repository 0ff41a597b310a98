"""Who a viewer is, as far as counting needs: a keyed hash that names nobody and lasts a day.

A viewer is HMAC-SHA256 of the session id the player sent, or else of the
client address and user agent, under a key of the local day. The key is
random, kept in the database so every worker agrees, and mixed with
SECRET_KEY, so neither the database nor the config alone can recompute a
hash. It is deleted once the dedup window no longer reaches its day, and
the hashes of a day are purged with it: nobody, the admin included, can
link a viewer across days or test an address against a stored hash then.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..clock import Clock
from ..database import insert, write_transaction
from ..models import DayViewer, RecentView, ViewerKey

HASH_BYTES = 16
_KEYS = "viewtally.viewer_keys"  # in app.extensions: {day: key}, this process's copy


@dataclass(frozen=True)
class Visitor:
    """What a request tells about who sent it; never stored as such."""

    address: str
    user_agent: str | None = None
    session: str | None = None
    prefetch: bool = False

    def identity(self) -> bytes:
        """Return what the hash is taken of: the session id if there is one, else address and agent."""
        if self.session is not None:
            return b"s\0" + self.session.encode()
        return b"a\0" + self.address.encode() + b"\0" + (self.user_agent or "").encode()


def viewer_hash(visitor: Visitor, day: date) -> bytes:
    """Return the visitor's hash for a local day."""
    return hmac.digest(day_key(day), visitor.identity(), hashlib.sha256)[:HASH_BYTES]


def day_key(day: date) -> bytes:
    """Return the key of a local day, creating it on its first view (every worker gets the same)."""
    keys = current_app.extensions.setdefault(_KEYS, {})
    key = keys.get(day)
    if key is None:
        key = keys[day] = _mixed(_stored_secret(day))
        for old in [known for known in keys if known < day - timedelta(days=1)]:
            keys.pop(old, None)
    return key


def _stored_secret(day: date) -> bytes:
    with write_transaction() as connection:
        connection.execute(insert(connection, ViewerKey).values(day=day, secret=secrets.token_bytes(32))
                           .on_conflict_do_nothing())
        return connection.scalar(sa.select(ViewerKey.secret).where(ViewerKey.day == day))


def _mixed(secret: bytes) -> bytes:
    return hmac.digest(current_app.config["SECRET_KEY"].encode(), b"viewer-key\0" + secret, hashlib.sha256)


def window_reaches_back(clock: Clock, now: datetime, window: int) -> date | None:
    """Return yesterday when the dedup window still reaches into it, else None."""
    day = clock.period(now).day
    if window and now - timedelta(seconds=window) < clock.start_of(day):
        return day - timedelta(days=1)
    return None


def purge_expired(clock: Clock, window: int) -> int:
    """Delete the hashes and keys no count needs any more; return how many rows went.

    A day's rows serve its unique count until the day ends, and the dedup
    check until the window has passed since the viewer's last counted view.
    """
    now = clock.now()
    today = clock.period(now).day
    needed_day = window_reaches_back(clock, now, window)
    with write_transaction() as connection:
        gone = connection.execute(sa.delete(RecentView).where(
            RecentView.day < today, RecentView.counted_at <= now - timedelta(seconds=window))).rowcount
        gone += connection.execute(sa.delete(DayViewer).where(DayViewer.day < today)).rowcount
        kept = [today] + ([needed_day] if needed_day else [])
        gone += connection.execute(sa.delete(ViewerKey).where(
            ViewerKey.day < today, ViewerKey.day.not_in(kept))).rowcount
    keys = current_app.extensions.get(_KEYS, {})
    for day in [known for known in keys if known < today and known not in kept]:
        keys.pop(day, None)
    return gone

