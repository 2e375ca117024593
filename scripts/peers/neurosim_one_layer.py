"""crossbert's side of the one-layer comparison with NeuroSim V1.4 (issue #11).

One fully connected layer of 384 inputs × 384 outputs and one 8-bit input vector on
`isaac-32nm` with NeuroSim's weight code (one column per 2-bit slice and a shared
reference column: crossbert's `offset` encoding), at 128 columns per ADC (ISAAC, and
NeuroSim's run `raw-mux128.txt`) and 8 (NeuroSim's default, `raw-mux8.txt`). Prints event
counts and energy by component. The NeuroSim numbers are in
experiments/results/peers/neurosim/components.csv; the comparison is in
experiments/peers/neurosim-side-by-side.md.

    python scripts/peers/neurosim_one_layer.py      # needs the crossbert package (pip install .)
"""
import json

import numpy as np

import crossbert


def main():
    w = np.random.default_rng(0).normal(0, 0.05, (384, 384)).astype(np.float32)
    # non-negative inputs, as NeuroSim applies unsigned row activations
    x = np.abs(np.random.default_rng(1).normal(size=(64, 384))).astype(np.float32)
    for columns_per_adc in (128, 8):
        chip = crossbert.hardware("isaac-32nm", **{"mapping.encoding": "offset",
                                                   "mapping.adc.columns_per_adc": columns_per_adc})
        m = crossbert.program(w, hardware=chip, seed=0)
        m.calibrate(x)
        r = m.forward(x[:1])
        report = m.report()
        print(json.dumps({
            "columns_per_adc": columns_per_adc,
            "arrays": report["arrays"],
            "adcs": report["adcs"],
            "events": r["events"],
            "energy_pj": {k: round(v, 2) for k, v in r["energy_pj"].items() if v},
            "energy_total_pj": round(r["energy_total_pj"], 1),
        }))


if __name__ == "__main__":
    main()
