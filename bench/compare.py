"""Compare two `make bench` runs written with --json: each route's figures in B as a ratio of A's.

    .venv/bin/python bench/compare.py before.json after.json

A ratio above 1 means B served more requests per second, or had a longer p50 or p99.
Either run may be SQLite with one worker or PostgreSQL with several (--db postgres);
memory is then summed over the workers, so compare it between runs of one kind.
Absolute figures move by tens of percent between runs; the ratios to bare Flask
(req/s ×, p99 ×) within each run move less, so they are shown too.
"""

import json
import sys
from pathlib import Path


def setup(run: dict) -> str:
    """Name the database and worker count of a run (runs from before --db were SQLite, one worker)."""
    workers = run.get("workers", 1)
    return f"{run.get('backend', 'SQLite')}, {workers} worker{'s' if workers > 1 else ''}"


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    a, b = (json.loads(Path(name).read_text()) for name in sys.argv[1:])
    for side, name, run in (("A", sys.argv[1], a), ("B", sys.argv[2], b)):
        print(f"{side}: {name} (commit {run['commit']}, {run['date']}; {setup(run)})")
    print()
    print(f"{'route':<46} {'req/s B/A':>9} {'p50 B/A':>8} {'p99 B/A':>8} {'req/s × A→B':>13} {'p99 × A→B':>12}")
    rows_a = {row["route"]: row for row in a["rows"]}
    for row in b["rows"]:
        old = rows_a.get(row["route"])
        if old is None:
            print(f"{row['route']:<46} (only in B)")
            continue
        print(f"{row['route']:<46} {row['rps'] / old['rps']:>9.2f} {row['p50_ms'] / old['p50_ms']:>8.2f} "
              f"{row['p99_ms'] / old['p99_ms']:>8.2f} {old['rps_ratio']:>6.2f}→{row['rps_ratio']:<6.2f}"
              f"{old['p99_ratio']:>6.1f}→{row['p99_ratio']:<5.1f}")
    for side, run in (("A", a), ("B", b)):
        memory = run["memory_mib"]
        growth = memory.get("growth")
        grew = f"; +{growth['after']['rss'] - growth['before']['rss']:.0f} MiB over {growth['views']:,} views" \
            if growth else ""
        workers = run.get("workers", 1)
        label = "worker RSS" if workers == 1 else f"RSS summed over {workers} workers"
        print(f"{side}: {label} {memory['before']['rss']:.0f} → {memory['after']['rss']:.0f} MiB, "
              f"peak {memory['after']['peak']:.0f} MiB{grew}; views stored "
              f"{'exactly' if run['views']['exact'] else 'MISMATCH'}")


if __name__ == "__main__":
    main()
