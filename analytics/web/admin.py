"""The admin page: log in with the admin token, reset counters, add and import videos, export views."""

import re

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from .. import scheduler
from ..clock import current_clock
from ..extensions import csrf
from ..services import export, resets, status, videos
from ..services.errors import ServiceError
from . import session as web_session
from .auth import failed_token_limit
from .downloads import export_download, requested_export
from .session import login_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

RESETS = {"daily": (resets.reset_daily, "today's counters"), "monthly": (resets.reset_monthly, "this month's counters")}
login_limit = failed_token_limit(methods=["POST"])


# A path on this site: no scheme, no host, no blanks or control characters a browser might drop.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%!$&'()*+,;=:@?-]*")


def _next_page() -> str:
    """Where to go after logging in: a path on this site only."""
    target = request.args.get("next", "")
    return target if _LOCAL_PATH.fullmatch(target) else url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
@login_limit
def login():
    """Ask for the admin token and start an admin session."""
    if request.method == "POST":
        if web_session.log_in(request.form.get("token", "")):
            return redirect(_next_page())
        return render_template("admin/login.html", error="That is not the admin token."), 401
    return render_template("admin/login.html", error=None)


@bp.get("/logout")
def logout_page():
    """Offer the logout button (logging out is a form post, so no other site can do it)."""
    if not web_session.logged_in():
        return redirect(url_for("admin.login"))
    return render_template("admin/logout.html")


@bp.post("/logout")
@csrf.exempt
def logout():
    """End the admin session."""
    # Checked here, not by default: without a session there is nothing to protect,
    # and a stale logout form should land on the login page rather than an error.
    if web_session.logged_in():
        csrf.protect()
    web_session.log_out()
    flash("You are logged out.")
    return redirect(url_for("admin.login"))


def _index(status_code: int = 200, **form):
    first, last = export.date_range(None, None, current_clock().today())
    form.setdefault("export_form", {"from": first.isoformat(), "to": last.isoformat(), "format": "csv"})
    page = render_template(
        "admin/index.html", scheduler=scheduler.status(current_app._get_current_object()),
        storage=status.storage(), zone=current_app.config["TIMEZONE"],
        retention_days=current_app.config["LOG_RETENTION_DAYS"], **form,
    )
    return page, status_code


@bp.get("")
@login_required
def index():
    """Show the status panel and the forms."""
    return _index()


@bp.route("/reset/<period>", methods=["GET", "POST"])
@login_required
def reset(period):
    """Ask to confirm a reset; on confirmation, zero the counters."""
    if period not in RESETS:
        abort(404)
    run, what = RESETS[period]
    if request.method == "POST":
        count = run(current_clock())
        flash(f"Reset {period} views for {count} {'video' if count == 1 else 'videos'}.")
        return redirect(url_for("admin.index"))
    return render_template("admin/confirm.html", period=period, what=what, videos=status.video_count())


@bp.get("/videos")
@bp.get("/import")
def back_to_index():
    """Send a reloaded form address back to the admin page."""
    return redirect(url_for("admin.index"))


@bp.post("/videos")
@login_required
def add_video():
    """Register a video from the form."""
    video_id, title = request.form.get("id", "").strip(), request.form.get("title", "")
    try:
        video = videos.create_video(video_id, title, current_clock())
    except ServiceError as error:
        return _index(error.status, add_error=error.message, add_form={"id": video_id, "title": title})
    link = url_for("dashboard.video_page", video_id=video["id"])
    flash(Markup("Added “{}” (<a href=\"{}\">{}</a>): its page has the snippet to embed.").format(
        video["title"], link, video["id"]))
    return redirect(url_for("admin.index"))


@bp.post("/import")
@login_required
def import_videos():
    """Add the videos of an uploaded CSV file (id,title) and report what happened."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _index(400, import_error="Choose a CSV file with the columns id,title.")
    try:
        report = videos.import_csv(videos.csv_lines(upload.read()), current_clock())
    except ServiceError as error:
        return _index(error.status, import_error=error.message)
    return _index(import_report=report)


@bp.get("/export")
@login_required
def export_views():
    """Download the views per video and day between the form's dates (the API's export, for the session)."""
    try:
        return export_download(*requested_export())
    except ServiceError as error:
        return _index(error.status, export_error=error.message,
                      export_form={name: request.args.get(name, "") for name in ("from", "to", "format")})
