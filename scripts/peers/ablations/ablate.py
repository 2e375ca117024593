#!/usr/bin/env python3
"""Ablations of the aihwkit `reram-cmo-0p2` setting of the peer harness.

Imports ../aihwkit_glue.py (read-only) and replaces only its
`rpu_config_for` by a wrapper that calls the original and then changes parameters of
cfg.noise_model (and, for `shift_only_nocomp`, cfg.drift_compensation).  Everything
else (mapping, forward/IO, seeding, programming, drift, evaluation) is the harness's.

Usage:
  ablate.py run VARIANT [harness args...]    # harness main() with the patched config
  ablate.py inspect VARIANT --seed S --time T [--model ... --glue ...]
  ablate.py collect                          # raw_*.csv -> results.csv
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

HARNESS = Path(__file__).resolve().parents[1] / "aihwkit_glue.py"
HERE = Path(os.environ.get("ABLATION_DIR", "/tmp/aihw-abl"))  # outputs
SETTING = "reram-cmo-0p2"

# Parameter changes per variant (attributes of ReRamCMONoiseModel; acceptance_range stays 0.2).
VARIANTS = {
    "full": dict(noise={}, nocomp=False),
    "shift_only": dict(
        noise=dict(
            prog_noise_scale=0.0,
            read_noise_scale=0.0,
            decay_dict={"mean": [-0.08900206], "std": [0.0, 0.0]},
        ),
        nocomp=False,
    ),
    "no_shift": dict(
        noise=dict(decay_dict={"mean": [0.0], "std": [0.04201137, 0.41183342]}),
        nocomp=False,
    ),
    "shift_only_nocomp": dict(
        noise=dict(
            prog_noise_scale=0.0,
            read_noise_scale=0.0,
            decay_dict={"mean": [-0.08900206], "std": [0.0, 0.0]},
        ),
        nocomp=True,
    ),
}

# Extra (beyond the brief, clearly not "noise-model only"): per-tile instead of per-column
# weight scaling, to see how the same uS shift acts when columns are not each scaled to |w|=1.
NOOP = dict(prog_noise_scale=0.0, read_noise_scale=0.0, decay_dict={"mean": [0.0], "std": [0.0, 0.0]})
VARIANTS["x_pertile_noiseless"] = dict(noise=NOOP, nocomp=False, pertile=True)
VARIANTS["x_pertile_shift_only"] = dict(noise=VARIANTS["shift_only"]["noise"], nocomp=False,
                                        pertile=True)


def load_harness():
    spec = importlib.util.spec_from_file_location("aihwkit_glue", HARNESS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def patch(mod, variant: str, variants: dict | None = None):
    spec = (VARIANTS if variants is None else variants)[variant]
    original = mod.rpu_config_for

    def rpu_config_for(setting):
        cfg = original(setting)
        assert setting == SETTING, setting
        nm = cfg.noise_model
        assert type(nm).__name__ == "ReRamCMONoiseModel" and nm.acceptance_range == 0.2
        for key, value in spec["noise"].items():
            assert hasattr(nm, key), key
            setattr(nm, key, value)
        if spec["nocomp"]:
            cfg.drift_compensation = None
        if spec.get("pertile"):
            cfg.mapping.weight_scaling_columnwise = False
        if spec.get("maxin"):  # one tile for the 1536-input layers (follow.py)
            assert cfg.mapping.max_input_size == 512
            cfg.mapping.max_input_size = 1536
        if spec.get("adc"):  # ADC without bound or quantization (follow.py)
            assert cfg.forward.out_bound == 12.0
            cfg.forward.out_bound = 1e6
            cfg.forward.out_res = -1.0
        if spec.get("perfect"):  # no DAC, ADC or noise management (follow.py)
            cfg.forward.is_perfect = True
        return cfg

    mod.rpu_config_for = rpu_config_for
    return mod


def first_sentences(mod, args, n: int):
    """The first n SST-2 dev sentences, tokenized as the harness does (padded batch)."""
    tok = __import__("transformers").AutoTokenizer.from_pretrained(str(args.model),
                                                                  local_files_only=True)
    ex = mod.load_split("sst2", args.glue)[:n]
    return tok([e[0] for e in ex], padding=True, truncation=True, max_length=128,
               return_tensors="pt")


def cmd_run(variant: str, argv: list[str]) -> int:
    mod = patch(load_harness(), variant)
    return mod.main(argv)


def cmd_inspect(variant: str, argv: list[str]) -> int:
    import argparse

    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time", type=float, default=31536000.0)
    ap.add_argument("--model", type=Path, default=Path("../shared/models/minilm-sst2"))
    ap.add_argument("--glue", type=Path, default=Path("../shared/glue"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    mod = patch(load_harness(), variant)
    seed, t = args.seed, args.time
    # Same steps as harness main() for one seed / one read time.
    torch.manual_seed(seed)
    model = mod.load_model(args.model)
    digital_query = __import__("copy").deepcopy(model.bert.encoder.layer[0].attention.self.query)
    cfg = mod.rpu_config_for(SETTING)
    analog = mod.convert_encoder(model, cfg)
    torch.manual_seed(seed)
    for layer in analog:
        layer.program_analog_weights()

    q = analog[0]  # layer 0 attention.self.query
    tiles = list(q.analog_tiles())
    tile = tiles[0]
    rep: dict = {"variant": variant, "seed": seed, "t": t, "n_tiles_query0": len(tiles)}
    nm = tile.rpu_config.noise_model
    rep["noise_model"] = {
        "prog_noise_scale": nm.prog_noise_scale,
        "read_noise_scale": nm.read_noise_scale,
        "drift_scale": nm.drift_scale,
        "decay_dict": nm.decay_dict,
        "acceptance_range": nm.acceptance_range,
        "g_min": nm.g_min,
        "g_max": nm.g_max,
    }
    rep["drift_compensation"] = str(tile.rpu_config.drift_compensation)

    ref = tile.reference_combined_weights.detach().clone()  # mapped weights, before programming
    prog = tile.programmed_weights.detach().clone()
    w_before = torch.as_tensor(tile.tile.get_weights()).clone()  # on tile before drift
    scales = tile.get_mapping_scales().detach().clone()
    rep["shape"] = list(ref.shape)
    rep["ref_range"] = [ref.min().item(), ref.max().item()]
    rep["prog_range"] = [prog.min().item(), prog.max().item()]
    rep["tile_before_drift_range"] = [w_before.min().item(), w_before.max().item()]
    rep["max_abs_prog_minus_ref"] = (prog - ref).abs().max().item()
    rep["max_abs_tile_before_minus_prog"] = (w_before - prog).abs().max().item()
    rep["mapping_scales"] = {
        "min": scales.min().item(), "max": scales.max().item(), "mean": scales.mean().item()
    }
    rep["drift_baseline"] = None if tile.drift_baseline is None else float(tile.drift_baseline)

    # Conversion parameters aihwkit uses: programming converts the reference weights,
    # the drift step converts the programmed weights again.
    _, p_prog = nm.g_converter.convert_to_conductances(ref)
    _, p_drift = nm.g_converter.convert_to_conductances(prog)
    rep["conv_programming"] = {k: float(v) for k, v in p_prog.items()}
    rep["conv_drift"] = {k: float(v) for k, v in p_drift.items()}
    shift_us = nm.decay_dict["mean"][0] * math.log(t) * nm.drift_scale if t > 0 else 0.0
    rep["mean_shift_uS"] = shift_us
    rep["expected_offset_tile_units"] = shift_us / float(p_drift["scale_ratio"])

    # Drift step exactly as the harness does it (all layers, same seed).
    torch.manual_seed(mod.drift_seed(seed, t))
    for layer in analog:
        layer.drift_analog_weights(t)
    w_after = torch.as_tensor(tile.tile.get_weights()).clone()
    if nm.prog_noise_scale == 0 and nm.read_noise_scale == 0 and nm.decay_dict["std"] == [0.0, 0.0]:
        # deterministic: recompute the noise model's output and compare with the tile
        w_nm = nm.apply_drift_noise(prog, tile.drift_noise_parameters, t)
        rep["max_abs_tile_after_minus_noise_model_output"] = (w_after - w_nm).abs().max().item()
    rep["mapping_scales_unchanged_by_drift"] = bool(
        torch.equal(tile.get_mapping_scales().detach(), scales))
    d = w_after - prog
    maxabs = prog.abs().max().item()
    rep["tile_after_drift_range"] = [w_after.min().item(), w_after.max().item()]
    rep["delta_tile_units"] = {
        "mean": d.mean().item(), "std": d.std().item(),
        "min": d.min().item(), "max": d.max().item(),
    }
    rep["delta_rel_maxabs"] = {"mean": d.mean().item() / maxabs, "std": d.std().item() / maxabs,
                               "max_abs_w": maxabs}
    # fraction of weights clipped at g_min (those within |shift| of w_min)
    g_prog = nm.g_min + (prog - p_drift["min"]) * p_drift["scale_ratio"]
    rep["frac_clipped_at_gmin"] = (g_prog + shift_us < nm.g_min).float().mean().item()
    rep["alpha"] = float(tile.alpha.reshape(-1)[0]) if tile.alpha is not None else None
    # mean |W| ratio (what global compensation reacts to)
    rep["mean_abs_w_prog"] = prog.abs().mean().item()
    rep["mean_abs_w_drift"] = w_after.abs().mean().item()

    # Does the offset survive to the layer output?  Feed real layer-0 inputs (embeddings of
    # the first 16 dev sentences) through the analog query layer and compare with
    #  (a) the digital query,  (b) a float matmul with the drifted tile weights * scales * alpha
    #  (c) the same with the programmed (undrifted) tile weights.
    enc = first_sentences(mod, args, 16)
    with torch.inference_mode():
        h = model.bert.embeddings(input_ids=enc["input_ids"],
                                  token_type_ids=enc["token_type_ids"])
        mask = enc["attention_mask"].bool()
        x = h[mask]  # [tokens, 384]
        y_an = q(x)
        y_dig = digital_query(x)
        alpha = tile.alpha.reshape(-1)[0] if tile.rpu_config.drift_compensation else 1.0
        bias = tile.bias  # digital bias lives on the tile (q.bias is a bool flag)
        y_drift = (x @ w_after.T) * scales * alpha + bias
        y_prog = (x @ prog.T) * scales + bias
        # input abs-max scaled sum: offset contribution per token in tile-output units
        xs = x / x.abs().amax(dim=1, keepdim=True)
        off_out = rep["delta_tile_units"]["mean"] * xs.sum(dim=1)
        ideal_no_offset = ((x @ (w_after - d.mean()).T) * scales * alpha + bias)

    def rel(a, b):
        return ((a - b).norm() / b.norm()).item()

    rep["tokens"] = int(x.shape[0])
    rep["out_relerr_analog_vs_digital"] = rel(y_an, y_dig)
    rep["out_relerr_analog_vs_float_drifted"] = rel(y_an, y_drift)
    rep["out_relerr_float_drifted_vs_digital"] = rel(y_drift, y_dig)
    rep["out_relerr_float_prog_vs_digital"] = rel(y_prog, y_dig)
    rep["out_relerr_float_drifted_minus_mean_offset_vs_digital"] = rel(ideal_no_offset, y_dig)
    rep["scaled_input_sum_per_token"] = {"mean": xs.sum(1).mean().item(),
                                         "std": xs.sum(1).std().item(),
                                         "min": xs.sum(1).min().item(),
                                         "max": xs.sum(1).max().item()}
    rep["offset_output_tile_units"] = {"mean": off_out.mean().item(),
                                       "absmax": off_out.abs().max().item()}
    # ADC clipping count in the analog forward of this tile on these inputs
    with torch.inference_mode():
        raw = tile.tile.forward(xs, False, False, False, True, False)
    rep["adc_frac_at_bound"] = (raw.abs() >= cfg.forward.out_bound - 1e-6).float().mean().item()
    rep["tile_raw_out_absmax"] = raw.abs().max().item()

    text = json.dumps(rep, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


def cmd_layers(variant: str, argv: list[str]) -> int:
    """Per analog layer (same seed/time as the harness): mean tile offset, and the relative
    output error of that layer on its own (analog output vs digital Linear on the same input),
    on the first 32 dev sentences."""
    import argparse
    import copy

    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time", type=float, default=31536000.0)
    ap.add_argument("--model", type=Path, default=Path("../shared/models/minilm-sst2"))
    ap.add_argument("--glue", type=Path, default=Path("../shared/glue"))
    ap.add_argument("--n", type=int, default=32)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    mod = patch(load_harness(), variant)
    torch.manual_seed(args.seed)
    model = mod.load_model(args.model)
    digital = {}
    for li, layer in enumerate(model.bert.encoder.layer):
        for name in mod.ANALOG_LINEARS:
            digital[(li, name)] = copy.deepcopy(layer.get_submodule(name))
    analog = mod.convert_encoder(model, mod.rpu_config_for(SETTING))
    torch.manual_seed(args.seed)
    for layer in analog:
        layer.program_analog_weights()
    torch.manual_seed(mod.drift_seed(args.seed, args.time))
    for layer in analog:
        layer.drift_analog_weights(args.time)
    keys = list(digital.keys())
    stats = {k: [0.0, 0.0, 0.0, 0.0] for k in keys}
    sat = {(k, tag): [0, 0, 0.0] for k in keys for tag in ("drift", "prog")}
    hooks = []
    for k, a in zip(keys, analog):
        def hook(m, inp, out, k=k):
            x = inp[0]
            y_d = digital[k](x)
            e = out - y_d
            stats[k][0] += float((e ** 2).sum())
            stats[k][1] += float((y_d ** 2).sum())
            # error component that is common to all output features of a token
            stats[k][2] += float((e.mean(-1, keepdim=True) ** 2).sum() * e.shape[-1])
            xs = x / x.abs().amax(-1, keepdim=True).clamp(min=1e-12)
            stats[k][3] += float(xs.sum(-1).abs().mean())
        hooks.append(a.register_forward_hook(hook))
        # ADC saturation per tile: pre-ADC value of the abs-max-scaled input (the tile's
        # noise management) with the drifted tile weights vs with the programmed weights.
        for t in a.analog_tiles():
            def thook(m, inp, out, k=k):
                x = inp[0]
                xs = x / x.abs().amax(-1, keepdim=True).clamp(min=1e-12)
                w_now = torch.as_tensor(m.tile.get_weights())
                bound = m.rpu_config.forward.out_bound
                for tag, w in (("drift", w_now), ("prog", m.programmed_weights)):
                    z = xs @ w.T
                    sat[(k, tag)][0] += int((z.abs() > bound).sum())
                    sat[(k, tag)][1] += z.numel()
                    sat[(k, tag)][2] = max(sat[(k, tag)][2], float(z.abs().max()))
            hooks.append(t.register_forward_hook(thook))
    enc = first_sentences(mod, args, args.n)
    with torch.inference_mode():
        model(**enc)
    print("layer module tiles mean_offset_tile_units(per tile) alpha(per tile) "
          "relerr_out relerr_common_mode_part mean|sum(x/absmax)| "
          "ADC_sat_frac(drift) max|preADC|(drift) ADC_sat_frac(prog) max|preADC|(prog)")
    for k, a in zip(keys, analog):
        tl = list(a.analog_tiles())
        offs = []
        alphas = []
        for t in tl:
            d = torch.as_tensor(t.tile.get_weights()) - t.programmed_weights
            offs.append(round(d.mean().item(), 4))
            alphas.append(round(float(t.alpha.reshape(-1)[0]), 4))
        e2, y2, c2, sx = stats[k]
        print(k[0], k[1], len(tl), offs, alphas, f"{math.sqrt(e2 / y2):.4f}",
              f"{math.sqrt(c2 / y2):.4f}", f"{sx / 1:.2f}",
              *(f"{sat[(k, g)][0] / max(sat[(k, g)][1], 1):.2e} {sat[(k, g)][2]:.2f}"
                for g in ("drift", "prog")))
    return 0


def cmd_collect() -> int:
    rows = []
    for variant in VARIANTS:
        path = HERE / f"raw_{variant}.csv"
        if not path.exists():
            continue
        with open(path, newline="") as handle:
            for r in csv.DictReader(handle):
                rows.append({"variant": variant, "setting": r["setting"], "rows": r["rows"],
                             "seed": r["seed"], "read_time_s": r["read_time_s"],
                             "accuracy": r["accuracy"], "seconds": r["seconds"],
                             "aihwkit_version": r["aihwkit_version"]})
    ref = HERE / "raw_ref.csv"
    if ref.exists():
        with open(ref, newline="") as handle:
            for r in csv.DictReader(handle):
                rows.append({"variant": "ref_harness_" + r["setting"], "setting": r["setting"],
                             "rows": r["rows"], "seed": r["seed"],
                             "read_time_s": r["read_time_s"], "accuracy": r["accuracy"],
                             "seconds": r["seconds"], "aihwkit_version": r["aihwkit_version"]})
    with open(HERE / "results.csv", "w", newline="") as handle:
        w = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        print(r["variant"], r["seed"], r["read_time_s"], r["accuracy"])
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "run":
        sys.exit(cmd_run(sys.argv[2], sys.argv[3:]))
    if cmd == "inspect":
        sys.exit(cmd_inspect(sys.argv[2], sys.argv[3:]))
    if cmd == "layers":
        sys.exit(cmd_layers(sys.argv[2], sys.argv[3:]))
    if cmd == "collect":
        sys.exit(cmd_collect())
    raise SystemExit(__doc__)
