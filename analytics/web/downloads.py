"""The views export as a streamed download: one answer for the API's export and the admin page's button."""

import logging
from collections.abc import Iterator
from datetime import date

from flask import Response, stream_with_context

from ..clock import current_clock
from ..context import running_app
from ..services import export
from .params import choice, iso_date

log = logging.getLogger(__name__)


def requested_export() -> tuple[date, date, str]:
    """Read `from`, `to` and `format` from the query string, with their defaults (see services/export.py).

    :raises InvalidInput: codes invalid_from, invalid_to, invalid_range, invalid_format.
    """
    first, last = export.date_range(iso_date("from"), iso_date("to"), current_clock().today())
    return first, last, choice("format", "csv", export.FORMATS)


def export_download(first: date, last: date, fmt: str) -> Response:
    """Answer the export as an attachment, written while it is sent (never whole in memory), never cached."""
    body = stream_with_context(_logged(export.pieces(first, last, fmt), first, last))
    response = running_app().response_class(body, content_type=export.MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename(first, last, fmt)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _logged(written: Iterator[str], first: date, last: date) -> Iterator[str]:
    """Pass the pieces on; an error once the answer has begun can only cut it short, so log it first."""
    try:
        yield from written
    except Exception:
        log.exception("the export from %s to %s failed part way; the download was cut short", first, last)
        raise
