"""Requests per second of the hot routes under wrk, against bare Flask served the same way.

    make bench            (or: .venv/bin/python bench/http_bench.py --seconds 10)

Both apps run under gunicorn with gunicorn.conf.py (one worker, eight
threads), on loopback, one after the other in the same run; Viewtally on a
fresh SQLite file with rate limits off and the honest-counts filters on (each
request a distinct viewer in a desktop browser). Each row prints requests per second,
mean latency and the ratio to the baseline route of the same method. Then
the run checks that the server counted every view wrk saw acknowledged,
and prints each worker's memory.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# Every request comes from a desktop browser and a viewer of its own, so the honest-counts
# filters run and every view counts (the baseline gets the same requests).
VIEWERS_SCRIPT = """
local n = 0
wrk.method = "%s"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
request = function()
  n = n + 1
  wrk.headers["X-Viewtally-Session"] = "%s-" .. n
  return wrk.format()
end
"""
VIDEO = "bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """One gunicorn on loopback, stopped on exit."""

    def __init__(self, app: str, folder: Path, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.port}",
             "--control-socket", str(folder / f"{self.port}.ctl")],
            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url, timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):  # not listening, or workers still booting
                time.sleep(0.1)
        self.stop()
        raise SystemExit(f"{app} did not start")

    def worker_rss_mib(self) -> float:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        status = Path(f"/proc/{children[0]}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


def wrk(url: str, method: str, seconds: int, connections: int, folder: Path) -> dict:
    script = folder / f"{method}.lua"
    script.write_text(VIEWERS_SCRIPT % (method, f"bench-{time.monotonic_ns()}"))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[latency.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "latency_ms": float(latency.group(1)) * scale,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make bench installs it with apt)")

    run = lambda url, method: wrk(url, method, options.seconds, options.connections, folder)  # noqa: E731
    rows = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        with Served("bench.baseline_app:create_app()", folder, {}) as baseline:
            base = {method: run(f"{baseline.url}/hello", method) for method in ("GET", "POST")}
            base_rss = baseline.worker_rss_mib()
        env = {
            "VIEWTALLY_INSTANCE_PATH": str(folder / "instance"),
            "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
            "FLASK_ADMIN_TOKEN": "bench-admin-token", "FLASK_SECRET_KEY": "bench", "FLASK_RATELIMIT_ENABLED": "false",
        }
        with Served("app:create_app()", folder, env) as served:
            requests.post(f"{served.url}/api/videos", json={"id": VIDEO, "title": "Benchmark"},
                          headers={"Authorization": "Bearer bench-admin-token"}, timeout=10).raise_for_status()
            api = f"{served.url}/api/analytics"
            routes = [("POST", f"/view/{VIDEO}"), ("GET", f"/pixel/{VIDEO}.gif"), ("GET", f"/stats/{VIDEO}"),
                      ("GET", f"/stats/{VIDEO}/daily?days=30")]
            for method, path in routes:
                rows.append((method, f"/api/analytics{path}", run(api + path, method)))
            counted = requests.get(f"{api}/stats/{VIDEO}", timeout=10).json()["data"]["viewsTotal"]
            rss = served.worker_rss_mib()

    print(f"wrk: 1 thread, {options.connections} connections, {options.seconds} s per route; "
          f"gunicorn 1 worker x 8 threads; {os.cpu_count()} CPUs\n")
    print(f"{'route':<48} {'req/s':>9} {'mean ms':>8} {'vs Flask':>9}")
    for method in ("GET", "POST"):
        print(f"{'baseline ' + method + ' /hello (bare Flask)':<48} {base[method]['rps']:>9.0f} "
              f"{base[method]['latency_ms']:>8.2f} {1:>9.2f}")
    for method, path, result in rows:
        ratio = result["rps"] / base[method]["rps"]
        note = f"  ({result['errors']} non-2xx)" if result["errors"] else ""
        print(f"{method + ' ' + path:<48} {result['rps']:>9.0f} {result['latency_ms']:>8.2f} {ratio:>9.2f}{note}")
    acknowledged = sum(r["requests"] - r["errors"] for m, p, r in rows if "/view/" in p or "/pixel/" in p)
    in_flight = 2 * options.connections  # requests the server may finish after wrk stops counting
    exact = acknowledged <= counted <= acknowledged + in_flight
    print(f"\nviews acknowledged to wrk: {acknowledged}; counted by the server: {counted} "
          f"({'exact' if exact else 'MISMATCH'}; up to {in_flight} may finish after wrk stops counting)")
    print(f"worker memory after the run: Viewtally {rss:.0f} MiB, bare Flask {base_rss:.0f} MiB")
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
