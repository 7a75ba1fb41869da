"""Plots of bench/peers/compare.py's JSON: images/s and p99 against concurrency, per server
(the median over repeats), the in-process limits as horizontal lines. Runs in build/bench-venv
(matplotlib is bench-only):

    build/bench-venv/bin/python bench/peers/plot.py build/bench/peers.json docs/img
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot(data: dict[str, Any], size: str, out: Path) -> Path:
    curves: dict[str, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in data["rows"]:
        if row["size"] == size:
            curves[row["target"]][row["c"]].append(row)
    fig, (rate_ax, p99_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for target, points in curves.items():
        cs = sorted(points)
        rates = [statistics.median(r["rate"] for r in points[c]) for c in cs]
        if target.startswith("in-process"):
            rate_ax.axhline(rates[0], linestyle="--", linewidth=1, label=target, color="grey"
                            if "one at a time" in target else "black")  # fmt: skip
            continue
        p99s = [statistics.median(r["p99"] for r in points[c]) for c in cs]
        rate_ax.plot(cs, rates, marker="o", label=target)
        p99_ax.plot(cs, p99s, marker="o", label=target)
    ticks = sorted({row["c"] for row in data["rows"] if not row["target"].startswith("in-")})
    for ax, label in ((rate_ax, "images/s"), (p99_ax, "p99 latency, ms")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    rate_ax.legend(fontsize=7)
    load = data.get("load_before", "")
    fig.suptitle(f"{size} JPEGs, {data['date']}, {data['machine']['cpu']} x"
                 f"{data['machine']['nproc']}, load before {load}", fontsize=9)  # fmt: skip
    fig.tight_layout()
    path = out / f"bench-{size}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    data = json.loads(source.read_text())
    for size in sorted({row["size"] for row in data["rows"]}):
        print(plot(data, size, out))


if __name__ == "__main__":
    main()
