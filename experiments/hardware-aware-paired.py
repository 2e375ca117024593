"""Paired gains of hardware-aware checkpoints over the standard one, from a sweep's CSV.

Issue #12's measure: on the same chip instances (seeds), how much of the accuracy the
standard checkpoint loses against its own digital score does each other checkpoint win
back? For every model of a hardware-aware study's results CSV (one point, rows of scope
"all"), over the standard checkpoint's n lowest chip seeds for each n of --chips (chips
0..n-1 in the dev studies, 100..104 in the held-out selection):

    chip mean, loss = standard digital − standard chip mean,
    paired gain = mean over chips of (model − standard), its 95 % t interval,
    share = gain / loss, and how many chips are better / worse.

    python3 experiments/hardware-aware-paired.py experiments/results/hardware-aware-pcm-day.csv

Needs only the Python standard library.
"""
import argparse
import csv
import statistics

STANDARD = "../shared/models/minilm-sst2"

# Two-sided 95 % quantiles of Student's t by degrees of freedom (standard tables).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
       9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
       16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 24: 2.064, 29: 2.045}


def interval(values):
    """Mean and 95 % t interval half-width of `values` (points)."""
    mean = statistics.mean(values)
    df = len(values) - 1
    if df not in T95:
        raise SystemExit(f"no t quantile for {df} degrees of freedom; add it to T95")
    return mean, T95[df] * statistics.stdev(values) / len(values) ** 0.5


def read(path):
    """{model: {seed: (accuracy, digital)}} from the rows of scope "all"."""
    by_model = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("scope", "all") not in ("all", ""):
                continue
            seed = int(row["seed"])
            by_model.setdefault(row["model"], {})[seed] = (
                float(row["value"]), float(row["digital_value"]))
    if STANDARD not in by_model:
        raise SystemExit(f"{path}: no rows of the standard checkpoint {STANDARD}")
    return by_model


def report(by_model, n):
    standard = by_model[STANDARD]
    seeds = sorted(standard)[:n]
    if len(seeds) < n:
        return
    digital = standard[seeds[0]][1]
    loss = 100 * (digital - statistics.mean(standard[s][0] for s in seeds))
    print(f"chips {seeds[0]}–{seeds[-1]}: standard digital {digital:.4f}, "
          f"chip {statistics.mean(standard[s][0] for s in seeds):.4f}, loss {loss:.2f} points")
    for model, runs in by_model.items():
        if model == STANDARD or any(s not in runs for s in seeds):
            continue
        gains = [100 * (runs[s][0] - standard[s][0]) for s in seeds]
        gain, half = interval(gains)
        own_digital = runs[seeds[0]][1]
        print(f"  {model}: digital {own_digital:.4f} ({100 * (own_digital - digital):+.2f}), "
              f"chip {statistics.mean(runs[s][0] for s in seeds):.4f}, "
              f"gain {gain:+.2f} ({gain - half:+.2f} to {gain + half:+.2f}), "
              f"share {gain / loss:.0%}, better {sum(g > 0 for g in gains)} "
              f"/ worse {sum(g < 0 for g in gains)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="a hardware-aware study's results CSV")
    parser.add_argument("--chips", nargs="+", type=int, default=[5, 20],
                        help="report over the n lowest chip seeds for each n (default 5 20)")
    args = parser.parse_args()
    by_model = read(args.csv)
    for n in args.chips:
        if n < 2:
            raise SystemExit("--chips: at least 2 chips for an interval")
        report(by_model, n)


if __name__ == "__main__":
    main()
