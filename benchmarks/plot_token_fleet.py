"""Token requests vs fleet size, measured by ``bench_token_fleet.py``, plotted for the docs.

    .venv/bin/python benchmarks/plot_token_fleet.py            # measure, then plot
    .venv/bin/python benchmarks/plot_token_fleet.py --replot   # plot the saved figures again

Runs the fleet benchmark once per fleet size (processes x threads) and writes
the measured figures to ``docs/_static/token_requests.json``, then, from them,
the table of the benchmarks page (``token_requests.csv``) and its plot
(``token_requests.svg``), so the
page shows what was measured, never a number typed by hand. Needs Redis on
127.0.0.1:6379 (``BENCH_REDIS_URL`` picks the database) and matplotlib
(``pip install --group bench``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "docs" / "_static"
JSON_PATH = STATIC / "token_requests.json"
CSV_PATH = STATIC / "token_requests.csv"
SVG_PATH = STATIC / "token_requests.svg"

#: Fleet sizes measured: (processes, threads per process).
FLEETS = [(1, 4), (2, 8), (4, 8), (8, 8)]
COLUMNS = ["callers", "fleet", "client", "token requests", "cold start"]


def measure_fleet(processes: int, threads: int, lifetime: int, lifetimes: int) -> dict:
    """One run of ``bench_token_fleet.main()`` for this fleet size, read from its report.

    Returns ``{client label: (token requests over the run, token requests at cold start)}``.
    """
    import bench_token_fleet as bench

    bench.PROCESSES, bench.THREADS = processes, threads
    bench.REDIS_URL = os.environ.get("BENCH_REDIS_URL", bench.REDIS_URL)
    report = io.StringIO()
    argv = ["bench_token_fleet.py", "--lifetime", str(lifetime), "--lifetimes", str(lifetimes)]
    with contextlib.redirect_stdout(report), _argv(argv):
        bench.main()
    text = report.getvalue()
    print(text)
    several, _, cold = text.partition("cold start")
    return {
        label: (_token_requests(several, label), _token_requests(cold, label))
        for label in bench.CALLERS
    }


def _token_requests(section: str, label: str) -> int:
    match = re.search(rf"^{re.escape(label)}\s+(\d+)", section, flags=re.MULTILINE)
    if not match:
        sys.exit(f"no figure for {label!r} in the benchmark's report")
    return int(match.group(1))


@contextlib.contextmanager
def _argv(argv: list[str]):
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


def measure(lifetime: int, lifetimes: int) -> list[dict]:
    rows = []
    for processes, threads in FLEETS:
        figures = measure_fleet(processes, threads, lifetime, lifetimes)
        for label, (tokens, cold) in figures.items():
            rows.append(
                {
                    "callers": processes * threads,
                    "fleet": f"{processes} x {threads}",
                    "client": label,
                    "token requests": tokens,
                    "cold start": cold,
                }
            )
    return rows


def save(rows: list[dict], lifetime: int, lifetimes: int) -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    figures = {"lifetime": lifetime, "lifetimes": lifetimes, "rows": rows}
    JSON_PATH.write_text(json.dumps(figures, indent=1) + "\n")


def write_table(rows: list[dict]) -> None:
    with CSV_PATH.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict], caption: str) -> None:
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    # Same figures, same file: no random ids or dates in the SVG.
    matplotlib.rcParams["svg.hashsalt"] = "token-requests"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small and searchable
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label in dict.fromkeys(row["client"] for row in rows):
        mine = [row for row in rows if row["client"] == label]
        callers = [int(row["callers"]) for row in mine]
        ax.plot(callers, [int(row["token requests"]) for row in mine], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    callers = sorted({int(r["callers"]) for r in rows})
    ax.set_xticks(callers, [str(c) for c in callers])
    ax.set_xlabel("callers in the fleet (processes x threads)")
    ax.set_ylabel("token requests to the provider")
    ax.set_title(caption, fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(SVG_PATH, format="svg", metadata={"Date": None})
    plt.close(fig)


def render(figures: dict) -> None:
    """The page's table and plot, from the saved figures only."""
    write_table(figures["rows"])
    caption = (
        f"bench_token_fleet.py: token lifetime {figures['lifetime']}s, "
        f"{figures['lifetimes']} lifetimes"
    )
    plot(figures["rows"], caption)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifetime", type=int, default=4, help="token lifetime (s)")
    parser.add_argument("--lifetimes", type=int, default=3, help="lifetimes per run")
    parser.add_argument("--replot", action="store_true", help=f"plot {JSON_PATH.name} again")
    args = parser.parse_args()
    if not args.replot:
        save(measure(args.lifetime, args.lifetimes), args.lifetime, args.lifetimes)
    render(json.loads(JSON_PATH.read_text()))
    print(f"wrote {CSV_PATH.relative_to(ROOT)} and {SVG_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
