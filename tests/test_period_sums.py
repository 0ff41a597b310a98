"""The named periods' past days added up ahead (services/period_sums.py): the same pages, from stored sums."""

import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from analytics import scheduler
from analytics.extensions import db
from analytics.models import SpanSum, SpanView
from analytics.services import daily_import, period_sums, videos
from conftest import add_video, rows, run_sql, statements_run
from test_dashboard_periods import SPANS, app, count_views, expected, numbers, table  # noqa: F401

# With the clock at 2026-03-14, the stored days end on the 12th.
STORED = {
    "last-7-days": (date(2026, 3, 8), date(2026, 3, 12)),
    "last-30-days": (date(2026, 2, 13), date(2026, 3, 12)),
    "this-month": (date(2026, 3, 1), date(2026, 3, 12)),
    "last-month": (date(2026, 2, 1), date(2026, 2, 28)),
    "last-12-months": (date(2025, 4, 1), date(2026, 3, 12)),
}


def add_up(app, clock) -> int:
    with app.app_context():
        return period_sums.refresh(clock)


def stored_spans(app) -> dict:
    """Each complete span, with its views and how many videos it holds."""
    videos = {(first, last): count for first, last, count in rows(
        app, sa.select(SpanView.first, SpanView.last, sa.func.count()).group_by(SpanView.first, SpanView.last))}
    return {(first, last): (views, videos.get((first, last), 0))
            for first, last, views in rows(app, sa.select(SpanSum.first, SpanSum.last, SpanSum.views))}


def page_and_statements(app, client, path: str) -> tuple[str, list[str]]:
    """GET `path`; return the page and the SQL it ran."""
    with statements_run(app) as caught:
        page = client.get(path).get_data(as_text=True)
    return page, [statement for statement, _ in caught]


@pytest.mark.parametrize("name", list(SPANS))
def test_each_period_reads_its_stored_days_and_adds_the_newest(app, client, clock, name):
    count_views(app, client, clock)
    assert add_up(app, clock) > 0
    spans = stored_spans(app)
    assert set(spans) == set(STORED.values())  # the 30 days and this month share nothing: both are stored
    for first, last in STORED.values():
        assert spans[(first, last)] == (expected(first, last)["views"], len(expected(first, last)["order"]))

    first, last = SPANS[name]
    want = expected(first, last)
    page, statements = page_and_statements(app, client, f"/dashboard?period={name}")
    assert numbers(page)["views"] == want["views"] and numbers(page)["videos"] == len(want["order"])
    assert table(page) == [(video_id, want["per_video"][video_id]) for video_id in want["order"]]
    assert any("span_views" in statement for statement in statements) == (name in STORED)
    assert add_up(app, clock) == 0  # nothing new to add up


def test_videos_viewed_since_the_stored_days_climb_into_their_place(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    for number in range(60):
        add_video(app, f"v{number:02}")
    past = [(date(2026, 3, 1), f"v{number:02}", 1 + number % 5) for number in range(55)]  # v55..v59: none
    count_views(app, client, clock, past)
    add_up(app, clock)
    newest = [(date(2026, 3, 13), "v03", 9), (date(2026, 3, 14), "v52", 4), (date(2026, 3, 14), "v57", 3),
              (date(2026, 3, 14), "v58", 1), (date(2026, 3, 13), "v10", 2)]
    count_views(app, client, clock, newest)
    views = {}
    for _, video_id, n in past + newest:
        views[video_id] = views.get(video_id, 0) + n
    order = sorted(views, key=lambda video_id: (-views[video_id], video_id))

    first, statements = page_and_statements(app, client, "/dashboard?period=this-month")
    second = client.get("/dashboard?period=this-month&page=2").get_data(as_text=True)
    assert any("span_views" in statement for statement in statements)
    assert table(first) + table(second) == [(video_id, views[video_id]) for video_id in order]
    assert numbers(first)["videos"] == numbers(second)["videos"] == 57  # two seen only since the stored days
    assert "There is no page 3: the videos viewed fill 2 pages" in client.get(
        "/dashboard?period=this-month&page=3").get_data(as_text=True)

    searched = client.get("/dashboard?period=this-month&q=v5").get_data(as_text=True)
    assert table(searched) == [(video_id, views[video_id]) for video_id in order if video_id.startswith("v5")]
    assert numbers(searched)["videos"] == 7  # v50..v54, and v57 and v58 since


def test_history_changed_by_an_import_is_never_read_from_a_stale_sum(app, client, clock, tmp_path):
    count_views(app, client, clock)
    add_up(app, clock)
    # On 2026-02-05 a had 4 and b 7: swapped, the day's total stays 11, so only forgetting the spans shows it.
    path = tmp_path / "swap.csv"
    path.write_text("video_id,date,views\na,2026-02-05,7\nb,2026-02-05,4\n", encoding="utf-8")
    with app.app_context(), path.open("rb") as lines, daily_import.staged(lines, clock) as staged:
        daily_import.apply(staged, clock)
    assert set(stored_spans(app)) == {STORED[name] for name in ("last-7-days", "last-30-days", "this-month")}
    page = client.get("/dashboard?period=last-month").get_data(as_text=True)
    assert table(page) == [("c", 10), ("a", 7), ("b", 4)]

    # A change of the day's total, behind the import's back, is seen too.
    run_sql(app, "UPDATE daily_views SET views = 30 WHERE video_id = 'c' AND day = :day", day=date(2026, 2, 20))
    run_sql(app, "UPDATE daily_summary SET views = views + 20 WHERE day = :day", day=date(2026, 2, 20))
    add_up(app, clock)
    assert set(stored_spans(app)) == set(STORED.values())
    run_sql(app, "UPDATE daily_views SET views = 1 WHERE video_id = 'c' AND day = :day", day=date(2026, 2, 20))
    run_sql(app, "UPDATE daily_summary SET views = views - 29 WHERE day = :day", day=date(2026, 2, 20))
    page = client.get("/dashboard?period=last-month").get_data(as_text=True)
    assert table(page) == [("a", 7), ("b", 4), ("c", 1)]

    runner = app.test_cli_runner()
    path.write_text("video_id,date,views\nc,2026-02-20,12\n", encoding="utf-8")
    result = runner.invoke(args=["analytics", "import-daily", str(path)])
    assert result.exit_code == 0, result.output
    assert "Adding up the dashboard periods' views again" in result.output
    assert stored_spans(app)[STORED["last-month"]] == (23, 3)  # added up again by the import itself
    assert table(client.get("/dashboard?period=last-month").get_data(as_text=True)) == [
        ("c", 12), ("a", 7), ("b", 4)]


def test_the_sums_move_on_at_local_midnight_and_old_ones_go(make_app):
    app = make_app(TIMEZONE="Asia/Kolkata")  # midnight there is 18:30 UTC: no hour of the purge
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    add_video(app, "a")
    count_views(app, client, clock, [(date(2026, 3, 1), "a", 3), (date(2026, 3, 12), "a", 2)])
    clock.set(datetime(2026, 3, 14, 18, 29, tzinfo=timezone.utc))  # 23:59 on the 14th
    runner = scheduler.ResetScheduler(app)
    runner.catch_up()
    before = set(stored_spans(app))
    assert (date(2026, 3, 1), date(2026, 3, 12)) in before  # this month, up to the day before yesterday
    leftover = {"video_id": "a", "first": date(2020, 1, 1), "last": date(2020, 1, 31), "views": 5}
    run_sql(app, "INSERT INTO span_views (video_id, first, last, views) VALUES (:video_id, :first, :last, :views)",
            **leftover)  # rows of an add-up that died before it finished

    clock.advance(minutes=1)
    assert "period_sums" in runner.tick()
    after = set(stored_spans(app))
    assert (date(2026, 3, 1), date(2026, 3, 13)) in after
    assert {last for _, last in after} == {date(2026, 3, 13), date(2026, 2, 28)}  # all moved on but last month
    assert rows(app, sa.select(SpanView.first, SpanView.last).distinct().order_by(SpanView.first)) == sorted(
        span for span in after if stored_spans(app)[span][1])
    page = client.get("/dashboard?period=this-month").get_data(as_text=True)
    assert table(page) == [("a", 5)]


def test_a_video_removed_takes_its_stored_rows_along(make_app):
    app = make_app()
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    for video_id in ("a", "b"):
        add_video(app, video_id)
    count_views(app, client, clock, [(date(2026, 3, 1), "a", 3), (date(2026, 3, 1), "b", 2)])
    add_up(app, clock)
    run_sql(app, "DELETE FROM videos WHERE id = 'a'")
    assert rows(app, "SELECT DISTINCT video_id FROM span_views") == [("b",)]
    page = client.get("/dashboard?period=this-month").get_data(as_text=True)
    assert table(page) == [("b", 2)] and numbers(page)["videos"] == 1


def test_spans_of_a_day_or_two_are_never_stored():
    today = date(2026, 3, 14)
    assert period_sums.stored_part(today, today, today) is None
    assert period_sums.stored_part(today - timedelta(days=1), today, today) is None
    assert period_sums.stored_part(today - timedelta(days=2), today, today) == (today - timedelta(days=2),) * 2
    assert period_sums.stored_part(date(2026, 2, 1), date(2026, 2, 28), today) == (date(2026, 2, 1), date(2026, 2, 28))


def test_a_search_matching_over_a_thousand_videos_reads_the_days_once(make_app, backend_url):
    """Up to COUNT_CAP matches, each video's days are looked up; past it, the days are read and the videos picked."""
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    with app.app_context():
        videos.import_csv([f"m{number:04},Match {number}\n" for number in range(1_100)] + ["other,Other\n"], clock)
    views = [(date(2026, 3, 1), f"m{number:04}", 1 + number % 3) for number in range(0, 1_100, 100)]
    count_views(app, client, clock, views + [(date(2026, 3, 1), "other", 9), (date(2026, 3, 14), "m0100", 5)])
    want = sorted(((video_id, n + 5 * (video_id == "m0100")) for _, video_id, n in views), key=lambda v: (-v[1], v[0]))
    for path in ("/dashboard?from=2026-03-01&to=2026-03-14&q=Ma", "/dashboard?period=this-month&q=Ma"):
        if "period" in path:
            add_up(app, clock)
        page = client.get(path).get_data(as_text=True)
        assert table(page) == want and numbers(page)["videos"] == len(want)


def while_adding_up(app, action):
    """Run `action` once, right after an add-up has read its sums and before it writes any."""
    done = []

    def after(conn, cursor, statement, parameters, context, many):
        if not done and "GROUP BY video_id" in statement and "span" not in statement:
            done.append(True)
            action()

    with app.app_context():
        sa.event.listen(db.engine, "after_cursor_execute", after)
    return lambda: sa.event.remove(db.engine, "after_cursor_execute", after)


def test_an_import_while_a_span_is_added_up_stops_it(app, client, clock, tmp_path):
    count_views(app, client, clock)
    path = tmp_path / "swap.csv"
    path.write_text("video_id,date,views\na,2026-02-05,7\nb,2026-02-05,4\n", encoding="utf-8")

    def import_swap():
        with path.open("rb") as lines, daily_import.staged(lines, clock) as staged:
            daily_import.apply(staged, clock)

    with app.app_context():
        stop = while_adding_up(app, import_swap)
        try:
            assert period_sums.add_up(*STORED["last-month"]) == 0  # it read the days before the swap
        finally:
            stop()
        assert STORED["last-month"] not in stored_spans(app)
        assert table(client.get("/dashboard?period=last-month").get_data(as_text=True)) == [
            ("c", 10), ("a", 7), ("b", 4)]
        assert period_sums.add_up(*STORED["last-month"]) == 3
    assert stored_spans(app)[STORED["last-month"]] == (21, 3)
    assert table(client.get("/dashboard?period=last-month").get_data(as_text=True)) == [("c", 10), ("a", 7), ("b", 4)]


def test_of_two_add_ups_of_one_span_the_later_one_stores_it(app, client, clock):
    count_views(app, client, clock)
    span = STORED["last-12-months"]
    inner = []
    with app.app_context():
        stop = while_adding_up(app, lambda: inner.append(period_sums.add_up(*span)))
        try:
            assert period_sums.add_up(*span) == 0  # the other marked the span after it: this one stops
        finally:
            stop()
    want = expected(*span)
    assert inner == [len(want["order"])]
    assert stored_spans(app)[span] == (want["views"], len(want["order"]))
    assert rows(app, sa.select(SpanView.video_id, SpanView.views).where(SpanView.first == span[0]).order_by(
        SpanView.views.desc(), SpanView.video_id)) == [(video_id, want["per_video"][video_id])
                                                       for video_id in want["order"]]


def test_an_import_drops_the_spans_it_changes_in_the_same_commit(app, client, clock, tmp_path):
    """Not after it: should the process stop between the two, the stale span would stay complete."""
    count_views(app, client, clock)
    add_up(app, clock)
    path = tmp_path / "swap.csv"
    path.write_text("video_id,date,views\na,2026-02-05,7\nb,2026-02-05,4\n", encoding="utf-8")
    seen = []

    def at_commit(connection):
        if connection.info.pop("daily_rows_written", False):  # the import's chunk, as it commits
            seen.append(connection.execute(sa.select(SpanSum.first, SpanSum.last)).all())

    def note(connection, cursor, statement, parameters, context, many):
        if statement.lstrip().upper().startswith("INSERT INTO DAILY_VIEWS"):
            connection.info["daily_rows_written"] = True

    with app.app_context():
        sa.event.listen(db.engine, "commit", at_commit)
        sa.event.listen(db.engine, "after_cursor_execute", note)
        try:
            with path.open("rb") as lines, daily_import.staged(lines, clock) as staged:
                daily_import.apply(staged, clock)
        finally:
            sa.event.remove(db.engine, "commit", at_commit)
            sa.event.remove(db.engine, "after_cursor_execute", note)
    assert [set(spans) for spans in seen] == [
        {STORED[name] for name in ("last-7-days", "last-30-days", "this-month")}]  # last month's and the year's gone


def test_on_postgresql_an_add_up_waits_for_an_import_and_neither_deadlocks(make_app, postgres_url, tmp_path):
    """The import locks its videos; an add-up's batch would hold its mark and wait for them; the import drops marks."""
    app = make_app(SQLALCHEMY_DATABASE_URI=postgres_url)
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    for video_id in ("a", "b", "c"):
        add_video(app, video_id)
    count_views(app, client, clock, [(date(2026, 2, 5), "a", 4), (date(2026, 2, 5), "b", 7)])
    path = tmp_path / "swap.csv"
    path.write_text("video_id,date,views\na,2026-02-05,7\nb,2026-02-05,4\n", encoding="utf-8")
    adding_up, outcome = [], []

    def add_up_meanwhile():
        with app.app_context():
            outcome.append(period_sums.add_up(*STORED["last-month"]))

    def after(conn, cursor, statement, parameters, context, many):
        if not adding_up and "FROM videos" in statement and "FOR UPDATE" in statement:
            adding_up.append(threading.Thread(target=add_up_meanwhile))
            adding_up[0].start()
            time.sleep(1.5)  # the add-up marks its span, reads, and comes to write its rows

    with app.app_context():
        sa.event.listen(db.engine, "after_cursor_execute", after)
        try:
            with path.open("rb") as lines, daily_import.staged(lines, clock) as staged:
                report = daily_import.apply(staged, clock)
        finally:
            sa.event.remove(db.engine, "after_cursor_execute", after)
    adding_up[0].join(30)
    assert report.changed == 2
    assert outcome == [0]  # it waited, then found its mark dropped by the import: its sums were from before
    assert table(client.get("/dashboard?period=last-month").get_data(as_text=True)) == [("a", 7), ("b", 4)]
