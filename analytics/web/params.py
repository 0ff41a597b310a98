"""Reading query parameters strictly: a bad value is a 400, never a guess."""

import re
from datetime import date

from flask import request

from ..clock import parse_day
from ..services.errors import InvalidInput

_DIGITS = re.compile(r"[0-9]{1,9}")


def whole_number(name: str, default: int, low: int, high: int) -> int:
    """Return query parameter `name` as an int in [low, high], or `default` when absent.

    :raises InvalidInput: code invalid_<name>.
    """
    raw = request.args.get(name)
    if raw is None:
        return default
    if _DIGITS.fullmatch(raw) and low <= int(raw) <= high:
        return int(raw)
    raise InvalidInput(f"'{name}' must be a whole number from {low} to {high}", code=f"invalid_{name}")


def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    """Return query parameter `name` if it is one of `allowed`, or `default` when absent.

    :raises InvalidInput: code invalid_<name>.
    """
    raw = request.args.get(name, default)
    if raw in allowed:
        return raw
    raise InvalidInput(f"'{name}' must be one of: {', '.join(allowed)}", code=f"invalid_{name}")


def text(name: str, max_length: int) -> str:
    """Return query parameter `name` without surrounding blanks, or "" when absent.

    :raises InvalidInput: code invalid_<name>, when longer than `max_length` or not printable.
    """
    raw = request.args.get(name, "").strip()
    if len(raw) <= max_length and raw.isprintable():
        return raw
    raise InvalidInput(f"'{name}' must be at most {max_length} printable characters", code=f"invalid_{name}")


def iso_date(name: str, blank_is_none: bool = False) -> date | None:
    """Return query parameter `name` as a date written YYYY-MM-DD, or None when absent.

    `blank_is_none`: an empty value is None too (what a form sends for a date left blank).

    :raises InvalidInput: code invalid_<name>, for any other text.
    """
    raw = request.args.get(name)
    if raw is None or (blank_is_none and raw == ""):
        return None
    day = parse_day(raw)
    if day is not None:
        return day
    raise InvalidInput(f"'{name}' must be a date written YYYY-MM-DD, such as 2026-01-31", code=f"invalid_{name}")
