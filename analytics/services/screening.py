"""Which requests to leave uncounted before any dedup: the owner's own, other sites', prefetches, bots."""

import ipaddress
from collections.abc import Iterable

from ..context import running_app
from .viewers import Visitor

_EXTENSION = "viewtally.screen"


class Screen:
    """The filters of one app, built once from its config."""

    def __init__(self, bots, ignored: Iterable = (), embedders: Iterable = ()):
        self.bots = bots
        self.ignored = tuple(ignored)
        self.embedders = frozenset(embedders)  # the sites allowed to count views; empty: any

    @classmethod
    def from_config(cls, config) -> "Screen":
        bots = None
        if config["BOT_FILTER"]:
            from .bots import BotFilter  # its lists load only where the filter is on

            bots = BotFilter(allow=config["BOT_FILTER_ALLOW"])
        return cls(bots, config["IGNORE_IPS"], config["ALLOWED_EMBED_ORIGINS"])

    def reason(self, visitor: Visitor) -> str | None:
        """Return why this request is not a view ("excluded", "origin", "prefetch", "bot"), or None if it may count.

        With allowed sites listed, a view must name one (or this server) by
        Origin or Referer: a page elsewhere, or one that hides its address
        (referrerpolicy="no-referrer"), cannot count views.
        """
        if self.ignored and self._ignored(visitor.address):
            return "excluded"
        if self.embedders and not visitor.own_origin and visitor.origin not in self.embedders:
            return "origin"
        if visitor.prefetch:
            return "prefetch"
        if self.bots is not None and self.bots.is_bot(visitor.user_agent):
            return "bot"
        return None

    def _ignored(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:203.0.113.7 is 203.0.113.7
        return any(ip in network for network in self.ignored)


def init_app(app) -> None:
    """Build the app's filters from its config."""
    app.extensions[_EXTENSION] = Screen.from_config(app.config)


def warm(app) -> None:
    """Compile the bot lists now, so that a worker's first view does not wait for them."""
    screen = app.extensions[_EXTENSION]
    if screen.bots is not None:
        screen.bots.is_bot("Mozilla/5.0")


def current_screen() -> Screen:
    """Return the running app's filters."""
    return running_app().extensions[_EXTENSION]
