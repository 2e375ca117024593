#!/usr/bin/env python3
"""Summarize the peer-simulator CSV written by aihwkit_glue.py.

Prints, per (setting, task, rows, read_time_s), the number of chip seeds n, the mean and
sample standard deviation of the task metric, and a two-sided 95 % Student-t interval
mean ± t(0.975, n-1)·std/√n. Rows of different sizes (e.g. MRPC --limit 200 vs full dev)
are kept apart.

Usage: python scripts/peers/summarize.py [experiments/results/peers/aihwkit.csv] [--csv]
Standard library only (uses scipy for the t quantile when it is installed).
"""

from __future__ import annotations

import csv
import math
import sys
from collections import defaultdict

# t(0.975, df) for df = 1..30, used when scipy is not installed.
_T975 = [
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
]


def t975(df: int) -> float:
    try:
        from scipy.stats import t

        return float(t.ppf(0.975, df))
    except ImportError:
        if df <= len(_T975):
            return _T975[df - 1]
        return 1.95996 + 2.37 / df  # close to the exact value for df > 30


def summarize(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[float]] = defaultdict(list)
    metric_of: dict[tuple, str] = {}
    for r in rows:
        key = (r["setting"], r["task"], int(r["rows"]), float(r["read_time_s"]))
        groups[key].append(float(r["value"]))
        metric_of[key] = r["metric"]
    out = []
    for key in sorted(groups):
        vals = groups[key]
        n = len(vals)
        mean = sum(vals) / n
        if n > 1:
            std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
            half = t975(n - 1) * std / math.sqrt(n)
            lo, hi = mean - half, mean + half
        else:
            std, lo, hi = float("nan"), float("nan"), float("nan")
        setting, task, nrows, t = key
        out.append(
            {
                "setting": setting,
                "task": task,
                "rows": nrows,
                "read_time_s": int(t) if t.is_integer() else t,
                "metric": metric_of[key],
                "n": n,
                "mean": mean,
                "std": std,
                "ci95_lo": lo,
                "ci95_hi": hi,
            }
        )
    return out


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    as_csv = "--csv" in argv
    path = args[0] if args else "experiments/results/peers/aihwkit.csv"
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = summarize(rows)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(table[0].keys()) if table else [])
        writer.writeheader()
        for r in table:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
        return 0
    head = f"{'setting':<15} {'task':<5} {'rows':>4} {'read_time_s':>11} {'metric':<8} " \
           f"{'n':>2} {'mean':>7} {'std':>7} {'95% t-interval':>19}"
    print(head)
    print("-" * len(head))
    for r in table:
        ci = "" if r["n"] < 2 else f"[{r['ci95_lo']:.4f}, {r['ci95_hi']:.4f}]"
        std = "" if r["n"] < 2 else f"{r['std']:.4f}"
        print(
            f"{r['setting']:<15} {r['task']:<5} {r['rows']:>4} {r['read_time_s']:>11} "
            f"{r['metric']:<8} {r['n']:>2} {r['mean']:>7.4f} {std:>7} {ci:>19}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
