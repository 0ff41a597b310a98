"""The stats cache, which never serves a count older than a tracked view or a reset.

A plain "delete the entry after a view" leaves a race: a reader that read
the database just before the view commits can store its old numbers just
after the delete, and they stay for the whole cache lifetime. Instead each
video has a token that every tracked view replaces, and one more token is
replaced by every reset. An entry remembers the tokens it was read under
and is served only while both are still current, so an entry read before
a view can never be served after it. Tokens are random and never reused:
an evicted or expired token only costs a cache miss.

The entry holds raw counters with their period stamps; the caller turns
them into today's numbers with the clock, so midnight needs no purge.
A broken cache backend is logged and bypassed, never an error.
"""

import logging
import secrets
from typing import Callable, TypeVar

from flask import current_app

from ..extensions import cache

log = logging.getLogger(__name__)
T = TypeVar("T")

_RESETS_KEY = "stats-resets"


def _entry_key(video_id: str) -> str:
    return f"stats:{video_id}"


def _token_key(video_id: str) -> str:
    return f"stats-token:{video_id}"


def _seconds() -> int:
    return current_app.config["STATS_CACHE_SECONDS"]


def fetch(video_id: str, load: Callable[[], T | None]) -> T | None:
    """Return the cached value for `video_id`, or `load()` it and cache it."""
    seconds = _seconds()
    if not seconds:
        return load()
    keys = (_token_key(video_id), _RESETS_KEY)
    try:
        entry, *tokens = cache.get_many(_entry_key(video_id), *keys)
        if entry is not None and None not in tokens and entry[0] == tokens:
            return entry[1]
        tokens = [token or _claim(key, seconds) for token, key in zip(tokens, keys)]
    except Exception as error:  # any backend failure: serve from the database
        log.warning("stats cache unavailable (%s); reading the database", error)
        return load()
    value = load()
    if value is not None and None not in tokens:
        _quietly(cache.set, _entry_key(video_id), (tokens, value), timeout=seconds)
    return value


def forget(video_id: str) -> None:
    """Make every cached entry of `video_id` stale (after a tracked view)."""
    _quietly(cache.set, _token_key(video_id), _new_token(), timeout=_token_seconds())


def forget_all() -> None:
    """Make every cached entry stale (after a reset)."""
    _quietly(cache.set, _RESETS_KEY, _new_token(), timeout=_token_seconds())


def _claim(key: str, seconds: int) -> str | None:
    """Give a missing token a value, or take the one a concurrent reader just gave it."""
    fresh = _new_token()
    if cache.add(key, fresh, timeout=_token_seconds(seconds)):
        return fresh
    return cache.get(key)


def _new_token() -> str:
    return secrets.token_hex(8)


def _token_seconds(seconds: int | None = None) -> int:
    # Tokens outlive entries, so an entry rarely loses its token before it expires.
    return 4 * (seconds if seconds is not None else _seconds()) or 60


def _quietly(operation, *args, **kwargs) -> None:
    try:
        operation(*args, **kwargs)
    except Exception as error:
        log.warning("stats cache write failed (%s)", error)
