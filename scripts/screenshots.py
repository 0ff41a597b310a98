"""Write PNGs of the dashboard, a video page and the admin page, with demo data.

    make screenshots      (writes docs/screenshots/*.png)

Serves the app with gunicorn on a fresh instance folder, fills it with
`flask demo-data`, and photographs the pages in Debian's Chromium.
"""

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402

from served import Server  # noqa: E402
from user_agent import desktop_user_agent  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
TOKEN = "screenshot-admin-token-0123456789"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/demo.db", "ADMIN_TOKEN": TOKEN,
                    "SECRET_KEY": "screenshots", "SCHEDULER_ENABLED": "true", "RATELIMIT_ENABLED": "false"}
        env = {**os.environ, "VIEWTALLY_INSTANCE_PATH": str(folder / "instance"),
               **{f"FLASK_{key}": value for key, value in settings.items()}}
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "demo-data"], cwd=ROOT, env=env, check=True)
        server = Server(folder, settings, threads=4)
        try:
            with sync_playwright() as playwright:
                chromium = shutil.which("chromium") or "/usr/bin/chromium"
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                # As in the browser tests: not "HeadlessChrome", which the bot filter refuses to count.
                page = browser.new_page(viewport={"width": 1100, "height": 800},
                                        user_agent=desktop_user_agent(browser.version))
                shots = [("dashboard", "/dashboard"), ("video", "/dashboard/videos/launch-trailer?days=90")]
                for name, path in shots:
                    page.goto(server.url + path)
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                page.goto(server.url + "/admin/login")
                page.get_by_label("Admin token").fill(TOKEN)
                page.get_by_role("button", name="Log in").click()
                page.screenshot(path=str(OUT / "admin.png"), full_page=True)
                browser.close()
        finally:
            with contextlib.redirect_stdout(io.StringIO()):  # its log is for failing tests
                server.stop()
    for png in sorted(OUT.glob("*.png")):
        sys.stdout.write(f"wrote {png.relative_to(ROOT)} ({png.stat().st_size // 1024} KiB)\n")


if __name__ == "__main__":
    main()
