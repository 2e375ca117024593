#!/usr/bin/env python3
"""Follow-up to ablate.py: tile size (A) and ADC clipping (B).

Uses ablate.py's mechanism unchanged: the harness ../aihwkit_glue.py is
loaded read-only and only its `rpu_config_for` is wrapped.  The wrapper calls the original
for `reram-cmo-0p2`, then applies the noise-model change of the variant (same dicts as
ablate.py) and, in addition,
  A  ("maxin"):  cfg.mapping.max_input_size = 1536   (was 512; max_output_size stays 512)
  B  ("adc"):    cfg.forward.out_bound = 1e6, cfg.forward.out_res = -1   (was 12.0, 1/254)
                 i.e. ADC neither clips (at any realistic level) nor quantizes.
  P  ("perfect"): cfg.forward.is_perfect = True (extra; turns off the whole IO model:
                 DAC, ADC, abs-max noise management, bounds).
Everything else (seeding, programming, drift, compensation, evaluation) is the harness's.

Usage:
  follow.py run VARIANT [harness args...]
  follow.py check VARIANT [--seed S --time T --n N]   # tile counts, config fields, ADC range
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ablate  # noqa: E402

SETTING = ablate.SETTING
SHIFT = ablate.VARIANTS["shift_only_nocomp"]["noise"]
NOOP = ablate.NOOP

FOLLOW = {}
for tag, mods in (("A", dict(maxin=True)), ("B", dict(adc=True)),
                  ("AB", dict(maxin=True, adc=True)), ("base", dict())):
    FOLLOW[f"f{tag}_shift_only_nocomp"] = dict(noise=SHIFT, nocomp=True, **mods)
    FOLLOW[f"f{tag}_noiseless_nocomp"] = dict(noise=NOOP, nocomp=True, **mods)
FOLLOW["fAB_full"] = dict(noise={}, nocomp=False, maxin=True, adc=True)
# extras: whole forward perfect (no DAC / ADC / noise management)
FOLLOW["fP_shift_only_nocomp"] = dict(noise=SHIFT, nocomp=True, perfect=True)
FOLLOW["fAP_shift_only_nocomp"] = dict(noise=SHIFT, nocomp=True, maxin=True, perfect=True)
FOLLOW["fAP_noiseless_nocomp"] = dict(noise=NOOP, nocomp=True, maxin=True, perfect=True)


def patch(mod, variant: str):
    return ablate.patch(mod, variant, FOLLOW)


def cmd_run(variant, argv):
    return patch(ablate.load_harness(), variant).main(argv)


def cmd_check(variant, argv):
    """Build the chip exactly as the harness does (seed, program, drift), then report the
    tile layout, the effective rpu_config fields, and, on real inputs, the analog tile
    outputs in ADC units (input abs-max scaled to 1) against the float pre-ADC value."""
    import argparse

    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time", type=float, default=31536000.0)
    ap.add_argument("--model", type=Path, default=Path("../shared/models/minilm-sst2"))
    ap.add_argument("--glue", type=Path, default=Path("../shared/glue"))
    ap.add_argument("--n", type=int, default=16)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    mod = patch(ablate.load_harness(), variant)
    torch.manual_seed(args.seed)
    model = mod.load_model(args.model)
    cfg = mod.rpu_config_for(SETTING)
    analog = mod.convert_encoder(model, cfg)
    torch.manual_seed(args.seed)
    for layer in analog:
        layer.program_analog_weights()
    torch.manual_seed(mod.drift_seed(args.seed, args.time))
    for layer in analog:
        layer.drift_analog_weights(args.time)

    t0 = next(analog[0].analog_tiles())
    rc = t0.rpu_config
    print(f"variant {variant}: mapping.max_input_size={rc.mapping.max_input_size} "
          f"max_output_size={rc.mapping.max_output_size} forward.is_perfect={rc.forward.is_perfect} "
          f"out_bound={rc.forward.out_bound} out_res={rc.forward.out_res} "
          f"inp_res={rc.forward.inp_res} noise_management={rc.forward.noise_management} "
          f"bound_management={rc.forward.bound_management} "
          f"drift_comp={rc.drift_compensation} noise={ {k: getattr(rc.noise_model, k) for k in ('prog_noise_scale', 'read_noise_scale', 'decay_dict')} }")
    names = [(li, n) for li in range(len(model.bert.encoder.layer)) for n in mod.ANALOG_LINEARS]
    total = sum(len(list(a.analog_tiles())) for a in analog)
    print(f"analog layers {len(analog)}, analog tiles {total}")
    per_module = {}
    for (li, n), a in zip(names, analog):
        shapes = [tuple(t.tile.get_weights().shape) for t in a.analog_tiles()]
        per_module.setdefault(n, set()).add(str(shapes))
    for n, s in per_module.items():
        print(f"  {n}: tile shapes (out,in) {sorted(s)}")

    # ADC-domain outputs per tile
    stats = {}
    hooks = []
    for k, a in zip(names, analog):
        for ti, t in enumerate(a.analog_tiles()):
            def thook(m, inp, out, k=k, ti=ti):
                x = inp[0].reshape(-1, inp[0].shape[-1])
                xs = x / x.abs().amax(-1, keepdim=True).clamp(min=1e-12)
                raw = m.tile.forward(xs, False, False, False, True, False)
                z = xs @ torch.as_tensor(m.tile.get_weights()).T
                s = stats.setdefault(k, [0, 0, 0.0, 0.0, 0.0, 0])
                s[0] += int((raw.abs() > 12.0 + 1e-4).sum())
                s[1] += raw.numel()
                s[2] = max(s[2], float(raw.abs().max()))
                s[3] = max(s[3], float(z.abs().max()))
                s[4] = max(s[4], float((raw - z).abs().max()))
                s[5] += int((z.abs() > 12.0).sum())
            hooks.append(t.register_forward_hook(thook))
    enc = ablate.first_sentences(mod, args, args.n)
    with torch.inference_mode():
        model(**enc)
    print("per module (max over 6 layers): frac |tile out|>12, max|tile out|, max|x/absmax @ W^T|, "
          "max|tile out - float|, frac |x/absmax @ W^T|>12")
    agg = {}
    for (li, n), s in stats.items():
        g = agg.setdefault(n, [0, 0, 0.0, 0.0, 0.0, 0])
        g[0] += s[0]
        g[1] += s[1]
        g[2] = max(g[2], s[2])
        g[3] = max(g[3], s[3])
        g[4] = max(g[4], s[4])
        g[5] += s[5]
    for n, g in agg.items():
        print(f"  {n:24s} {g[0] / g[1]:.2e} {g[2]:8.2f} {g[3]:8.2f} {g[4]:.2e} {g[5] / g[1]:.2e}")
    return 0


if __name__ == "__main__":
    c = sys.argv[1]
    if c == "run":
        sys.exit(cmd_run(sys.argv[2], sys.argv[3:]))
    if c == "check":
        sys.exit(cmd_check(sys.argv[2], sys.argv[3:]))
    raise SystemExit(__doc__)
