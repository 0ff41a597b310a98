"""Tell bots from viewers by their user agent, with two maintained lists from PyPI.

The lists complement each other: crawlerdetect (a port of JayBizzle's
CrawlerDetect) names nearly 1,500 crawlers, monitors, feed fetchers, link
previewers, HTTP libraries and headless browsers; is-bot (a port of the npm
isbot list) adds generic shapes that catch the unnamed ones, such as
"Name/1.2" with nothing else. Either calling a user agent a bot is enough.
`make bot-accuracy` measures the pair on corpora from other packages.

Native players (okhttp, ExoPlayer, VLC, ...) sit on these lists although a
person is watching, so a site lets its own apps through with an allow list
of case-insensitive substrings, checked first.

Verdicts are cached per user agent, so a repeated one costs a dict lookup;
the lists' regexes compile on the first verdict of the process.
"""

import functools
import logging
import re
from collections.abc import Iterable

log = logging.getLogger(__name__)

CACHE_SIZE = 4096

# Our only rule of our own besides "no user agent is a bot". No real client
# sends a user agent this long (the longest of some 57,000 real ones checked,
# Matomo's device fixtures and the corpora of `make bot-accuracy`, has 419
# characters), and crawlerdetect's generic pattern takes time quadratic in
# the length of a run of letters: seconds for 8 KB of "a", some tens of
# milliseconds at this bound. So a longer one is a bot, unread and uncached.
MAX_LENGTH = 512
# The same pattern is quadratic in a run of [a-z0-9_-]: a crafted agent of one
# 490-character run costs ~25 ms. Real agents' runs are far shorter (a UUID is
# 36), so an agent with a longer one is a bot, unread by the lists (its verdict
# is cached like any other: looking for the run costs more than the lookup).
_LONG_RUN = re.compile(r"[A-Za-z0-9_-]{65}")


@functools.cache
def _lists():
    """Build the matchers once per process, on first use, since they cost milliseconds."""
    from crawlerdetect import CrawlerDetect
    from is_bot import Bots

    log.debug("bot lists loaded")
    return Bots().is_bot, CrawlerDetect().is_crawler


class BotFilter:
    """Decide whether a user agent is a bot, so its views are not counted."""

    def __init__(self, allow: Iterable[str] = ()):
        self.allow = tuple(token.strip().lower() for token in allow if token and token.strip())
        self._verdict = functools.lru_cache(maxsize=CACHE_SIZE)(self._decide)

    def is_bot(self, user_agent: str | None) -> bool:
        """Return True if views from this user agent should not count."""
        if user_agent is None:
            return True
        if len(user_agent) > MAX_LENGTH:
            return self._decide(user_agent, unread=True)  # uncached, so junk cannot crowd the cache
        return self._verdict(user_agent)

    def cache_info(self):
        """Return the verdict cache's hits, misses and bound, for tests and benchmarks."""
        return self._verdict.cache_info()

    def _allowed(self, user_agent: str) -> bool:
        lowered = user_agent.lower()
        return any(token in lowered for token in self.allow)

    def _decide(self, user_agent: str, unread: bool = False) -> bool:
        """Rule on an agent; `unread`: one no real client sends, a bot unless allowed, without the lists."""
        if not user_agent.strip() or not user_agent.isprintable():
            return True  # a browser always sends a printable one; scripts often send none
        if self._allowed(user_agent):
            return False
        return unread or bool(_LONG_RUN.search(user_agent)) or any(matches(user_agent) for matches in _lists())
