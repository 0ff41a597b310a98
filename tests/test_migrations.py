"""A database made by the previous release gains the new indexes, the search index and its running totals, once."""

from collections import Counter
from datetime import datetime, timezone

import sqlalchemy as sa

from analytics.extensions import db
from analytics.models import BUCKET_SECONDS, DailySummary, DailyView, VideoViewLog, ViewBucket
from conftest import add_video, rows, run_sql

NEW_INDEXES = ("ix_videos_views_total", "ix_videos_created_at", "ix_videos_views_today", "ix_videos_views_month")
MOMENTS = [  # (moment, video, views): several buckets over two days, edges of a bucket included
    (datetime(2026, 3, 13, 9, 59, 59, 999999, tzinfo=timezone.utc), "intro", 2),
    (datetime(2026, 3, 13, 10, 0, tzinfo=timezone.utc), "intro", 1),
    (datetime(2026, 3, 13, 10, 4, 59, tzinfo=timezone.utc), "outro", 3),
    (datetime(2026, 3, 14, 14, 57, 30, tzinfo=timezone.utc), "outro", 4),
]


def count_views(app):
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    add_video(app, "intro", "Introduction")
    add_video(app, "outro", "Closing words")
    for moment, video_id, times in MOMENTS:
        clock.set(moment)
        for _ in range(times):
            assert client.post(f"/api/analytics/view/{video_id}").status_code == 200


def buckets(app) -> dict:
    return {start: views for start, views in rows(app, sa.select(ViewBucket.start, ViewBucket.views)) if views}


def day_views(app) -> dict:
    return {day: views for day, views in rows(app, sa.select(DailySummary.day, DailySummary.views)) if views}


def as_previous_release(app) -> None:
    """Take away what this release adds: indexes, search index, steps, daily_summary.views, bucket rows."""
    with app.app_context(), db.engine.begin() as connection:
        for name in NEW_INDEXES + ("ix_videos_title_trgm", "ix_videos_id_trgm"):
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        if connection.dialect.name == "sqlite":
            for trigger in ("insert", "delete", "update"):
                connection.exec_driver_sql(f"DROP TRIGGER videos_fts_{trigger}")
            connection.exec_driver_sql("DROP TABLE videos_fts")
        connection.exec_driver_sql("DROP TABLE schema_steps")
        connection.exec_driver_sql("ALTER TABLE daily_summary DROP COLUMN views")
        connection.exec_driver_sql("DELETE FROM view_buckets")


def search(app, words: str) -> list[str]:
    response = app.test_client().get("/api/videos", query_string={"q": words})
    return [item["id"] for item in response.json["data"]["items"]]


def index_names(app) -> set[str]:
    with app.app_context():
        return {index["name"] for index in sa.inspect(db.engine).get_indexes("videos")}


def test_an_earlier_database_gains_indexes_search_and_totals_once(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    count_views(app)
    live_buckets, live_days = buckets(app), day_views(app)
    as_previous_release(app)
    assert not set(NEW_INDEXES) & index_names(app)

    upgraded = make_app(SQLALCHEMY_DATABASE_URI=backend_url)

    assert set(NEW_INDEXES) <= index_names(upgraded)
    logged = Counter(
        datetime.fromtimestamp(int(moment.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS, timezone.utc)
        for moment, in rows(upgraded, sa.select(VideoViewLog.viewed_at)))
    assert buckets(upgraded) == dict(logged) == live_buckets
    summed = rows(upgraded, sa.select(DailyView.day, sa.func.sum(DailyView.views)).group_by(DailyView.day))
    assert day_views(upgraded) == {day: int(views) for day, views in summed} == live_days
    assert search(upgraded, "closing") == ["outro"] and search(upgraded, "TRO") == ["outro", "intro"]  # most viewed first

    # Once: a later start leaves the running totals to the write path.
    run_sql(upgraded, "UPDATE daily_summary SET views = views + 1000")
    again = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    assert day_views(again) == {day: views + 1000 for day, views in live_days.items()}


def test_a_new_database_records_its_steps_with_nothing_to_fill(app):
    assert sorted(name for name, in rows(app, "SELECT name FROM schema_steps")) == [
        "daily_summary.views", "view_buckets"]
    assert rows(app, "SELECT count(*) FROM view_buckets") == [(0,)]


def test_postgresql_search_has_trigram_indexes(make_app, postgres_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=postgres_url)
    assert {"ix_videos_title_trgm", "ix_videos_id_trgm"} <= index_names(app)
    add_video(app, "talk-42", "A talk on trigrams")
    assert search(app, "TRIGRAM") == ["talk-42"] and search(app, "k-4") == ["talk-42"]
