"""The multitask-frozen study's CSVs from what run.sh measured (standard library only).

    tables.py OUT PRESET TIDY_CSV FIGURE_CSV "KS" "TASKS"

TIDY_CSV: one row per (task, k, metric) with the 4-task chip's arrays and area on PRESET,
separate chips against one shared chip. FIGURE_CSV: each task's main metric per k in the
results layout `crossbert plot` reads, x = area saved by sharing.
"""

import csv
import json
import sys

X = "area saved on the 4-task chip (%)"
Y = "dev metric (SST-2 acc / MRPC F1 / STS-B Pearson / CoLA MCC)"


def main(out, preset, tidy, figure, ks, tasks):
    rows, main_rows = [], []
    for k in ks.split():
        with open(f"{out}/k{k}/map-{preset}.json") as f:
            chip = json.load(f)
        area = [
            chip["arrays_separate"],
            chip["arrays_shared_chip"],
            round(chip["area_mm2_separate"], 4),
            round(chip["area_mm2_shared_chip"], 4),
        ]
        saved = round(100 * chip["area_saved_fraction"], 3) + 0.0  # no -0.0
        for task in tasks.split():
            with open(f"{out}/k{k}/{task}/eval-dev.json") as f:
                e = json.load(f)
            for name, value in e["metrics"].items():
                rows.append([task, k, name, round(value, 6), *area, saved])
            main_rows.append(
                ["all-MiniLM-L6-v2", task, "dev", "", k, 0, e["metric"], saved,
                 round(e["value"], 6), ""]
            )
    with open(tidy, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["task", "k", "metric", "value", "arrays_separate", "arrays_shared",
                    "area_mm2_separate", "area_mm2_shared", "area_saved_pct"])
        w.writerows(rows)
    with open(figure, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["model", "task", "split", "limit", "k", "seed", "metric", X, Y,
                    "digital_value"])
        w.writerows(main_rows)


if __name__ == "__main__":
    main(*sys.argv[1:7])
