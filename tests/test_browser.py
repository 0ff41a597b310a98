"""A real browser on a video site's page: the pixel counts, fetch reads the counts, errors are pages, axe passes."""

import http.server
import json
import os
import shutil
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from functools import partial

import pytest
import requests
from playwright.sync_api import expect

from conftest import ADMIN_TOKEN, BROWSER_UA
from served import ROOT, Server, free_port
from user_agent import desktop_user_agent

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# axe-core, pinned in package-lock.json; make test installs it with npm ci.
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def never_skip() -> bool:
    """Tell whether a missing browser or tool must fail the test (CI) rather than skip it."""
    return os.environ.get("REQUIRE_SERVICES") == "1" or os.environ.get("CI") == "true"


# Headless Chromium says "HeadlessChrome" in its user agent, and the bot filter refuses to count
# views from it. The filter stays on in these tests: every page they open passes for desktop
# Chrome on Linux instead, so open pages and contexts with new_page and new_context below.
def new_page(browser, **options):
    """Open a page, in a context of its own, that passes for desktop Chrome."""
    return browser.new_page(user_agent=desktop_user_agent(browser.version), **options)


def new_context(browser, **options):
    """Open a browser context that passes for desktop Chrome."""
    return browser.new_context(user_agent=desktop_user_agent(browser.version), **options)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if never_skip():
            pytest.fail(f"Chromium is not at {CHROMIUM} and make test could not install it with apt "
                        "(see its output); in CI a browser test never skips")
        pytest.skip("Chromium is not installed (make test installs it with apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/browser.db", "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "browser-test", "SCHEDULER_ENABLED": "false",
    }, threads=4)
    try:
        response = requests.post(f"{server.url}/api/videos", json={"id": "trailer", "title": "Trailer"},
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
        assert response.status_code == 201
        yield server
    finally:
        server.stop()


@pytest.fixture
def other_site(tmp_path):
    """A static web server on another origin, for pages written by the test: (folder, address)."""
    folder = tmp_path / "site"
    folder.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield folder, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def video_site(server, other_site):
    """A page on another origin that embeds the pixel and shows the counts, as a player would."""
    folder, address = other_site
    (folder / "watch.html").write_text(f"""<!doctype html>
<html><body>
  <img id="pixel" src="{server.url}/api/analytics/pixel/trailer.gif" width="1" height="1" alt="">
  <p>Views: <span id="views">…</span></p>
  <script>
    document.getElementById("pixel").addEventListener("load", () =>
      fetch("{server.url}/api/analytics/stats/trailer")
        .then((r) => r.json())
        .then(({{ data }}) => {{ document.getElementById("views").textContent = data.viewsTotal; }}));
  </script>
</body></html>""")
    return f"{address}/watch.html"


def test_a_page_with_the_pixel_counts_its_view_and_shows_the_count(browser, server, video_site):
    page = new_page(browser)
    page.goto(video_site)
    page.wait_for_function("document.getElementById('views').textContent === '1'", timeout=10_000)
    assert page.evaluate("document.getElementById('pixel').naturalWidth") == 1
    page.reload()  # the same viewer within the window: the pixel loads, the count stays
    page.wait_for_function("document.getElementById('views').textContent === '1'", timeout=10_000)
    stats = requests.get(f"{server.url}/api/analytics/stats/trailer", timeout=10).json()["data"]
    assert (stats["viewsTotal"], stats["uniqueViewersToday"]) == (1, 1)
    totals = requests.get(f"{server.url}/api/analytics/totals", timeout=10).json()["data"]
    assert totals["filteredToday"]["duplicate"] == 1
    page.close()


def test_the_badge_shows_on_a_plain_page_of_another_site(browser, server, other_site):
    view(server, "trailer", 2)
    folder, address = other_site
    (folder / "badge.html").write_text(f"""<!doctype html>
<html><body><img id="badge" src="{server.url}/api/analytics/counter/trailer.svg" alt="views"></body></html>""")
    page = new_page(browser)
    page.goto(f"{address}/badge.html")
    page.wait_for_function("document.getElementById('badge').complete", timeout=10_000)
    assert page.evaluate("document.getElementById('badge').naturalWidth") > 40  # drawn, as wide as "2 views"
    assert page.evaluate("document.getElementById('badge').naturalHeight") == 20
    assert total_views(server) == 2  # showing the count counted nothing
    page.close()


def test_the_browser_passes_for_desktop_chrome(browser, server):
    page = new_page(browser)
    response = page.goto(f"{server.url}/dashboard")
    agent = response.request.all_headers()["user-agent"]
    assert agent == page.evaluate("navigator.userAgent") == desktop_user_agent(browser.version)
    assert "Headless" not in agent and f"Chrome/{browser.version.split('.')[0]}." in agent
    page.close()


def test_a_missing_page_is_a_friendly_page_in_the_browser(browser, server, tmp_path):
    page = new_page(browser)
    response = page.goto(f"{server.url}/no/such/page")
    assert response.status == 404
    assert page.title() == "404 · Viewtally"
    assert page.locator("h1").inner_text() == "404"
    assert "Nothing is at GET /no/such/page" in page.locator("main").inner_text()
    assert page.locator("link[rel=stylesheet]").count() == 1
    background = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
    assert background == "rgb(29, 36, 48)"  # the stylesheet was served and applied
    page.screenshot(path=str(tmp_path / "not-found.png"))
    page.close()


def register(server, video_id: str, title: str) -> None:
    response = requests.post(f"{server.url}/api/videos", json={"id": video_id, "title": title},
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert response.status_code == 201, response.text


def view(server, video_id: str, times: int) -> None:
    """Count `times` views, each from a viewer of its own in a desktop browser (the filters stay on)."""
    for _ in range(times):
        headers = {"User-Agent": BROWSER_UA, "X-Viewtally-Session": f"viewer-{time.monotonic_ns()}"}
        response = requests.post(f"{server.url}/api/analytics/view/{video_id}", headers=headers, timeout=10)
        assert response.json()["data"]["counted"] is True


def test_the_dashboard_reads_sorts_searches_and_refreshes(browser, server):
    register(server, "behind", "Behind the scenes")
    view(server, "trailer", 3)
    view(server, "behind", 5)
    page = new_page(browser)
    page.goto(server.url)  # / leads to the dashboard
    assert page.url == f"{server.url}/dashboard"
    assert page.locator("[data-total=viewsToday]").inner_text() == "8"
    assert page.locator("svg rect.views").count() == page.locator("svg rect.uniques").count() == 30
    rows = lambda: page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.videoId)")  # noqa: E731
    assert rows() == ["behind", "trailer"]

    view(server, "trailer", 4)  # trailer now leads today, and the page has not reloaded yet
    page.get_by_role("link", name="Today").click()
    page.wait_for_url("**sort=views_today*")  # the click only starts the navigation
    assert rows() == ["trailer", "behind"]
    assert page.locator("tr[data-video-id=trailer] [data-count=viewsToday]").inner_text() == "7"

    page.get_by_role("searchbox").fill("SCENES")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**q=SCENES*")
    assert rows() == ["behind"]
    assert "q=SCENES" in page.url and "sort=views_today" in page.url

    view(server, "behind", 1)  # the script refreshes the numbers in place every 30 s
    page.evaluate("window.viewtallyDashboard.refresh()")
    # expect() polls from outside: wait_for_function would eval a string, which the page's CSP refuses.
    expect(page.locator("[data-total=viewsToday]")).to_have_text("13", timeout=10_000)
    assert page.locator("[data-change-of=viewsToday]").inner_text() == "+13 vs yesterday by this time (0)"
    assert page.locator("tr[data-video-id=behind] [data-count=viewsToday]").inner_text() == "6"
    page.get_by_role("link", name="Behind the scenes").click()
    page.wait_for_url("**/dashboard/videos/behind")
    assert page.locator("h1").inner_text() == "Behind the scenes"
    assert page.locator("[data-count=viewsTotal]").inner_text() == "6"
    page.close()


def test_the_dashboard_works_without_javascript_on_a_dark_phone(browser, server):
    register(server, "a-video-with-a-rather-long-identifier-for-a-narrow-screen", "Long id")
    view(server, "trailer", 2)
    context = new_context(browser, java_script_enabled=False, color_scheme="dark",
                          viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{server.url}/dashboard")
    assert page.locator("[data-total=viewsToday]").inner_text() == "2"
    assert page.locator("tbody tr").count() == 2
    assert page.locator("svg rect.views").count() == page.locator("svg rect.uniques").count() == 30
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(20, 24, 31)"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing runs off the side
    page.get_by_role("link", name="Today").click()  # sorting is a plain link
    page.wait_for_url("**sort=views_today*")
    assert "sort=views_today" in page.url
    page.get_by_label("Period", exact=True).select_option("yesterday")  # so is the period picker: a GET form
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=yesterday")
    assert page.locator("[data-period=views]").inner_text() == "0"
    assert "No video was viewed in this period." in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_a_period_picked_on_the_dashboard_changes_every_number(browser, server, tmp_path):
    register(server, "behind", "Behind the scenes")
    view(server, "trailer", 3)
    view(server, "behind", 5)
    earlier = (datetime.now(timezone.utc) - timedelta(days=3)).date().isoformat()  # the server's zone is UTC
    with sqlite3.connect(tmp_path / "browser.db") as connection:  # three days ago, as counting leaves it
        connection.executemany("INSERT INTO daily_views (video_id, day, views, unique_viewers) VALUES (?, ?, ?, ?)",
                               [("trailer", earlier, 20, 4), ("behind", earlier, 2, 2)])
        connection.execute("INSERT INTO daily_summary (day, views, unique_viewers, duplicate, bot) "
                           "VALUES (?, 22, 5, 1, 3)", (earlier,))
    page = new_page(browser)
    page.goto(f"{server.url}/dashboard")
    rows = lambda: page.locator("tbody tr").evaluate_all(  # noqa: E731
        "rows => rows.map(r => [r.dataset.videoId, r.querySelector('td.num').textContent])")
    texts = lambda selector: page.locator(selector).all_inner_texts()  # noqa: E731
    assert texts("[data-total=viewsToday], [data-total=uniqueViewersToday]") == ["8", "8"]
    assert [row[0] for row in rows()] == ["behind", "trailer"]

    page.get_by_label("Period", exact=True).select_option("last-7-days")
    page.get_by_role("button", name="Show").press("Enter")  # from the keyboard
    page.wait_for_url("**/dashboard?period=last-7-days")
    assert texts("[data-period=views], [data-period=viewerDays], [data-period=videos]") == ["30", "13", "2"]
    assert texts("[data-period-filtered=bot], [data-period-filtered=duplicate]") == ["3", "1"]
    assert rows() == [["trailer", "23"], ["behind", "7"]]
    bars = page.locator("rect.views").evaluate_all("bars => bars.map(b => [b.dataset.date, b.dataset.views])")
    assert len(bars) == 7 and [earlier, "22"] in bars and bars[-1][1] == "8"
    assert page.get_by_label("Period", exact=True).input_value() == "last-7-days"

    page.get_by_label("From", exact=True).fill(earlier)  # typing dates picks the custom range (dashboard.js)
    page.get_by_label("To", exact=True).fill(earlier)
    assert page.get_by_label("Period", exact=True).input_value() == "custom"
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/dashboard?from={earlier}&to={earlier}")
    assert texts("[data-period=views], [data-period=uniqueViewers], [data-period=videos]") == ["22", "5", "2"]
    assert rows() == [["trailer", "20"], ["behind", "2"]]
    assert page.locator("rect.views").evaluate_all("bars => bars.map(b => b.dataset.views)") == ["22"]

    page.reload()  # the address keeps the period
    assert page.locator("[data-period=views]").inner_text() == "22"
    page.get_by_label("Period", exact=True).select_option("")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"{server.url}/dashboard")
    assert page.locator("[data-total=viewsToday]").inner_text() == "8"
    page.close()


def total_views(server, video_id: str = "trailer") -> int:
    return requests.get(f"{server.url}/api/analytics/stats/{video_id}", timeout=10).json()["data"]["viewsTotal"]


def wait_for_total(server, expected: int, video_id: str = "trailer", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while total_views(server, video_id) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert total_views(server, video_id) == expected


# A "video" the browser can really play without a media file: a canvas streamed into it.
CANVAS_STREAM = """
  for (const video of document.querySelectorAll("video.canvas")) {
    const canvas = Object.assign(document.createElement("canvas"), {width: 64, height: 36});
    const pen = canvas.getContext("2d");
    (function draw(t) { pen.fillStyle = `hsl(${t / 10 % 360} 60% 50%)`; pen.fillRect(0, 0, 64, 36);
                        requestAnimationFrame(draw); })(0);
    video.srcObject = canvas.captureStream(30);
  }
"""


def test_the_snippet_counts_one_view_per_video_per_page_load(browser, server, other_site):
    register(server, "teaser", "Teaser")
    folder, address = other_site
    (folder / "player.html").write_text(f"""<!doctype html><html><body>
  <video id="a" class="canvas" data-viewtally-id="trailer" muted></video>
  <video id="b" class="canvas" data-viewtally-id="teaser" data-viewtally-min-seconds="1.5" muted></video>
  <script>{CANVAS_STREAM}</script>
  <script src="{server.url}/static/track.js" defer></script>
</body></html>""")
    context = new_context(browser)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{address}/player.html")
    page.wait_for_function("window.viewtally !== undefined")

    page.evaluate("document.getElementById('a').play()")
    wait_for_total(server, 1)
    page.evaluate("v => { v.pause(); return v.play(); }", page.locator("#a").element_handle())
    page.evaluate("document.getElementById('a').dispatchEvent(new Event('play'))")
    time.sleep(0.5)
    assert total_views(server) == 1  # one view per element per page load

    page.evaluate("document.getElementById('b').play()")
    time.sleep(0.6)
    assert total_views(server, "teaser") == 0  # not yet watched for 1.5 s
    wait_for_total(server, 1, "teaser")

    page.reload()  # a reload sends the view again, and the server knows it for a repeat
    page.wait_for_function("window.viewtally !== undefined")
    page.evaluate("document.getElementById('a').play()")
    page.evaluate("viewtally.track('teaser')")  # for custom players
    time.sleep(0.5)
    assert (total_views(server), total_views(server, "teaser")) == (1, 1)
    page.evaluate("viewtally.track('teaser', 'member-7')")  # a site that names its viewers
    wait_for_total(server, 2, "teaser")
    (folder / "member.html").write_text(f"""<!doctype html><html><body>
  <video class="canvas" data-viewtally-id="trailer" data-viewtally-session="member-9" muted></video>
  <script>{CANVAS_STREAM}</script>
  <script src="{server.url}/static/track.js" defer></script>
</body></html>""")
    page.goto(f"{address}/member.html")  # same browser, another viewer by the site's own id
    page.wait_for_function("window.viewtally !== undefined")
    page.evaluate("document.querySelector('video').play()")
    wait_for_total(server, 2)
    assert errors == []
    assert context.cookies() == []
    context.close()


def test_videos_added_later_are_counted_and_a_page_without_videos_has_no_errors(browser, server, other_site):
    folder, address = other_site
    (folder / "empty.html").write_text(f"""<!doctype html><html><head><link rel="icon" href="data:,"></head><body><p id="viewtally">No video here.</p>
  <script src="{server.url}/static/track.js"></script></body></html>""")
    page = new_page(browser)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(f"{address}/empty.html")
    page.wait_for_function("window.viewtally !== undefined")
    page.evaluate("""() => {
        const video = Object.assign(document.createElement("video"), {className: "canvas", muted: true});
        video.setAttribute("data-viewtally-id", "trailer");
        document.body.append(video);
    }""")
    page.evaluate(CANVAS_STREAM)
    page.evaluate("new Promise(r => setTimeout(r, 50)).then(() => document.querySelector('video').play())")
    wait_for_total(server, 1)
    assert problems == []
    page.close()


def test_a_page_on_another_origin_may_post_json_after_a_preflight(browser, server, other_site):
    folder, address = other_site
    (folder / "json.html").write_text("<!doctype html><p>JSON</p>")
    page = new_page(browser)
    page.goto(f"{address}/json.html")
    status = page.evaluate(f"""fetch("{server.url}/api/analytics/view/trailer", {{
        method: "POST", headers: {{"Content-Type": "application/json"}}, body: "{{}}"}}).then(r => r.status)""")
    assert status == 200
    assert total_views(server) == 1
    page.close()


def test_the_demo_page_counts_a_play_and_shows_the_new_count(browser, server):
    view(server, "trailer", 2)
    page = new_page(browser)
    page.goto(f"{server.url}/demo")
    assert page.locator("#views-total").inner_text() == "2"
    page.locator("#player").evaluate("video => video.play()")
    wait_for_total(server, 3)
    expect(page.locator("#views-total")).to_have_text("3", timeout=10_000)
    for _ in range(3):  # reloading and playing again does not inflate the count
        page.reload()
        page.locator("#player").evaluate("video => video.play()")
        page.wait_for_timeout(300)
    assert total_views(server) == 3
    assert page.locator("#views-total").inner_text() == "3"
    page.close()


def test_an_admin_logs_in_resets_today_through_the_confirmation_and_the_dashboard_shows_0(browser, server):
    view(server, "trailer", 4)
    page = new_page(browser)
    page.goto(f"{server.url}/admin")
    assert page.url.startswith(f"{server.url}/admin/login")
    page.get_by_label("Admin token").fill("not the token")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "That is not the admin token."
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    assert page.url == f"{server.url}/admin"
    assert "Videos 1" in " ".join(page.locator("table.status").inner_text().split())

    page.get_by_role("link", name="Reset today's counters…").click()
    assert page.locator("h1").inner_text() == "Reset today's counters?"
    page.get_by_role("button", name="Yes, reset today's counters").click()
    assert page.get_by_role("status").first.inner_text() == "Reset daily views for 1 video."

    page.get_by_role("link", name="Dashboard").first.click()
    assert page.locator("[data-total=viewsToday]").inner_text() == "0"
    assert page.locator("[data-total=viewsTotal]").inner_text() == "4"
    assert total_views(server) == 4

    page.goto(f"{server.url}/admin")
    page.get_by_role("textbox", name="Id").fill("launch")
    page.get_by_role("textbox", name="Title").fill("Launch day")
    page.get_by_role("button", name="Add").click()
    assert page.get_by_role("status").first.inner_text() == "Added “Launch day” (launch): its page has the snippet to embed."
    page.set_viewport_size({"width": 375, "height": 740})  # on a phone: every value shows, nothing sticks out
    assert page.locator("table.status td").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_role("button", name="Log out").click()
    assert page.url == f"{server.url}/admin/login"
    page.close()


def test_an_admin_downloads_the_views_per_day_from_the_admin_page(browser, server):
    view(server, "trailer", 2)
    context = new_context(browser, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{server.url}/admin/login")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    first, last = page.get_by_label("From").input_value(), page.get_by_label("To", exact=True).input_value()
    page.get_by_label("Format").select_option("json")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download").click()
    download = downloading.value
    assert download.suggested_filename == f"viewtally-{first}-to-{last}.json"
    with open(download.path(), encoding="utf-8") as file:
        rows = json.load(file)["data"]
    assert [(row["videoId"], row["views"], row["uniqueViewers"]) for row in rows] == [("trailer", 2, 2)]
    assert first <= rows[0]["date"] <= last  # today, or yesterday should midnight have passed meanwhile
    assert page.url == f"{server.url}/admin"  # a download leaves the page where it was
    context.close()


def test_a_new_user_adds_a_video_embeds_the_snippet_plays_it_and_sees_the_view(browser, server, other_site):
    """The whole first hour: admin page, the video page's snippet in a local page, the dashboard."""
    page = new_page(browser)
    page.goto(f"{server.url}/admin/login")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("textbox", name="Id").fill("my-first-video")
    page.get_by_role("textbox", name="Title").fill("My first video")
    page.get_by_role("button", name="Add").click()

    page.goto(f"{server.url}/dashboard")
    page.get_by_role("link", name="My first video").click()
    snippet = page.locator("#snippet-script").inner_text()
    assert f'src="{server.url}/static/track.js"' in snippet and 'data-viewtally-id="my-first-video"' in snippet

    folder, address = other_site
    player = snippet.replace('src="YOUR-VIDEO.mp4" ', 'class="canvas" muted ')
    (folder / "index.html").write_text(f"<!doctype html><html><body>{player}<script>{CANVAS_STREAM}</script></body></html>")
    site = new_page(browser)
    site.goto(f"{address}/index.html")
    site.wait_for_function("window.viewtally !== undefined")
    site.locator("video").evaluate("video => video.play()")
    wait_for_total(server, 1, "my-first-video")
    site.close()

    page.goto(f"{server.url}/dashboard")
    assert page.locator("tr[data-video-id=my-first-video] [data-count=viewsToday]").inner_text() == "1"
    page.close()


def test_without_send_beacon_the_snippet_falls_back_to_fetch(browser, server, other_site):
    folder, address = other_site
    (folder / "old.html").write_text(f"""<!doctype html><html><head><link rel="icon" href="data:,"></head><body>
  <video class="canvas" data-viewtally-id="trailer" muted></video><script>{CANVAS_STREAM}</script>
  <script src="{server.url}/static/track.js"></script></body></html>""")
    context = new_context(browser)
    context.add_init_script("delete Navigator.prototype.sendBeacon")
    page = context.new_page()
    page.goto(f"{address}/old.html")
    assert page.evaluate("typeof navigator.sendBeacon") == "undefined"
    page.locator("video").evaluate("video => video.play()")
    wait_for_total(server, 1)
    context.close()


@pytest.fixture(scope="module")
def axe():
    """Give the path of axe-core's script, which make test installs from npm."""
    if not AXE.exists():
        if never_skip():
            pytest.fail(f"axe-core is not at {AXE}: make test installs it with `npm ci` from package-lock.json, "
                        "which needs npm (see make's output); in CI an accessibility test never skips")
        pytest.skip("axe-core is not installed (make test installs it with npm ci; it needs npm)")
    return AXE


def axe_violations(page, axe) -> list[str]:
    """Run axe-core's WCAG 2.1 A and AA rules on the page; return a paragraph per violation."""
    # Evaluated by the browser's devtools protocol, which the page's CSP does not govern; a <script>
    # tag added with inline content would be refused under script-src 'self'.
    page.evaluate(f"() => {{ {axe.read_text()}\n; return typeof axe; }}")
    violations = page.evaluate("""tags => axe.run(document, {runOnly: {type: "tag", values: tags}})
        .then(results => results.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
            nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))})))""", WCAG_AA)
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} <{v['url']}>"
        + "".join(f"\n    {node['target']}: {' '.join(node['summary'].split())}" for node in v["nodes"])
        for v in violations
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_in_light_and_dark(browser, server, axe, scheme):
    """Dashboard (live and in periods), video page, demo, login (with its error), admin (with a message) and the rest."""
    register(server, "behind", "Behind the scenes")
    view(server, "trailer", 3)
    view(server, "behind", 5)
    watched = {"view": "a" * 32, "seconds": 50, "position": 60, "duration": 120}  # the video page draws its curve
    requests.post(f"{server.url}/api/analytics/view/trailer", data={"view": watched["view"]},
                  headers={"User-Agent": BROWSER_UA, "Origin": "https://blog.example.com"}, timeout=10)
    assert requests.post(f"{server.url}/api/analytics/watch/trailer", json=watched,
                         timeout=10).json()["data"]["counted"] is True
    context = new_context(browser, color_scheme=scheme)
    page = context.new_page()
    found = []
    for path in ["/dashboard", "/dashboard?sort=views_today&q=e", "/dashboard?period=last-7-days",
                 "/dashboard?period=last-12-months&q=e", "/dashboard?period=yesterday", "/dashboard/videos/trailer",
                 "/demo", "/admin/login"]:
        page.goto(f"{server.url}{path}")
        found += axe_violations(page, axe)
    page.get_by_label("Admin token").fill("not the token")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").is_visible()
    found += axe_violations(page, axe)
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("textbox", name="Id").fill("launch")
    page.get_by_role("textbox", name="Title").fill("Launch day")
    page.get_by_role("button", name="Add").click()
    page.get_by_role("status").first.wait_for(state="visible")  # the add's redirect has landed
    assert page.url == f"{server.url}/admin"
    found += axe_violations(page, axe)
    confirmations_and_errors = ["/admin/reset/daily", "/admin/logout", "/no/such/page", "/dashboard?period=week"]
    for path in confirmations_and_errors:
        page.goto(f"{server.url}{path}")
        found += axe_violations(page, axe)
    context.close()
    assert not found, f"axe-core finds {len(found)} violations in the {scheme} scheme:\n" + "\n".join(found)


def watch_stats(server, video_id: str = "trailer") -> dict:
    return requests.get(f"{server.url}/api/analytics/stats/{video_id}", timeout=10).json()["data"]


def wait_for_watch(server, low: float, high: float, video_id: str = "trailer", timeout: float = 15.0) -> dict:
    """Wait until the video's watch time today is within [low, high] seconds; return the stats."""
    deadline = time.monotonic() + timeout
    while not low <= (stats := watch_stats(server, video_id))["watchSecondsToday"] <= high:
        assert time.monotonic() < deadline, f"watch time {stats['watchSecondsToday']} s, not {low}–{high} s"
        time.sleep(0.1)
    return stats


def open_player(browser, server, other_site, name: str):
    """Open a page on another site with the demo's 20-second video, muted, and the snippet; return it."""
    folder, address = other_site
    (folder / name).write_text(f"""<!doctype html><html><head><link rel="icon" href="data:,"></head><body>
  <video id="v" src="{server.url}/static/demo.webm" muted preload="auto" data-viewtally-id="trailer"></video>
  <script src="{server.url}/static/track.js"></script></body></html>""")
    page = new_page(browser)
    page.goto(f"{address}/{name}")
    return page


def play_until(page, seconds: float) -> None:
    """Play at four times the speed (each timeupdate still within the snippet's 2 s step) to `seconds`, then pause."""
    page.evaluate("() => { const v = document.getElementById('v'); v.playbackRate = 4; return v.play(); }")
    page.wait_for_function(f"document.getElementById('v').currentTime >= {seconds}", timeout=15_000)
    page.evaluate("document.getElementById('v').pause()")


def test_a_video_played_to_the_end_reports_its_watch_time_and_completion(browser, server, other_site):
    page = open_player(browser, server, other_site, "ended.html")
    page.evaluate("() => { const v = document.getElementById('v'); v.playbackRate = 4; return v.play(); }")
    page.wait_for_function("document.getElementById('v').ended", timeout=20_000)
    stats = wait_for_watch(server, 18, 20.5)  # the page is still open: the end alone reported it
    assert (stats["viewsTotal"], stats["completionsToday"]) == (1, 1)
    page.close()


def test_a_hidden_page_reports_what_was_played_and_hiding_twice_counts_once(browser, server, other_site):
    page = open_player(browser, server, other_site, "hidden.html")
    play_until(page, 6)
    page.evaluate("""() => { Object.defineProperty(document, "hidden", {value: true, configurable: true});
                             document.dispatchEvent(new Event("visibilitychange")); }""")
    first = wait_for_watch(server, 5, 8)["watchSecondsToday"]
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # hidden again, nothing more played
    time.sleep(0.5)
    assert watch_stats(server)["watchSecondsToday"] == first
    page.evaluate("""() => { const v = document.getElementById('v'); v.currentTime = 16; }""")  # skip ahead
    page.wait_for_function("!document.getElementById('v').seeking", timeout=10_000)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    time.sleep(0.5)
    assert watch_stats(server)["watchSecondsToday"] == first  # a seek plays nothing
    assert watch_stats(server)["completionsToday"] == 0
    page.close()


def test_the_demo_played_halfway_and_left_shows_about_half_watched_on_its_page(browser, server):
    """As a new user would: the demo page, half the video, then away to the video's page."""
    page = new_page(browser)
    page.goto(f"{server.url}/demo")
    page.locator("#player").evaluate("v => { v.muted = true; v.playbackRate = 4; return v.play(); }")
    deadline = time.monotonic() + 15  # polled from here: wait_for_function evaluates a string, which CSP refuses
    while page.locator("#player").evaluate("v => v.currentTime") < 10:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    page.locator("#player").evaluate("v => v.pause()")
    page.goto(f"{server.url}/dashboard/videos/trailer")  # leaving the demo: pagehide sends the report
    wait_for_watch(server, 9, 12)
    page.reload()
    assert page.locator("[data-watch=reports]").inner_text() == "1"
    share = int(page.locator("[data-watch=share]").inner_text().rstrip("%"))
    assert 45 <= share <= 60, share
    assert page.locator("[data-watch=completion]").inner_text() == "0%"
    curve = page.locator("figure.retention circle").evaluate_all("points => points.map(p => +p.dataset.reached)")
    assert curve[:10] == [1] * 10 and curve[-8:] == [0] * 8  # watched the first half, not the second
    assert page.locator("[data-origin=direct]").inner_text() == "0"
    assert page.locator(f"[data-origin='{server.url}']").inner_text() == "1"  # the demo is this server's own page
    page.close()


def test_an_embed_on_a_second_site_appears_under_where_it_is_watched(browser, server, other_site):
    page = open_player(browser, server, other_site, "embed.html")
    page.evaluate("document.getElementById('v').play()")
    wait_for_total(server, 1)
    page.goto(f"{server.url}/dashboard/videos/trailer")
    assert page.locator(f"[data-origin='{other_site[1]}']").inner_text() == "1"
    page.close()


def test_a_seek_to_the_end_is_no_completion_and_min_seconds_wait_for_play(browser, server, other_site):
    page = open_player(browser, server, other_site, "seek.html")
    play_until(page, 2)
    page.evaluate("() => { const v = document.getElementById('v'); v.play(); v.currentTime = v.duration; }")
    page.wait_for_function("document.getElementById('v').ended", timeout=10_000)
    stats = wait_for_watch(server, 1.5, 4)  # what was played before the seek, and no more
    assert stats["completionsToday"] == 0
    page.close()

    folder, address = other_site
    (folder / "wait.html").write_text(f"""<!doctype html><html><head><link rel="icon" href="data:,"></head><body>
  <video id="v" src="{server.url}/static/demo.webm" muted data-viewtally-id="behind"
         data-viewtally-min-seconds="0"></video>
  <script src="{server.url}/static/track.js"></script></body></html>""")
    register(server, "behind", "Behind the scenes")
    page = new_page(browser)
    page.goto(f"{address}/wait.html")
    page.evaluate("() => { const v = document.getElementById('v'); v.currentTime = 5; }")  # a seek is no play
    time.sleep(1)
    assert total_views(server, "behind") == 0
    page.evaluate("document.getElementById('v').play()")
    wait_for_total(server, 1, "behind")
    page.close()
