"""The video list read from its indexes: every order and page, stale counters, search by trigrams or LIKE."""

from datetime import datetime, timedelta, timezone

import pytest

from analytics.clock import ManualClock
from analytics.extensions import db
from analytics.services.resets import reset_daily, reset_monthly
from analytics.services.videos import COUNT_CAP, SORTS, import_csv
from conftest import add_video, run_sql, statements_run

VIEWS = {"alpha": 3, "bravo": 1, "charlie": 3, "delta": 0, "echo": 5}


def view(client, video_id, times=1):
    for _ in range(times):
        assert client.post(f"/api/analytics/view/{video_id}").status_code == 200


def listed(client, sort, per_page=2, **params) -> list[str]:
    """Every id of the list, page after page, as the API gives them."""
    ids, page = [], 1
    while True:
        data = client.get("/api/videos", query_string={"sort": sort, "per_page": per_page, "page": page,
                                                       **params}).json["data"]
        ids += [item["id"] for item in data["items"]]
        if page >= data["pages"]:
            return ids
        page += 1


def expected(client, sort) -> list[str]:
    """The list's order by the rule: largest (or newest) first, ties by id, from each video's own counts."""
    key = {"views_total": "viewsTotal", "views_month": "viewsMonth", "views_today": "viewsToday",
           "created_at": "createdAt"}[sort]
    counts = {video: client.get(f"/api/videos?per_page=100&q={video}").json["data"]["items"][0]
              for video in VIEWS}
    by_id = sorted(counts)
    return sorted(by_id, key=lambda video: counts[video][key], reverse=True)  # stable: ties stay by id


@pytest.fixture
def app(make_app, backend_url):
    """Each test on SQLite (the trigram index) and PostgreSQL (LIKE, served by pg_trgm)."""
    return make_app(SQLALCHEMY_DATABASE_URI=backend_url)


@pytest.fixture
def listing(app, client, clock):
    for video_id, times in VIEWS.items():
        add_video(app, video_id, f"Video {video_id}")
        clock.advance(seconds=1)
        view(client, video_id, times)
    return client


@pytest.mark.parametrize("sort", SORTS)
def test_every_order_pages_through_all_videos_in_the_rule_s_order(listing, sort):
    assert listed(listing, sort) == expected(listing, sort)
    assert listed(listing, sort, per_page=3) == expected(listing, sort)


@pytest.mark.parametrize("sort", ["views_today", "views_month"])
def test_stale_counters_count_as_zero_before_and_after_the_midnight_reset(app, listing, clock, sort):
    clock.set(datetime(2026, 4, 1, 9, tzinfo=timezone.utc))  # a new day and month; no reset has run
    view(listing, "bravo", 2)
    assert listed(listing, sort) == ["bravo", "alpha", "charlie", "delta", "echo"]
    with app.app_context():
        reset_daily(clock, stale_only=True)
        reset_monthly(clock, stale_only=True)
    assert listed(listing, sort) == ["bravo", "alpha", "charlie", "delta", "echo"]
    view(listing, "echo", 3)
    assert listed(listing, sort) == ["echo", "bravo", "alpha", "charlie", "delta"]


def test_a_deep_page_holds_the_same_videos_as_an_offset(app, client):
    with app.app_context():
        import_csv([f"v{n:03d},Clip {n}\n" for n in range(250)], ManualClock(datetime(2026, 3, 1, tzinfo=timezone.utc)))
    for n in range(0, 250, 7):
        run_sql(app, "UPDATE videos SET views_total = :n WHERE id = :id", n=n % 11, id=f"v{n:03d}")
    everything = listed(client, "views_total", per_page=100)
    page = client.get("/api/videos?per_page=20&page=9").json["data"]
    assert [item["id"] for item in page["items"]] == everything[160:180]
    assert (page["total"], page["pages"], page["totalCapped"]) == (250, 13, False)


@pytest.mark.parametrize("words, found", [
    ("VIDEO ALPHA", ["alpha"]),       # trigram index, any case
    ("rav", ["bravo"]),               # three characters: still the index
    ("ha", ["alpha", "charlie"]),     # two: LIKE; as many views: by id
    ("ch", ["echo", "charlie"]),      # most viewed first
    ('"', []),                        # quotes are text, not query syntax
    ("alpha OR bravo", []),
    ("%", []),
])
def test_search_finds_any_part_of_a_title_or_id(listing, words, found):
    assert [item["id"] for item in listing.get("/api/videos", query_string={"q": words}).json["data"]["items"]] \
        == found


def test_the_search_index_follows_renamed_and_deleted_videos(app, listing):
    run_sql(app, "UPDATE videos SET title = 'Harbour lights' WHERE id = 'delta'")
    run_sql(app, "DELETE FROM videos WHERE id = 'bravo'")
    assert listed(listing, "views_total", q="harbour") == ["delta"]
    assert listed(listing, "views_total", q="Video delta") == []
    assert listed(listing, "views_total", q="bravo") == []
    add_video(app, "foxtrot", "Harbour at night")
    assert listed(listing, "views_total", q="harbour") == ["delta", "foxtrot"]


def test_a_search_counts_up_to_a_thousand_and_says_so(app, client):
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=timezone.utc))
    with app.app_context():
        import_csv([f"clip-{n},Common clip {n}\n" for n in range(COUNT_CAP + 5)], clock)
    data = client.get("/api/videos?q=common&per_page=100&page=11").json["data"]
    assert (data["total"], data["totalCapped"], len(data["items"])) == (COUNT_CAP + 1, True, 5)
    assert client.get("/api/videos?q=clip-1000").json["data"]["totalCapped"] is False
    page = client.get("/dashboard?q=common").get_data(as_text=True)
    assert "<small>1,000+</small>" in page and 'rel="next"' in page and " of " not in page.split("Page 1")[1][:10]
    assert 'rel="next"' in client.get("/dashboard?q=common&page=20").get_data(as_text=True)  # full, maybe more
    last = client.get("/dashboard?q=common&page=21").get_data(as_text=True)  # 1,005 matches: 5 on page 21
    assert 'rel="next"' not in last and last.count('<tr data-video-id=') == 5


def test_the_day_s_order_waits_for_nothing_at_midnight(app, listing, clock):
    """Just before midnight a late view may stamp tomorrow; the order still counts it as today's."""
    clock.set(datetime(2026, 3, 14, 23, 57, tzinfo=timezone.utc))
    run_sql(app, "UPDATE videos SET period_day = '2026-03-15', views_today = 9 WHERE id = 'delta'")
    assert listed(listing, "views_today")[0] == "delta"
    clock.advance(minutes=5)
    assert listed(listing, "views_today")[:1] == ["delta"]
    clock.advance(days=1)
    assert listed(listing, "views_today") == sorted(VIEWS)  # every counter stale: all 0, by id
    assert clock.now() - timedelta(days=1) > datetime(2026, 3, 15, tzinfo=timezone.utc)


def test_a_search_on_postgresql_is_served_by_its_trigram_indexes(make_app, postgres_url):
    """lower(title) LIKE …, as the indexes hold it: ILIKE would scan every video."""
    app = make_app(SQLALCHEMY_DATABASE_URI=postgres_url)
    add_video(app, "talk-42", "Talk 42 %_/")
    with statements_run(app) as caught:
        found = app.test_client().get("/api/videos?q=42 %_/").json["data"]
    with app.app_context():
        statement, parameters = next((s, p) for s, p in caught if "LIKE" in s.upper())
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SET enable_seqscan = off")  # where an index can serve, one does
            plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
    assert [item["id"] for item in found["items"]] == ["talk-42"]  # %, _ and / are matched as typed
    assert "ix_videos_title_trgm" in plan and "ix_videos_id_trgm" in plan
