"""crossbert.evaluate: the dict `crossbert eval --json` prints, plus the logits."""

from __future__ import annotations

import json

import numpy as np
import pytest

import crossbert
from conftest import cli_binary, run_cli

DIGITAL_KEYS = {"task", "split", "rows", "metric", "value", "metrics", "seconds", "model",
                "backend", "max_len"}
ANALOG_KEYS = DIGITAL_KEYS | {
    "digital_value", "difference", "digital_metrics", "digital_seconds", "hardware", "seed",
    "energy_pj_per_inference", "energy_pj_per_token", "energy_breakdown_pj",
    "tokens_per_inference", "latency_ns", "schedule", "throughput_inferences_per_s",
    "throughput_tokens_per_s", "array_utilization", "tops_per_w", "area_mm2",
    "area_breakdown_mm2", "attention_mode",
    "drift_compensation", "drift_compensation_reads",
}


def cli_eval(tmp_path, model, data, *extra):
    """`crossbert eval --json` and the logits of its --out TSV (6 decimals)."""
    tsv = tmp_path / "cli.tsv"
    done = run_cli("eval", "--model", str(model), "--task", "sst2", "--data", str(data),
                   "--json", "--out", str(tsv), *extra)
    rows = [line.split("\t") for line in tsv.read_text().splitlines()]
    logit_cols = [i for i, name in enumerate(rows[0]) if name.startswith("logit_")]
    logits = np.array([[float(r[i]) for i in logit_cols] for r in rows[1:]])
    return json.loads(done.stdout), logits


def same_report(py: dict, cli: dict):
    """Equal apart from wall times."""
    timeless = lambda d: {k: v for k, v in d.items() if k not in ("seconds", "digital_seconds", "logits")}
    assert timeless(py) == timeless(cli)


def test_digital_on_a_tiny_checkpoint(tiny, tmp_path):
    r = crossbert.evaluate(str(tiny["model"]), "sst2", str(tiny["data"]), limit=20)
    assert set(r) == DIGITAL_KEYS | {"logits"}
    assert (r["task"], r["split"], r["rows"], r["backend"]) == ("sst2", "dev", 20, "digital")
    assert r["metric"] == "accuracy" and 0.0 <= r["value"] <= 1.0
    assert r["logits"].shape == (20, 2) and r["logits"].dtype == np.float32
    if cli_binary() is not None:
        cli, logits = cli_eval(tmp_path, tiny["model"], tiny["data"], "--limit", "20")
        same_report(r, cli)
        np.testing.assert_allclose(r["logits"], logits, atol=1e-6)


def test_on_a_chip_reports_baseline_and_energy(tiny, tmp_path):
    r = crossbert.evaluate(tiny["model"], "sst2", tiny["data"], preset="one-shot", limit=12, seed=1)
    assert ANALOG_KEYS <= set(r)
    assert (r["backend"], r["hardware"], r["seed"], r["rows"]) == ("analog", "one-shot", 1, 12)
    assert r["energy_pj_per_inference"] > 0 and r["latency_ns"] > 0 and r["area_mm2"] > 0
    assert r["energy_pj_per_inference"] == pytest.approx(sum(r["energy_breakdown_pj"].values()))
    assert r["difference"] == pytest.approx(r["value"] - r["digital_value"])
    assert r["logits"].shape == (12, 2)
    # a hardware dict evaluates the same chip
    again = crossbert.evaluate(tiny["model"], "sst2", tiny["data"],
                               hardware=crossbert.hardware("one-shot"), limit=12, seed=1)
    np.testing.assert_array_equal(again["logits"], r["logits"])
    if cli_binary() is not None:
        cli, logits = cli_eval(tmp_path, tiny["model"], tiny["data"], "--preset", "one-shot",
                               "--limit", "12", "--seed", "1")
        same_report(r, cli)
        np.testing.assert_allclose(r["logits"], logits, atol=1e-6)


def test_errors_carry_the_cli_message(tiny):
    with pytest.raises(crossbert.CrossbertError) as err:
        crossbert.evaluate(tiny["model"], "sst3", tiny["data"])
    assert "sst3" in str(err.value)
    if cli_binary() is not None:
        done = run_cli("eval", "--model", str(tiny["model"]), "--task", "sst3",
                       "--data", str(tiny["data"]), check=False)
        assert done.returncode == 1 and done.stderr.strip() == f"error: {err.value}"
    with pytest.raises(crossbert.CrossbertError, match="absent"):
        crossbert.evaluate(tiny["root"] / "absent", "sst2", tiny["data"])
    with pytest.raises(crossbert.CrossbertValueError, match="limit"):
        crossbert.evaluate(tiny["model"], "sst2", tiny["data"], limit=0)
    with pytest.raises(ValueError, match="both"):
        crossbert.evaluate(tiny["model"], "sst2", tiny["data"], preset="one-shot",
                           hardware="isaac-32nm")


def test_minilm_sst2_matches_the_cli(shared, tmp_path):
    model, data = shared / "models" / "minilm-sst2", shared / "glue"
    r = crossbert.evaluate(model, "sst2", data, limit=16)
    assert r["rows"] == 16 and r["logits"].shape == (16, 2)
    cli, logits = cli_eval(tmp_path, model, data, "--limit", "16")
    assert r["value"] == cli["value"]
    same_report(r, cli)
    np.testing.assert_allclose(r["logits"], logits, atol=1e-6)


def test_minilm_sst2_on_one_shot_matches_the_cli(shared, tmp_path):
    model, data = shared / "models" / "minilm-sst2", shared / "glue"
    r = crossbert.evaluate(model, "sst2", data, preset="one-shot", limit=16)
    cli, logits = cli_eval(tmp_path, model, data, "--preset", "one-shot", "--limit", "16")
    assert r["value"] == cli["value"] and r["digital_value"] == cli["digital_value"]
    same_report(r, cli)
    np.testing.assert_allclose(r["logits"], logits, atol=1e-6)
