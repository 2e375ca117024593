#!/usr/bin/env python3
"""aihwkit vs crossbert side by side (standard library only).

Reads experiments/results/peers/aihwkit.csv (scripts/peers/aihwkit_glue.py) and the
crossbert sweep CSVs experiments/results/peers/crossbert-*.csv, and writes per
(setting, task, rows, read time): n, mean, sample std and 95 % Student-t interval of each
tool, the difference d = mean_crossbert - mean_aihwkit and its Welch 95 % interval
d ± t(0.975, ν)·sqrt(s1²/n1 + s2²/n2) (ν Welch–Satterthwaite). "inside" = 0 lies in that
interval, i.e. the crossbert mean lies inside mean_aihwkit ± t·sqrt(s1²/n1 + s2²/n2).

Usage (from /work/main):
  python3 experiments/peers/side_by_side.py            # markdown table on stdout
  python3 experiments/peers/side_by_side.py --csv      # machine-readable
  ... --with-extra   # add the aihwkit seeds 3, 4 of logs/check-aihwkit-extra-seeds.csv
"""

from __future__ import annotations

import csv
import glob
import math
import sys
from collections import defaultdict

RES = "experiments/results/peers"

# crossbert file -> setting name used by the aihwkit harness
# (label in the table, aihwkit setting it is compared with or None)
SETTING_OF = {
    "crossbert-ideal-8bit-sst2.csv": ("ideal-8bit", "ideal-8bit"),
    "crossbert-ideal-8bit-mrpc.csv": ("ideal-8bit", "ideal-8bit"),
    "crossbert-pcm-sst2.csv": ("pcm", "pcm"),
    "crossbert-pcm-mrpc.csv": ("pcm", "pcm"),
    "crossbert-reram-cmo-0p2-sst2.csv": ("reram-cmo-0p2", "reram-cmo-0p2"),
    "crossbert-reram-cmo-0p2-mrpc.csv": ("reram-cmo-0p2", "reram-cmo-0p2"),
    "crossbert-reram-cmo-0p2-tiled-sst2.csv": ("reram-cmo-0p2, per-array scales", "reram-cmo-0p2"),
    "crossbert-reram-cmo-0p2-tiled-mrpc.csv": ("reram-cmo-0p2, per-array scales", "reram-cmo-0p2"),
    "crossbert-pcm-sst2-nocomp.csv": ("pcm, no compensation (crossbert only)", None),
    "crossbert-ablation-ideal-8bit-adc-ideal-sst2.csv": ("ablation: ideal-8bit, ideal ADC", "ideal-8bit"),
    "crossbert-ablation-ideal-8bit-adc-ideal-mrpc.csv": ("ablation: ideal-8bit, ideal ADC", "ideal-8bit"),
    "crossbert-ablation-pcm-adc-ideal-sst2.csv": ("ablation: pcm, ideal ADC", "pcm"),
    "crossbert-ablation-pcm-adc-ideal-mrpc.csv": ("ablation: pcm, ideal ADC", "pcm"),
    "crossbert-ablation-reram-cmo-0p2-adc-ideal-sst2.csv": ("ablation: reram-cmo-0p2, ideal ADC", "reram-cmo-0p2"),
    "crossbert-ablation-reram-cmo-0p2-adc-ideal-mrpc.csv": ("ablation: reram-cmo-0p2, ideal ADC", "reram-cmo-0p2"),
    "crossbert-ablation-reram-cmo-0p2-nocomp-sst2.csv": ("ablation: reram-cmo-0p2, no compensation", "reram-cmo-0p2"),
    "crossbert-ablation-reram-cmo-0p2-tiled-span-sst2.csv": ("reram-cmo-0p2, per-array scales, ADC span", "reram-cmo-0p2"),
    "crossbert-ablation-reram-cmo-0p2-tiled-span-mrpc.csv": ("reram-cmo-0p2, per-array scales, ADC span", "reram-cmo-0p2"),
    "crossbert-ablation-reram-cmo-0p2-tiled-adc-ideal-mrpc.csv": ("ablation: reram-cmo-0p2, per-array scales, ideal ADC", "reram-cmo-0p2"),
}
FULL_ROWS = {"sst2": 872, "mrpc": 408}


def betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta (Numerical Recipes)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbt) * betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * betacf(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    p = 0.5 * betainc(df / 2, 0.5, df / (df + t * t))
    return 1 - p if t > 0 else p


def t975(df: float) -> float:
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < 0.975:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def stats(vals: list[float]):
    n = len(vals)
    mean = sum(vals) / n
    if n < 2:
        return n, mean, float("nan"), float("nan"), float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return n, mean, sd, mean - half, mean + half


def load(extra: bool = False):
    aih = defaultdict(list)
    files = [f"{RES}/aihwkit.csv"] + ([f"{RES}/logs/check-aihwkit-extra-seeds.csv"] if extra else [])
    for r in (r for f in files for r in csv.DictReader(open(f))):
        aih[(r["setting"], r["task"], int(r["rows"]), float(r["read_time_s"]))].append(float(r["value"]))
    cb = defaultdict(list)
    for path in sorted(glob.glob(f"{RES}/crossbert-*.csv")):
        name = path.split("/")[-1]
        if name not in SETTING_OF:
            continue
        for r in csv.DictReader(open(path)):
            rows = int(r["limit"]) if r["limit"] else FULL_ROWS[r["task"]]
            t = float(r.get("device.read_time_s") or 0.0)
            cb[(SETTING_OF[name][0], r["task"], rows, t)].append(float(r["value"]))
    peer = {label: a for label, a in SETTING_OF.values()}
    return aih, cb, peer


def main(argv):
    aih, cb, peer = load("--with-extra" in argv)
    out = []
    order = {label: i for i, (label, _) in enumerate(dict.fromkeys(SETTING_OF.values()))}
    for key in sorted(cb, key=lambda k: (order[k[0]], k[1], k[3])):
        setting, task, rows, t = key
        a_vals = aih.get((peer[setting], task, rows, t), []) if peer[setting] else []
        c = stats(cb[key])
        a = stats(a_vals) if a_vals else (0, float("nan"), float("nan"), float("nan"), float("nan"))
        row = dict(setting=setting, task=task, rows=rows, read_time_s=t,
                   a_n=a[0], a_mean=a[1], a_std=a[2], a_lo=a[3], a_hi=a[4],
                   c_n=c[0], c_mean=c[1], c_std=c[2], c_lo=c[3], c_hi=c[4])
        d = c[1] - a[1]
        row["diff"] = d
        if a[0] >= 2 and c[0] >= 2:
            v1, v2 = a[2] ** 2 / a[0], c[2] ** 2 / c[0]
            se = math.sqrt(v1 + v2)
            nu = (v1 + v2) ** 2 / (v1 ** 2 / (a[0] - 1) + v2 ** 2 / (c[0] - 1)) if se > 0 else float("inf")
            half = t975(nu) * se if se > 0 else 0.0
            row.update(welch_df=nu, diff_lo=d - half, diff_hi=d + half,
                       inside="yes" if d - half <= 0 <= d + half else "no")
        else:
            row.update(welch_df=float("nan"), diff_lo=float("nan"), diff_hi=float("nan"),
                       inside="n/a (n=1)" if a[0] else "no aihwkit run")
        if not a_vals:
            row["diff"] = float("nan")
        out.append(row)
    if "--csv" in argv:
        w = csv.DictWriter(sys.stdout, fieldnames=list(out[0]))
        w.writeheader()
        for r in out:
            w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
        return
    f = lambda x: "" if x != x else f"{x:.4f}"
    ci = lambda lo, hi: "" if lo != lo else f"[{lo:.4f}, {hi:.4f}]"
    print("| setting | task (rows) | read time s | aihwkit n | mean | std | 95 % t-interval "
          "| crossbert n | mean | std | 95 % t-interval | Δ = cb − aih [Welch 95 %] | cb inside? |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in out:
        dci = "" if r["diff_lo"] != r["diff_lo"] else f" [{r['diff_lo']:+.4f}, {r['diff_hi']:+.4f}]"
        dd = "" if r["diff"] != r["diff"] else f"{r['diff']:+.4f}"
        print(f"| {r['setting']} | {r['task']} ({r['rows']}) | {r['read_time_s']:g} | {r['a_n'] or ''} | {f(r['a_mean'])} "
              f"| {f(r['a_std'])} | {ci(r['a_lo'], r['a_hi'])} | {r['c_n']} | {f(r['c_mean'])} | {f(r['c_std'])} "
              f"| {ci(r['c_lo'], r['c_hi'])} | {dd}{dci} | {r['inside']} |")


if __name__ == "__main__":
    main(sys.argv[1:])
