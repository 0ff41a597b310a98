"""Command-line tools: ``flask --app app videos …`` and ``flask --app app analytics …``."""

import logging
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from .clock import current_clock
from .services import daily_import, export, job_runs, period_sums, resets, retention, videos, views
from .services import demo_data as demo
from .services.backup import backup_sqlite
from .services.errors import InvalidInput, ServiceError

log = logging.getLogger(__name__)

videos_cli = AppGroup("videos", help="Register, import and list videos.")
analytics_cli = AppGroup("analytics", help="Read counts, reset counters, purge old view logs, back up the database, "
                                            "export and import views per day.")


def _fail(error: ServiceError):
    raise click.ClickException(error.message)


@videos_cli.command("add")
@click.argument("video_id")
@click.option("--title", required=True, help="The video's title (1 to 200 characters).")
def add_video(video_id: str, title: str) -> None:
    """Register a video with zero counts."""
    try:
        videos.create_video(video_id, title, current_clock())
    except ServiceError as error:
        _fail(error)
    click.echo(f"Added video {video_id}")


@videos_cli.command("import")
@click.argument("file", type=click.File("rb"))
def import_videos(file) -> None:
    """Add the videos of a CSV file with columns id,title; existing ids are skipped."""
    try:
        lines = videos.csv_lines(file.read())
    except InvalidInput as error:
        raise click.ClickException(error.message) from None
    with click.progressbar(lines, label="Importing") as progress:
        report = videos.import_csv(progress, current_clock())
    for line, message in report.bad_rows:
        click.echo(f"line {line}: {message}", err=True)
    click.echo(f"Added {report.added}, skipped {report.skipped} existing, {len(report.bad_rows)} bad rows")


@videos_cli.command("list")
@click.option("--sort", type=click.Choice(videos.SORTS), default="views_total", show_default=True)
def list_videos(sort: str) -> None:
    """List every video with its counts."""
    clock = current_clock()
    click.echo(f"{'ID':<24} {'TODAY':>8} {'MONTH':>10} {'TOTAL':>12}  TITLE")
    page_number = 1
    while True:
        page = videos.list_videos(page_number, 100, sort, clock)
        for item in page.items:
            click.echo(f"{item['id']:<24} {item['views_today']:>8} {item['views_month']:>10} "
                       f"{item['views_total']:>12}  {item['title']}")
        if page_number >= page.pages:
            break
        page_number += 1
    click.echo(f"{page.total} videos")


@analytics_cli.command("stats")
@click.argument("video_id")
def show_stats(video_id: str) -> None:
    """Show a video's views today, this month and in all."""
    try:
        counts = views.get_stats(videos.check_video_id(video_id), current_clock())
    except ServiceError as error:
        _fail(error)
    click.echo(f"{counts.video_id}: today {counts.views_today}, "
               f"month {counts.views_month}, total {counts.views_total}")


@analytics_cli.command("reset-daily")
def reset_daily() -> None:
    """Zero every video's views today."""
    click.echo(f"Reset daily views for {resets.reset_daily(current_clock())} videos")


@analytics_cli.command("reset-monthly")
def reset_monthly() -> None:
    """Zero every video's views this month."""
    click.echo(f"Reset monthly views for {resets.reset_monthly(current_clock())} videos")


@analytics_cli.command("purge-logs")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="Keep this many days instead of LOG_RETENTION_DAYS (0: keep everything).")
def purge_logs(days: int | None) -> None:
    """Delete view-log rows older than LOG_RETENTION_DAYS and expired viewer hashes; counters stay."""
    clock = current_clock()
    if days is None:
        days = current_app.config["LOG_RETENTION_DAYS"]
    count = retention.purge(clock, days)
    job_runs.record("purge", {"ran_at": clock.now(), "trigger": "command", "outcome": "ok", "count": count,
                              "error": None})
    kept = "every view log row kept" if days == 0 else f"view log rows older than {days} days"
    click.echo(f"Deleted {count} expired rows ({kept}; viewer hashes past their window)")


@analytics_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def backup(path: str, force: bool) -> None:
    """Copy the SQLite database to PATH, a consistent snapshot, while the server runs."""
    try:
        report = backup_sqlite(path, current_app.instance_path, force=force)
    except ServiceError as error:
        _fail(error)
    click.echo(f"Wrote {path}: {report['bytes']} bytes, {report['pages']} pages in {report['seconds']:.2f} s")


ISO_DAY = click.DateTime(formats=["%Y-%m-%d"])


@analytics_cli.command("export")
@click.option("--from", "first", type=ISO_DAY, help="First day, YYYY-MM-DD  [default: 29 days before --to]")
@click.option("--to", "last", type=ISO_DAY, help="Last day, YYYY-MM-DD  [default: today]")
@click.option("--format", "fmt", type=click.Choice(export.FORMATS), default="csv", show_default=True)
@click.option("--output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="File to write (- for standard output); written whole or not at all.")
def export_views(first: datetime | None, last: datetime | None, fmt: str, output: str) -> None:
    """Write the views, unique viewers, watch time and completions per video and day."""
    try:
        days = export.date_range(first and first.date(), last and last.date(), current_clock().today())
    except ServiceError as error:
        _fail(error)
    # atomic: a file appears under its name only once complete, so a failed export leaves nothing half written.
    with click.open_file(output, "wb", atomic=output != "-") as out:
        for piece in export.pieces(*days, fmt):
            out.write(piece.encode())


@analytics_cli.command("import-daily")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Show what would change, and write nothing.")
def import_daily(file, dry_run: bool) -> None:
    """Set views per video and day from a CSV file with a header naming video_id,date,views.

    Each row sets its video's day (it never adds), so importing a file twice
    changes nothing the second time. Unknown videos are registered with
    their id as title. Any bad row refuses the whole file, naming its line.
    """
    clock = current_clock()
    try:
        with daily_import.staged(file, clock) as rows:
            with click.progressbar(length=rows.count, label="Comparing" if dry_run else "Importing") as progress:
                report = daily_import.apply(rows, clock, dry_run=dry_run, progress=progress.update)
    except ServiceError as error:
        raise click.ClickException(f"{error.message}. Nothing was imported.") from None
    _show_import(report)
    if not dry_run and report.added + report.changed:
        click.echo("Adding up the dashboard periods' views again…")
        try:
            period_sums.refresh(clock)
        except Exception as error:  # the import is in; the scheduler adds them up within the hour
            log.warning("could not add up the periods' views: %s", error)
            click.echo("Could not add up the periods' views now; the scheduler does so within the hour.")


def _show_import(report: daily_import.ImportReport) -> None:
    if report.dry_run:
        for video_id in report.created:
            click.echo(f"create video {video_id}")
        for change in report.changes:
            before = "" if change.old is None else f"{change.old} -> "
            click.echo(f"{'add' if change.old is None else 'change'} {change.video_id} {change.day}: "
                       f"{before}{change.new}")
        more = report.added + report.changed - len(report.changes)
        if more > 0:
            click.echo(f"... and {more} more changed days")
    would = "Would add" if report.dry_run else "Added"
    click.echo(f"{would} {report.added} days, {'change' if report.dry_run else 'changed'} {report.changed}, "
               f"{report.unchanged} unchanged; {'would create' if report.dry_run else 'created'} "
               f"{report.videos_created} videos; views in all {report.views_moved:+d}"
               + (" (dry run: nothing was written)" if report.dry_run else ""))


@click.command("demo-data")
@with_appcontext
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 366), help="Days of history.")
def demo_data(days: int) -> None:
    """Add a few demo videos with plausible views over the last days (existing ones are kept)."""
    report = demo.create(current_clock(), days=days)
    click.echo(f"Added {report.videos_added} demo videos with {report.views_added} views"
               f" ({report.videos_skipped} were there already)")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    app.cli.add_command(videos_cli)
    app.cli.add_command(analytics_cli)
    app.cli.add_command(demo_data)
