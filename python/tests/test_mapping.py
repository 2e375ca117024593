"""crossbert.program: one matrix on crossbar arrays, without BERT."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import crossbert

# 40 outputs x 200 inputs: two row tiles on 128-row arrays, one partial column tile.
RNG = np.random.default_rng(0)
W = RNG.normal(0.0, 0.05, size=(40, 200)).astype(np.float32)
X = RNG.normal(0.0, 1.0, size=(16, 200)).astype(np.float32)
REF = X @ W.T

# Largest |y - x W^T| as a fraction of max |x W^T|. Measured on this matrix: ideal 5e-7,
# one-shot 0.016 (8-bit inputs, weights and one ADC conversion per column), isaac-32nm
# 0.062 (an 8-bit ADC conversion per 2-bit slice and 1-bit input cycle); about 2x margin.
TOLERANCE = {"ideal": 1e-5, "one-shot": 0.03, "isaac-32nm": 0.10}


def relative_error(y: np.ndarray) -> float:
    return float(np.abs(y - REF).max() / np.abs(REF).max())


@pytest.mark.parametrize("preset", ["ideal", "one-shot", "isaac-32nm"])
def test_outputs_close_to_the_product(preset):
    m = crossbert.program(W, hardware=preset, seed=0)
    assert (m.out_features, m.in_features) == (40, 200)
    m.calibrate(X)
    out = m.forward(X)
    y = out["outputs"]
    assert y.shape == (16, 40) and y.dtype == np.float32
    assert relative_error(y) <= TOLERANCE[preset], relative_error(y)

    events = out["events"]
    assert events["cell_reads"] > 0
    if preset != "ideal":
        assert sum(events["adc_conversions"].values()) > 0
        assert sum(events["dac_drives"].values()) > 0
        energy = out["energy_pj"]
        assert set(energy) >= {"adc", "dac", "array", "shift_add", "buffer"}
        assert all(v >= 0 for v in energy.values())
        assert energy["adc"] > 0 and energy["dac"] > 0 and energy["array"] > 0
        assert out["energy_total_pj"] == pytest.approx(sum(energy.values()))


def test_report_counts_arrays_and_cells():
    m = crossbert.program(W, hardware="isaac-32nm")
    r = m.report()
    assert r["fidelity"] == "bit_sliced" and r["hardware"] == "isaac-32nm"
    assert (r["out_features"], r["in_features"]) == (40, 200)
    assert r["row_tiles"] == 2 and r["arrays"] >= 2
    assert 0 < r["cells_used"] <= r["cells_total"]
    assert 0 < r["utilization"] <= 1
    assert r["events_per_token"]["cell_reads"] > 0
    one_shot = crossbert.program(W, hardware="one-shot").report()
    assert one_shot["fidelity"] == "one_shot" and one_shot["input_cycles"] == 1


def test_fidelity_through_a_hardware_dict():
    hw = crossbert.hardware("one-shot")
    assert hw["mapping"]["fidelity"] == "one_shot"
    by_dict = crossbert.program(W, hardware=hw)
    by_name = crossbert.program(W, hardware="one-shot")
    for m in (by_dict, by_name):
        m.calibrate(X)
    np.testing.assert_array_equal(by_dict.forward(X)["outputs"], by_name.forward(X)["outputs"])


def test_chip_instances_differ_on_noisy_devices_and_repeat_per_seed():
    def run(seed):
        m = crossbert.program(W, hardware="reram-cmo", seed=seed)
        m.calibrate(X)
        return m.forward(X, first_read=0)["outputs"]

    a, b, c = run(0), run(0), run(1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_shapes_raise_with_a_message():
    m = crossbert.program(W, hardware="one-shot")
    m.calibrate(X)
    with pytest.raises(crossbert.CrossbertValueError, match=r"input x .*expected 16×200 = 3200 values, found 3216"):
        m.forward(np.zeros((16, 201), dtype=np.float32))
    with pytest.raises(crossbert.CrossbertValueError, match="expected a 2-D array"):
        m.forward(np.zeros(200, dtype=np.float32))
    with pytest.raises(crossbert.CrossbertValueError, match="expected a 2-D array"):
        crossbert.program(np.zeros(10, dtype=np.float32))
    with pytest.raises(crossbert.CrossbertValueError, match="finite"):
        bad = X.copy()
        bad[3, 7] = np.nan
        m.forward(bad)


def test_forward_before_calibration_is_a_runtime_error():
    m = crossbert.program(W, hardware="isaac-32nm")
    with pytest.raises(crossbert.CrossbertError, match="calibrate"):
        m.forward(X)


def test_forward_releases_the_gil():
    w = np.random.default_rng(1).normal(size=(768, 768)).astype(np.float32)
    x = np.random.default_rng(2).normal(size=(512, 768)).astype(np.float32)
    m = crossbert.program(w, hardware="isaac-32nm")
    m.calibrate(x[:16])
    ticks = 0
    t = threading.Thread(target=m.forward, args=(x,))
    start = time.perf_counter()
    t.start()
    while t.is_alive():
        ticks += 1
        time.sleep(0.002)
    seconds = time.perf_counter() - start
    if seconds < 0.2:
        pytest.skip(f"forward took {seconds:.3f} s, too short to tell")
    # Holding the GIL for the whole call would leave this thread a handful of ticks.
    assert ticks > 0.25 * seconds / 0.002, (ticks, seconds)
