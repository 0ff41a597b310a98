"""Share of known bots the bot filter catches and of real browsers it loses, on corpora from packages.

    make bot-accuracy      (or: .venv/bin/python bench/bot_accuracy.py)

The filter matches with crawlerdetect and is-bot; it is measured only on
corpora from other packages, read as they ship:
- bots: the bot fixtures of Matomo's device-detector (PyPI device-detector)
  and the example user agents of crawler-user-agents (PyPI);
- browsers: the real-traffic sample of the npm package user-agents (intoli,
  weighted by share of traffic; installed into bench/corpora by `npm ci` when
  missing) and fake-useragent's (PyPI) older sample of the same source.
The filter runs as the app builds it by default, with an empty allow list;
nothing here feeds back into it. Goals: at least 95 % of each bot corpus
caught, at most 0.2 % of each browser corpus lost, weighted and unweighted.
The run exits 1 when one is missed.

Not a blind test for is-bot: upstream isbot also checks its patterns against
the Matomo and crawler-user-agents lists, so the share each list catches
alone is printed too.
"""

import json
import statistics
import subprocess
import sys
import time
from importlib.metadata import distribution
from pathlib import Path

import yaml_rs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.services.bots import CACHE_SIZE, BotFilter  # noqa: E402

CORPORA = ROOT / "bench" / "corpora"
BOTS_GOAL, LOST_GOAL = 95.0, 0.2
EXAMPLES = 5
NATIVE_FIXTURES = ("mediaplayer", "podcasting", "mobile_apps")


def package_file(name: str, path: str) -> tuple[str, Path]:
    """Return a Python package's version and one file it ships, without importing it."""
    dist = distribution(name)
    return f"{name} {dist.version}", Path(dist.locate_file(path))


def matomo(fixture: str) -> tuple[str, list[str]]:
    label, path = package_file("device-detector", f"device_detector/tests/fixtures/upstream/{fixture}.yml")
    return f"{label} {fixture}.yml", [entry["user_agent"] for entry in yaml_rs.loads(path.read_text())]


def crawler_examples() -> tuple[str, list[str]]:
    label, path = package_file("crawler-user-agents", "crawleruseragents/crawler-user-agents.json")
    entries = json.loads(path.read_text())
    return f"{label} instances", [ua for entry in entries for ua in entry.get("instances", [])]


def intoli() -> tuple[str, list[tuple[str, float]]]:
    """Return the npm user-agents sample, installing the pinned package first if it is missing."""
    wanted = json.loads((CORPORA / "package.json").read_text())["dependencies"]["user-agents"]
    installed = CORPORA / "node_modules" / "user-agents" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        print(f"Installing the npm corpus (user-agents {wanted}) into {CORPORA.relative_to(ROOT)}…", flush=True)
        try:
            subprocess.run(["npm", "ci", "--prefix", str(CORPORA), "--ignore-scripts", "--no-audit", "--no-fund"],
                           check=True, stdout=subprocess.DEVNULL)
        except (OSError, subprocess.CalledProcessError) as error:
            raise SystemExit(f"npm ci failed ({error}); the browser corpus needs node and npm") from error
    entries = json.loads((installed.parent / "dist" / "user-agents.json").read_text())
    return f"user-agents {wanted} (npm)", [(entry["userAgent"], entry["weight"]) for entry in entries]


def fake_useragent() -> tuple[str, list[tuple[str, float]]]:
    label, path = package_file("fake-useragent", "fake_useragent/data/browsers.jsonl")
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return label, [(entry["useragent"], entry["percent"]) for entry in entries]


def timed_verdicts(user_agents: list[str]) -> tuple[dict[str, bool], dict[str, float]]:
    """Judge each distinct user agent once with a fresh filter: every verdict is a cache miss."""
    bot_filter, verdicts, costs = BotFilter(), {}, {}
    for ua in user_agents:
        start = time.perf_counter()
        verdicts[ua] = bot_filter.is_bot(ua)
        costs[ua] = time.perf_counter() - start
    return verdicts, costs


def cached_cost(user_agents: list[str]) -> float:
    """Return seconds per verdict once every user agent is in the cache."""
    bot_filter = BotFilter()
    sample = user_agents[:CACHE_SIZE]
    for ua in sample:
        bot_filter.is_bot(ua)
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        for ua in sample:
            bot_filter.is_bot(ua)
    return (time.perf_counter() - start) / (rounds * len(sample))


def cold_start() -> tuple[float, float]:
    """Return a fresh process's milliseconds to import the module and to give its first verdict."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "from analytics.services.bots import BotFilter\n"
        "t1 = time.perf_counter(); BotFilter().is_bot('Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0')\n"
        "print((t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    imported, first = out.split()
    return float(imported), float(first)


def single_lists():
    """Return each list alone as a predicate, to show what combining adds."""
    from crawlerdetect import CrawlerDetect
    from is_bot import Bots

    return {"crawlerdetect": CrawlerDetect().is_crawler, "is-bot": Bots().is_bot}


def percent(part: float, whole: float) -> float:
    return 100 * part / whole if whole else 0.0


def main() -> int:
    bot_corpora = [matomo("bots"), crawler_examples()]
    browser_corpora = [intoli(), fake_useragent()]
    native_corpora = [matomo(name) for name in NATIVE_FIXTURES]
    browser_uas = list(dict.fromkeys(ua for _, entries in browser_corpora for ua, _ in entries))
    seen = set(browser_uas)
    bot_uas = [ua for ua in dict.fromkeys(ua for _, uas in bot_corpora for ua in uas) if ua not in seen]
    verdicts, costs = timed_verdicts(browser_uas + bot_uas)
    single = single_lists()
    met = True

    print(f"Bot filter: crawlerdetect {distribution('crawlerdetect').version} + is-bot {distribution('is-bot').version},"
          " allow list empty\n")
    print(f"Bots caught (goal >= {BOTS_GOAL:g} %)")
    for label, uas in bot_corpora:
        distinct = list(dict.fromkeys(uas))
        caught = percent(sum(verdicts[ua] for ua in distinct), len(distinct))
        alone = ", ".join(f"{name} alone {percent(sum(bool(is_bot(ua)) for ua in distinct), len(distinct)):.2f} %"
                          for name, is_bot in single.items())
        met &= caught >= BOTS_GOAL
        print(f"  {label:<45} {len(distinct):>5} distinct  {caught:6.2f} %   ({alone})")
    print("  (no blind test for is-bot: upstream isbot checks its patterns against both of these lists)")
    print(f"\nBrowsers lost (goal <= {LOST_GOAL:g} %)")
    for label, entries in browser_corpora:
        distinct = list(dict.fromkeys(ua for ua, _ in entries))
        weighted = percent(sum(w for ua, w in entries if verdicts[ua]), sum(w for _, w in entries))
        unweighted = percent(sum(verdicts[ua] for ua in distinct), len(distinct))
        met &= weighted <= LOST_GOAL and unweighted <= LOST_GOAL
        print(f"  {label:<26} {len(entries):>5} entries, {len(distinct):>4} distinct"
              f"  weighted {weighted:.3f} %  unweighted {unweighted:.3f} %")

    print("\nMissed bots (first few of each corpus)")
    for label, uas in bot_corpora:
        missed = [ua for ua in dict.fromkeys(uas) if not verdicts[ua]]
        print(f"  {label}: {len(missed)} missed")
        for ua in missed[:EXAMPLES]:
            print(f"    {ua[:110]}")
    lost = [ua for ua in browser_uas if verdicts[ua]]
    print(f"\nLost browsers: {len(lost)}")
    for ua in lost[:EXAMPLES]:
        print(f"    {ua[:110]}")

    print("\nNative apps and players the lists call bots (no goal: BOT_FILTER_ALLOW is for these)")
    bot_filter = BotFilter()
    for label, uas in native_corpora:
        distinct = list(dict.fromkeys(uas))
        flagged = [ua for ua in distinct if bot_filter.is_bot(ua)]
        print(f"  {label:<45} {len(flagged):>4} of {len(distinct):>4}")
        for ua in flagged[:3]:
            print(f"    {ua[:110]}")

    browser_costs = [costs[ua] * 1e6 for ua in browser_uas]
    bot_costs = [costs[ua] * 1e6 for ua in bot_uas]
    imported, first = cold_start()
    print("\nVerdict cost")
    print(f"  fresh process: import {imported:.1f} ms, first verdict (imports and compiles the lists) {first:.1f} ms")
    print(f"  uncached: browsers mean {statistics.mean(browser_costs):.0f} µs, median {statistics.median(browser_costs):.0f} µs"
          f" ({len(browser_costs)} UAs); bots mean {statistics.mean(bot_costs):.0f} µs,"
          f" median {statistics.median(bot_costs):.0f} µs ({len(bot_costs)} UAs)")
    print(f"  cached: {cached_cost(browser_uas) * 1e6:.2f} µs (cache bound {CACHE_SIZE} user agents)")
    print(f"\n{'Goals met.' if met else 'GOAL MISSED.'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
