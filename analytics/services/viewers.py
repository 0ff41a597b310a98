"""Who a viewer is, as far as counting needs: a keyed hash that names nobody and lasts a day.

A viewer is HMAC-SHA256 of the session id the player sent, or else of the
client address and user agent, under a key of the local day. The key is
random, kept in the database so every worker agrees, and mixed with
SECRET_KEY, so neither the database nor the config alone can recompute a
hash. The purge (hourly, see services/retention.py) deletes a day's hashes
once the day and the window are over, and its key once no window reaches
the day: nobody, the admin included, can then link a viewer across days or
test an address against a stored hash.
"""

import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..clock import Clock
from ..context import running_app
from ..database import insert, read_transaction, write_transaction
from ..hashing import HmacSha256, hmac_sha256
from ..models import DayViewer, RecentView, ViewerKey
from .pacing import delete_paced

HASH_BYTES = 16
_KEYS = "viewtally.viewer_keys"  # in app.extensions: {day: its key, prepared}, this process's copy
_MISSING = "viewtally.viewer_keys_missing"  # in app.extensions: {day: when to look again}, days found without a key
# How long a day found without a key is taken to have none. Views ask for the keys of the
# days beside today (yesterday in the first hour, tomorrow near midnight), which often have
# none: without this, each such view read the database for it. (Across workers this widens a
# race of milliseconds to a second: a view in the last instant of a day, from a viewer seen in
# no other, may be missed by another worker's window check in the first second of the next.)
MISSING_KEY_SECONDS = 1.0


@dataclass(slots=True)  # made per view, so slotted rather than frozen (see counts.Counts)
class Visitor:
    """What a request tells about who sent it; never stored as such."""

    address: str
    user_agent: str | None = None
    session: str | None = None
    prefetch: bool = False
    origin: str | None = None  # the embedding page's scheme and host, from Origin or Referer
    own_origin: bool = False  # the origin is this server's own (the demo page)
    view: str | None = None  # the random id the player gave this view, for its watch reports

    def identity(self) -> bytes:
        """Return what the hash is taken of: the session id if there is one, else address and agent."""
        if self.session is not None:
            return b"s\0" + self.session.encode()
        return b"a\0" + self.address.encode() + b"\0" + (self.user_agent or "").encode()


def viewer_hash(visitor: Visitor, day: date, create: bool = True) -> bytes | None:
    """Return the visitor's hash for a local day (None when that day has no key and `create` is off)."""
    key = day_key(day, create)
    return None if key is None else key.digest(visitor.identity())[:HASH_BYTES]


def day_key(day: date, create: bool = True) -> HmacSha256 | None:
    """Return the keyed hash of a local day, creating its key on its first view (every worker gets the same).

    Held only here, so forgetting the day's key forgets everything made of it.
    """
    extensions = running_app().extensions
    keys = extensions.setdefault(_KEYS, {})
    key = keys.get(day)
    if key is None:
        missing = extensions.setdefault(_MISSING, {})
        if not create and time.monotonic() < missing.get(day, 0.0):
            return None
        secret = _stored_secret(day, create)
        if secret is None:
            missing[day] = time.monotonic() + MISSING_KEY_SECONDS
            return None
        key = keys[day] = HmacSha256(_mixed(secret))
    return key


def forget_keys_except(days: set[date]) -> None:
    """Drop this process's copies of keys no view needs now (the database's go with the purge)."""
    extensions = running_app().extensions
    for held in (extensions.get(_KEYS, {}), extensions.get(_MISSING, {})):
        if len(held) > len(days):
            for day in [known for known in list(held) if known not in days]:
                held.pop(day, None)


def _stored_secret(day: date, create: bool) -> bytes | None:
    if not create:
        with read_transaction() as connection:
            return connection.scalar(sa.select(ViewerKey.secret).where(ViewerKey.day == day))
    with write_transaction() as connection:
        connection.execute(insert(connection, ViewerKey).values(day=day, secret=secrets.token_bytes(32))
                           .on_conflict_do_nothing())
        return connection.scalar(sa.select(ViewerKey.secret).where(ViewerKey.day == day))


def _mixed(secret: bytes) -> bytes:
    return hmac_sha256(current_app.config["SECRET_KEY"].encode(), b"viewer-key\0" + secret)


def lock_id(visitor: Visitor, video_id: str) -> int:
    """Return a 63-bit lock id of this viewer and video, alike on every day, never stored."""
    digest = hmac_sha256(current_app.config["SECRET_KEY"].encode(),
                         b"lock\0" + video_id.encode() + b"\0" + visitor.identity())
    return int.from_bytes(digest[:8], "big") >> 1


def other_days(clock: Clock, now: datetime, day: date, window: int, late_views: bool) -> list[date]:
    """Return the days besides `day` that may hold this viewer's last counted view within the window.

    The days the window reaches back into (yesterday in its first hour,
    with the default window; two days on a 23-hour day with a full-day
    window), and the next day for a late view just before midnight, which
    may commit after the viewer's first view of the new day.
    """
    if not window:
        return []
    days = []
    earlier = clock.period(now - timedelta(seconds=window)).day
    while earlier < day:
        days.append(earlier)
        earlier += timedelta(days=1)
    if late_views:
        days.append(day + timedelta(days=1))
    return days


def purge_expired(clock: Clock, window: int) -> int:
    """Delete the hashes and keys no count needs any more; return how many rows went.

    A day's rows serve its unique count until the day ends, and the dedup
    check until the window has passed since the viewer's last counted view.
    A busy day leaves a million rows: they go in paced batches, so views
    being counted meanwhile wait for a batch, never for all of them.
    """
    now = clock.now()
    today = clock.period(now).day
    needed = other_days(clock, now, today, window, late_views=False)
    gone = delete_paced((RecentView.day, RecentView.video_id, RecentView.viewer),
                         RecentView.day < today, RecentView.counted_at <= now - timedelta(seconds=window))
    gone += delete_paced((DayViewer.day, DayViewer.viewer), DayViewer.day < today)
    with write_transaction() as connection:
        gone += connection.execute(sa.delete(ViewerKey).where(
            ViewerKey.day < today, ViewerKey.day.not_in(needed))).rowcount
    forget_keys_except({today, *needed})
    return gone

