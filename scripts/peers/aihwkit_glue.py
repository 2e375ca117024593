#!/usr/bin/env python3
"""Run a GLUE dev split through IBM aihwkit, as a peer simulator for crossbert.

The same Hugging Face BertForSequenceClassification checkpoint and GLUE TSV that crossbert
reads are evaluated here in float32 on the CPU. Every encoder Linear (query, key, value,
attention.output.dense, intermediate.dense, output.dense of each layer) is replaced by an
aihwkit AnalogLinear built from a named InferenceRPUConfig (see SETTINGS.md); the pooler and
the classifier stay digital, as in crossbert.

For each chip instance (seed) the weights are programmed once; then for each read time t
the drift/read path is sampled and the split is evaluated. One CSV row per
(setting, task, seed, read_time_s) is appended and flushed as soon as it is finished;
rows already in the CSV are skipped, so a killed run can simply be restarted.

Not used by CI. See README.md in this folder.
"""

from __future__ import annotations

import argparse
import copy
import csv
import math
import os
import sys
import time
from pathlib import Path

# Keep CPU use modest unless the caller asked for more.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

COLUMNS = [
    "tool",
    "setting",
    "model",
    "task",
    "split",
    "rows",
    "seed",
    "read_time_s",
    "metric",
    "value",
    "accuracy",
    "f1",
    "seconds",
    "aihwkit_version",
    "torch_version",
]

# Names of the encoder Linear modules that go analog (relative to one BertLayer).
ANALOG_LINEARS = [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
]

# Settings that have no drift/read-time axis: evaluated once, with read_time_s = 0.
TIMELESS = {"digital", "analog-perfect", "ideal-8bit"}
SETTINGS = ["digital", "analog-perfect", "ideal-8bit", "reram-cmo-0p2", "pcm"]


# --------------------------------------------------------------------------------------
# GLUE reading (tab-separated, no quote handling) and metrics
# --------------------------------------------------------------------------------------


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a GLUE TSV, split on tabs with no quote handling."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        table = list(reader)
    header = [h.lstrip("\ufeff") for h in table[0]]
    return header, table[1:]


def load_split(task: str, glue_dir: Path) -> list[tuple[str, str | None, int]]:
    """(text_a, text_b, label) of the dev split, in file order."""
    if task == "sst2":
        header, rows = read_tsv(glue_dir / "SST-2" / "dev.tsv")
        i_s, i_l = header.index("sentence"), header.index("label")
        out = []
        for n, r in enumerate(rows, start=2):
            if len(r) != len(header):
                raise SystemExit(f"SST-2/dev.tsv:{n}: {len(r)} columns, expected {len(header)}")
            out.append((r[i_s], None, int(r[i_l])))
        return out
    if task == "mrpc":
        header, rows = read_tsv(glue_dir / "MRPC" / "dev.tsv")
        i_l = header.index("Quality")
        i_a, i_b = header.index("#1 String"), header.index("#2 String")
        out = []
        for n, r in enumerate(rows, start=2):
            if len(r) != len(header):
                raise SystemExit(f"MRPC/dev.tsv:{n}: {len(r)} columns, expected {len(header)}")
            out.append((r[i_a], r[i_b], int(r[i_l])))
        return out
    raise SystemExit(f"unknown task {task!r}")


def metrics(pred: list[int], gold: list[int]) -> tuple[float, float]:
    """Accuracy and F1 of class 1."""
    n = len(gold)
    acc = sum(int(p == g) for p, g in zip(pred, gold)) / n
    tp = sum(int(p == 1 and g == 1) for p, g in zip(pred, gold))
    fp = sum(int(p == 1 and g == 0) for p, g in zip(pred, gold))
    fn = sum(int(p == 0 and g == 1) for p, g in zip(pred, gold))
    f1 = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    return acc, f1


# --------------------------------------------------------------------------------------
# aihwkit configurations (documented in SETTINGS.md)
# --------------------------------------------------------------------------------------


def rpu_config_for(setting: str):
    """InferenceRPUConfig for a named setting (None for the plain digital model)."""
    if setting == "digital":
        return None

    from aihwkit.inference import GlobalDriftCompensation, PCMLikeNoiseModel, ReRamCMONoiseModel
    from aihwkit.simulator.configs import InferenceRPUConfig
    from aihwkit.simulator.parameters.enums import (
        BoundManagementType,
        NoiseManagementType,
        WeightNoiseType,
    )

    cfg = InferenceRPUConfig()

    # Tiles: 512 x 512, weights scaled per output column to |w| <= 1 on the tile, the
    # scale factor re-applied digitally after the ADC; bias kept digital.
    cfg.mapping.max_input_size = 512
    cfg.mapping.max_output_size = 512
    cfg.mapping.weight_scaling_omega = 1.0
    cfg.mapping.weight_scaling_columnwise = True
    cfg.mapping.digital_bias = True
    cfg.mapping.learn_out_scaling = False
    cfg.mapping.out_scaling_columnwise = False

    if setting == "analog-perfect":
        # Plumbing check: analog tiles with a perfect forward (no DAC/ADC/noise/bounds).
        cfg.forward.is_perfect = True
        cfg.drift_compensation = None
        return cfg

    fwd = cfg.forward
    fwd.is_perfect = False
    # DAC: inputs (after abs-max scaling to [-1, 1]) rounded to steps of 1/127 (codes ±127).
    fwd.inp_bound = 1.0
    fwd.inp_res = 1.0 / (2**8 - 2)
    fwd.inp_sto_round = False
    fwd.inp_noise = 0.0
    # ADC: outputs rounded to steps of 2*out_bound/254 and clipped to ±out_bound.
    fwd.out_bound = 12.0
    fwd.out_res = 1.0 / (2**8 - 2)
    fwd.out_sto_round = False
    fwd.out_noise = 0.0
    fwd.out_noise_std = 0.0
    fwd.out_scale = 1.0
    # Weight (read) noise, IR drop and other analog non-idealities all off.
    fwd.w_noise = 0.0
    fwd.w_noise_type = WeightNoiseType.NONE
    fwd.ir_drop = 0.0
    fwd.out_nonlinearity = 0.0
    fwd.v_offset_std = 0.0
    fwd.r_series = 0.0
    fwd.inp_asymmetry = 0.0
    fwd.out_asymmetry = 0.0
    fwd.w_read_asymmetry_dtod = 0.0
    # Per-token abs-max input scaling; no iterative re-scaling when the ADC clips.
    fwd.noise_management = NoiseManagementType.ABS_MAX
    fwd.nm_thres = 0.0
    fwd.bound_management = BoundManagementType.NONE

    if setting == "ideal-8bit":
        cfg.drift_compensation = None
        return cfg
    if setting == "reram-cmo-0p2":
        # acceptance_range is looked up in coeff_dict, whose keys are percent (0.2, 2).
        cfg.noise_model = ReRamCMONoiseModel(acceptance_range=0.2)
        cfg.drift_compensation = GlobalDriftCompensation()
        return cfg
    if setting == "pcm":
        cfg.noise_model = PCMLikeNoiseModel()
        cfg.drift_compensation = GlobalDriftCompensation()
        return cfg
    raise SystemExit(f"unknown setting {setting!r}; known: {', '.join(SETTINGS)}")


def load_model(model_dir: Path):
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(
        str(model_dir), dtype=torch.float32, local_files_only=True
    )
    return model.eval()


def convert_encoder(model, rpu_config) -> list:
    """Replace the encoder Linears by AnalogLinear layers (in place); return them."""
    from aihwkit.nn import AnalogLinear

    analog = []
    for layer in model.bert.encoder.layer:
        for dotted in ANALOG_LINEARS:
            parent_name, _, leaf = dotted.rpartition(".")
            parent = layer.get_submodule(parent_name)
            digital = getattr(parent, leaf)
            new = AnalogLinear.from_digital(digital, copy.deepcopy(rpu_config))
            new.eval()
            setattr(parent, leaf, new)
            analog.append(new)
    return analog


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


def make_batches(tokenizer, examples, batch_size: int, max_len: int, sort: bool):
    """Tokenized batches with dynamic padding; returns (indices, encoding) pairs."""
    texts_a = [e[0] for e in examples]
    texts_b = [e[1] for e in examples]
    pair = texts_b[0] is not None
    single = tokenizer(
        texts_a,
        texts_b if pair else None,
        truncation="longest_first",
        max_length=max_len,
        padding=False,
    )
    lengths = [len(ids) for ids in single["input_ids"]]
    order = list(range(len(examples)))
    if sort:
        # Shorter padding only: every token is processed on its own by the tiles
        # (per-token input scaling), so grouping does not change any result.
        order.sort(key=lambda i: (lengths[i], i))
    batches = []
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        feats = [{k: single[k][i] for k in single.keys()} for i in idx]
        enc = tokenizer.pad(feats, padding=True, return_tensors="pt")
        batches.append((idx, enc))
    return batches


@torch.inference_mode()
def evaluate(model, batches, n: int) -> list[int]:
    pred = [0] * n
    for idx, enc in batches:
        logits = model(**enc).logits
        for i, p in zip(idx, logits.argmax(dim=-1).tolist()):
            pred[i] = p
    return pred


def fmt_time(read_time_s: float) -> str:
    """Read time as written to the CSV: an integer when it is one (31536000, not 3.15e+07)."""
    return str(int(read_time_s)) if float(read_time_s).is_integer() else repr(float(read_time_s))


def drift_seed(seed: int, read_time_s: float) -> int:
    """Seed of the drift/read-noise draw for one (chip, read time)."""
    return (1_000_003 * (seed + 1) + int(round(read_time_s))) % (2**63 - 1)


# --------------------------------------------------------------------------------------
# CSV bookkeeping
# --------------------------------------------------------------------------------------


def row_key(row: dict) -> tuple:
    return (
        row["tool"],
        row["setting"],
        row["model"],
        row["task"],
        row["split"],
        str(int(row["rows"])),
        str(int(row["seed"])),
        fmt_time(float(row["read_time_s"])),
    )


def done_keys(path: Path) -> set:
    if not path.exists() or path.stat().st_size == 0:
        return set()
    with open(path, newline="") as handle:
        return {row_key(r) for r in csv.DictReader(handle)}


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()
        os.fsync(handle.fileno())


def parse_list(text: str, kind):
    return [kind(x) for x in text.split(",") if x.strip() != ""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path, help="checkpoint directory")
    ap.add_argument("--task", required=True, choices=["sst2", "mrpc"])
    ap.add_argument("--glue", required=True, type=Path, help="GLUE data directory")
    ap.add_argument("--setting", required=True, choices=SETTINGS)
    ap.add_argument("--seeds", default="0", help="comma-separated chip seeds")
    ap.add_argument(
        "--times",
        default="1,3600,86400,31536000",
        help="comma-separated read times in s after programming (ignored by "
        + ", ".join(sorted(TIMELESS))
        + ", which write read_time_s=0)",
    )
    ap.add_argument("--limit", type=int, default=0, help="first N dev examples (0 = all)")
    ap.add_argument("--out", required=True, type=Path, help="CSV to append to")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument(
        "--no-sort", action="store_true", help="batch in file order instead of by length"
    )
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    import aihwkit
    from transformers import AutoTokenizer

    examples = load_split(args.task, args.glue)
    if args.limit and args.limit > 0:
        examples = examples[: args.limit]
    gold = [e[2] for e in examples]
    n = len(examples)
    seeds = parse_list(args.seeds, int)
    times = [0.0] if args.setting in TIMELESS else parse_list(args.times, float)

    base = {
        "tool": "aihwkit",
        "setting": args.setting,
        "model": args.model.resolve().name,
        "task": args.task,
        "split": "dev",
        "rows": n,
        "aihwkit_version": aihwkit.__version__,
        "torch_version": torch.__version__,
    }
    done = done_keys(args.out)
    todo = {
        s: [t for t in times if row_key({**base, "seed": s, "read_time_s": t}) not in done]
        for s in seeds
    }
    if not any(todo.values()):
        print("all rows already present", flush=True)
        return 0

    tokenizer = AutoTokenizer.from_pretrained(str(args.model), local_files_only=True)
    batches = make_batches(tokenizer, examples, args.batch_size, args.max_len, not args.no_sort)
    metric_name = "accuracy" if args.task == "sst2" else "f1"

    for seed in seeds:
        if not todo[seed]:
            continue
        torch.manual_seed(seed)
        model = load_model(args.model)
        rpu_config = rpu_config_for(args.setting)
        analog = [] if rpu_config is None else convert_encoder(model, rpu_config)
        noisy = args.setting not in TIMELESS
        if noisy:
            # One chip instance: programming noise (and PCM drift exponents) drawn once.
            t0 = time.time()
            torch.manual_seed(seed)
            for layer in analog:
                layer.program_analog_weights()
            print(f"[seed {seed}] programmed {len(analog)} layers in {time.time() - t0:.1f} s",
                  flush=True)
        for t in todo[seed]:
            if noisy:
                torch.manual_seed(drift_seed(seed, t))
                for layer in analog:
                    layer.drift_analog_weights(t)
            start = time.time()
            pred = evaluate(model, batches, n)
            seconds = time.time() - start
            acc, f1 = metrics(pred, gold)
            value = acc if metric_name == "accuracy" else f1
            row = {
                **base,
                "seed": seed,
                "read_time_s": fmt_time(t),
                "metric": metric_name,
                "value": f"{value:.6f}",
                "accuracy": f"{acc:.6f}",
                "f1": f"{f1:.6f}",
                "seconds": f"{seconds:.1f}",
            }
            append_row(args.out, row)
            print(
                f"[{args.setting} {args.task} seed {seed} t={fmt_time(t)} s] {metric_name}={value:.4f} "
                f"acc={acc:.4f} f1={f1:.4f} ({seconds:.1f} s, {n} rows)",
                flush=True,
            )
        del model, analog
    return 0


if __name__ == "__main__":
    sys.exit(main())
