"""The admin's export of views per video and day, streamed as CSV or JSON."""

from ..auth import admin_required
from ..downloads import export_download, requested_export
from . import bp


@bp.get("/analytics/export")
@admin_required
def export_views():
    """Answer the views per video and day from `from` to `to` as a CSV or JSON file."""
    return export_download(*requested_export())
