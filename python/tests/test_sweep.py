"""crossbert.sweep and read_results on a tiny spec."""

from __future__ import annotations

import pandas as pd
import pytest

import crossbert


def write_spec(tmp_path, tiny, *, limit=8, grid='"mapping.adc.adc_bits" = [6, 8]', seeds=2):
    spec = tmp_path / "tiny.toml"
    limit_line = f"limit = {limit}\n" if limit is not None else ""
    spec.write_text(
        f'models = ["{tiny["model"]}"]\ntasks = ["sst2"]\ndata_dir = "{tiny["data"]}"\n'
        f'base = "one-shot"\nseeds = {seeds}\n{limit_line}\n[grid]\n{grid}\n'
    )
    return spec


def test_sweep_resume_and_read_results(tiny, tmp_path):
    spec = write_spec(tmp_path, tiny)
    out = tmp_path / "results.csv"
    done = crossbert.sweep(spec, out=out)
    assert done == {"planned": 4, "skipped": 0, "ran": 4, "out": str(out), "shard": "0/1"}
    df = crossbert.read_results(out)
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    assert list(df["mapping.adc.adc_bits"]) == [6, 6, 8, 8]
    assert list(df["seed"]) == [0, 1, 0, 1]
    assert str(df["limit"].dtype) == "Int64" and (df["limit"] == 8).all()
    assert df["value"].between(0, 1).all() and (df["energy_pj_per_inference"] > 0).all()
    assert df["config_hash"].map(type).eq(str).all() and (df["shard"] == "0/1").all()

    again = crossbert.sweep(spec, out=out, resume=True)
    assert (again["skipped"], again["ran"]) == (4, 0)
    half = crossbert.sweep(spec, out=tmp_path / "shard.csv", shard=(1, 2))
    assert (half["planned"], half["ran"], half["shard"]) == (2, 2, "1/2")


def test_whole_split_leaves_limit_empty(tiny, tmp_path):
    spec = write_spec(tmp_path, tiny, limit=None, grid='"mapping.adc.adc_bits" = [8]', seeds=1)
    out = tmp_path / "all.csv"
    crossbert.sweep(spec, out=out)
    df = crossbert.read_results(out)
    assert len(df) == 1 and df["limit"].isna().all()


def test_bad_spec_and_existing_output_are_errors(tiny, tmp_path):
    spec = write_spec(tmp_path, tiny, grid='"mapping.adc.adc_bitz" = [6]')
    with pytest.raises(crossbert.CrossbertError, match=r"mapping\.adc\.adc_bitz"):
        crossbert.sweep(spec, out=tmp_path / "x.csv")
    good = write_spec(tmp_path, tiny, seeds=1, grid='"mapping.adc.adc_bits" = [8]')
    out = tmp_path / "once.csv"
    crossbert.sweep(good, out=out)
    with pytest.raises(crossbert.CrossbertError):
        crossbert.sweep(good, out=out)  # exists and not resuming
    with pytest.raises(crossbert.CrossbertValueError, match="shard"):
        crossbert.sweep(good, out=tmp_path / "y.csv", shard="3/2")
