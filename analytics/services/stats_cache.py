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
A broken cache backend is logged and bypassed, never an error. A backend
that serves reads but refuses a new token (full, read-only) would go on
serving the old entry, so then this process reads the database for one
cache lifetime, until every entry it could serve has expired.

Where the tokens live follows where the entries live. Beside a shared
backend (Redis) they are keys in it, so every worker sees every other's
views. Beside SimpleCache, which lives in this process alone, they are
counts in a dict (LocalTokens): a view then costs no cache write, where
SimpleCache sorted all its keys on every write once it held 500.
"""

import itertools
import logging
import os
import secrets
import time
from typing import Callable, TypeVar

from cachelib import SimpleCache
from flask import current_app

from .. import metrics
from ..context import running_app
from ..extensions import cache

log = logging.getLogger(__name__)
T = TypeVar("T")

_RESETS_KEY = "stats-resets"
_BYPASS_UNTIL = "viewtally.stats_cache_bypass_until"  # in app.extensions: a time.monotonic() deadline
_LOCAL_TOKENS = "viewtally.stats_cache_tokens"  # in app.extensions: LocalTokens, or None for a shared backend
_TOKEN_PREFIX = ""
_token_numbers = itertools.count()


def _new_token_prefix() -> None:
    """Give this process its own token prefix (again in each forked worker, so no two share one)."""
    global _TOKEN_PREFIX
    _TOKEN_PREFIX = secrets.token_hex(8) + ":"


_new_token_prefix()
os.register_at_fork(after_in_child=_new_token_prefix)


class LocalTokens:
    """The tokens of an in-process cache: a number per video and one for resets, in a dict.

    The dict holds at most LIMIT videos; past that it starts again under a
    new epoch, which makes every entry stale once (a miss each, never a wrong count).
    """

    LIMIT = 50_000

    def __init__(self):
        # (epoch, numbers by video), read and replaced whole: a reader never sees one without the other.
        self._state: tuple[int, dict[str, int]] = (0, {})
        self._numbers = itertools.count(1)
        self._resets = 0

    def current(self, video_id: str) -> tuple:
        epoch, videos = self._state
        return epoch, self._resets, videos.get(video_id, 0)

    def replace(self, video_id: str) -> None:
        epoch, videos = self._state
        if video_id not in videos and len(videos) >= self.LIMIT:
            self._state = (epoch + 1, {video_id: next(self._numbers)})
        else:
            videos[video_id] = next(self._numbers)

    def replace_all(self) -> None:
        self._resets = next(self._numbers)


class _AsIs:
    """SimpleCache's serializer: values kept as they are rather than pickled.

    The cache holds only this module's entries (tokens and a frozen
    CounterRow), never changed once made, so readers may share them;
    unpickling one was a tenth of a cached answer. Whatever else is cached
    here must be as unchanging.
    """

    @staticmethod
    def dumps(value):
        return value

    @staticmethod
    def loads(value):
        return value


def init_app(app) -> None:
    """Beside an in-process cache, keep the tokens in this process and the entries unpickled (see above)."""
    backend = app.extensions["cache"][cache]
    local = isinstance(backend, SimpleCache)
    if local:
        backend.serializer = _AsIs()
    app.extensions[_LOCAL_TOKENS] = LocalTokens() if local else None


def _local_tokens() -> LocalTokens | None:
    return current_app.extensions.get(_LOCAL_TOKENS)


def _entry_key(video_id: str) -> str:
    return f"stats:{video_id}"


def _token_key(video_id: str) -> str:
    return f"stats-token:{video_id}"


def _seconds() -> int:
    return current_app.config["STATS_CACHE_SECONDS"]


def fetch(video_id: str, load: Callable[[], T | None]) -> T | None:
    """Return the cached value for `video_id`, or `load()` it and cache it."""
    app = running_app()
    seconds = app.config["STATS_CACHE_SECONDS"]
    if not seconds or _bypassed(app):
        return load()
    local = app.extensions.get(_LOCAL_TOKENS)
    if local is not None:
        return _fetch_local(app.extensions["cache"][cache], local, video_id, load, seconds)
    keys = (_token_key(video_id), _RESETS_KEY)
    try:
        entry, *tokens = cache.get_many(_entry_key(video_id), *keys)
        if entry is not None and None not in tokens and entry[0] == tokens:
            return entry[1]
        tokens = [token or _claim(key, seconds) for token, key in zip(tokens, keys)]
    except Exception as error:  # any backend failure: serve from the database
        log.warning("stats cache unavailable (%s); reading the database", error)
        metrics.count_cache_error("read")
        return load()
    value = load()
    if value is not None and None not in tokens:
        _quietly(cache.set, _entry_key(video_id), (tokens, value), timeout=seconds)
    return value


def _fetch_local(backend: SimpleCache, local: LocalTokens, video_id: str, load: Callable[[], T | None],
                 seconds: int) -> T | None:
    """`fetch` beside an in-process cache: the tokens are read before the load, as with a shared one."""
    tokens = local.current(video_id)
    entry = backend.get(_entry_key(video_id))
    if entry is not None and entry[0] == tokens:
        return entry[1]
    value = load()
    if value is not None:
        _quietly(backend.set, _entry_key(video_id), (tokens, value), timeout=seconds)
    return value


def forget(video_id: str) -> None:
    """Make every cached entry of `video_id` stale (after a tracked view)."""
    app = running_app()
    if not app.config["STATS_CACHE_SECONDS"]:
        return
    local = app.extensions.get(_LOCAL_TOKENS)
    if local is not None:
        local.replace(video_id)
    elif not _replace_token(_token_key(video_id)):
        _quietly(cache.delete, _entry_key(video_id))  # racy, but better than the old entry
        _bypass()


def forget_all() -> None:
    """Make every cached entry stale (after a reset)."""
    if not _seconds():
        return
    local = _local_tokens()
    if local is not None:
        local.replace_all()
    elif not _replace_token(_RESETS_KEY):
        _bypass()


def _replace_token(key: str) -> bool:
    try:
        if cache.set(key, _new_token(), timeout=_token_seconds()):
            return True
        log.warning("stats cache refused a write")
    except Exception as error:
        log.warning("stats cache write failed (%s)", error)
    metrics.count_cache_error("write")
    return False


def _bypassed(app=None) -> bool:
    until = (app or current_app).extensions.get(_BYPASS_UNTIL)
    return until is not None and time.monotonic() < until


def _bypass() -> None:
    """Read the database, not the cache, until every entry cached before now has expired."""
    if not _bypassed():
        log.warning("stats cache bypassed for %d s: entries it holds may be stale", _seconds())
    current_app.extensions[_BYPASS_UNTIL] = time.monotonic() + _seconds()


def _claim(key: str, seconds: int) -> str | None:
    """Give a missing token a value, or take the one a concurrent reader just gave it."""
    fresh = _new_token()
    if cache.add(key, fresh, timeout=_token_seconds(seconds)):
        return fresh
    return cache.get(key)


def _new_token() -> str:
    # A random prefix per process and a count: unique without asking the OS for randomness each view.
    return f"{_TOKEN_PREFIX}{next(_token_numbers):x}"


def _token_seconds(seconds: int | None = None) -> int:
    # Tokens outlive entries, so an entry rarely loses its token before it expires.
    return 4 * (seconds if seconds is not None else _seconds()) or 60


def _quietly(operation, *args, **kwargs) -> None:
    try:
        operation(*args, **kwargs)
    except Exception as error:
        log.warning("stats cache write failed (%s)", error)
        metrics.count_cache_error("write")
