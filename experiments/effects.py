"""Each device effect alone: the ablation behind the drift studies' findings.

For every hardware file in FOLDER (each switches one device effect on; `all.toml` is the
preset itself, `ideal-devices.toml` none), evaluates the first --limit SST-2 dev sentences
of minilm-sst2 on chip instance --seed at each --times read time and each --compensation,
and appends one CSV row per run to OUT (rows already there are skipped, so a killed run
continues where it stopped):

    python experiments/effects.py experiments/hardware/pcm-effects \\
        experiments/results/drift-pcm-effects.csv --compensation none global

Runs from the repository root with the `crossbert` Python package installed (pip install .)
and ../shared beside the clone.
"""
import argparse
import csv
import os
import time

import crossbert

COLUMNS = ["effect", "device.read_time_s", "mapping.drift_compensation", "seed", "rows",
           "accuracy", "digital_accuracy", "seconds"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="hardware files, one per effect")
    parser.add_argument("out", help="results CSV (appended to)")
    parser.add_argument("--times", nargs="+", type=float, default=[1.0, 31536000.0],
                        help="read times after programming, s (default: 1 s and 1 year)")
    parser.add_argument("--compensation", nargs="+", default=["none"],
                        help="mapping.drift_compensation values (default: none)")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="../shared/models/minilm-sst2")
    parser.add_argument("--data", default="../shared/glue")
    args = parser.parse_args()

    done = set()
    if os.path.exists(args.out):
        with open(args.out, newline="") as f:
            done = {(r["effect"], float(r["device.read_time_s"]), r["mapping.drift_compensation"])
                    for r in csv.DictReader(f)}
    new_file = not os.path.exists(args.out)
    effects = sorted(f[:-5] for f in os.listdir(args.folder) if f.endswith(".toml"))
    with open(args.out, "a", newline="") as f:
        writer = csv.writer(f)
        if new_file:
            writer.writerow(COLUMNS)
        for effect in effects:
            for t in args.times:
                for compensation in args.compensation:
                    if (effect, t, compensation) in done:
                        continue
                    chip = crossbert.hardware(os.path.join(args.folder, effect + ".toml"),
                                              **{"device.read_time_s": t,
                                                 "mapping.drift_compensation": compensation})
                    start = time.time()
                    r = crossbert.evaluate(args.model, "sst2", args.data, hardware=chip,
                                           seed=args.seed, limit=args.limit)
                    row = [effect, t, compensation, args.seed, r["rows"], r["value"],
                           r["digital_value"], round(time.time() - start, 1)]
                    writer.writerow(row)
                    f.flush()
                    print(*row, flush=True)


if __name__ == "__main__":
    main()
