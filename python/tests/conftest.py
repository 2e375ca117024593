"""Shared fixtures: the crossbert binary (if built), ../shared, a tiny synthesized task."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import crossbert

REPO = Path(__file__).resolve().parents[2]


def cli_binary() -> Path | None:
    """The `crossbert` command to compare against: $CROSSBERT_BIN, else the repository's
    release build, else its debug build, else none."""
    env = os.environ.get("CROSSBERT_BIN")
    if env:
        return Path(env)
    for profile in ("release", "debug"):
        path = REPO / "target" / profile / "crossbert"
        if path.is_file():
            return path
    return None


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the crossbert binary (skips the calling test when there is none)."""
    binary = cli_binary()
    if binary is None:
        pytest.skip("no crossbert binary (cargo build --release, or set CROSSBERT_BIN)")
    done = subprocess.run(
        [str(binary), *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    if check and done.returncode != 0:
        raise AssertionError(f"crossbert {' '.join(args)} failed:\n{done.stderr}")
    return done


def _in_ci() -> bool:
    value = os.environ.get("CI")
    return value is not None and value != "false"


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared (or $CROSSBERT_SHARED): skipped with a printed reason when absent, a
    failure when CI is set (to anything but "false"), as the Rust tests do."""
    path = Path(os.environ.get("CROSSBERT_SHARED", REPO.parent / "shared"))
    if not (path / "models" / "minilm-sst2").is_dir() or not (path / "glue").is_dir():
        reason = f"{path} not found (models/minilm-sst2 and glue/)"
        if _in_ci():
            pytest.fail(f"CI is set but {reason}")
        print(f"skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    return path


WORDS = (
    "good bad great awful movie film story plot actor fun boring dull bright dark "
    "charming bleak warm cold funny sad long short best worst a the and of is it"
).split()


def _sentences(rng: random.Random, n: int) -> list[tuple[str, int]]:
    return [
        (" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))), rng.randint(0, 1))
        for _ in range(n)
    ]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """A random-weight 2-layer BERT (hidden 32) and an SST-2 folder of synthetic sentences
    (80 train, 24 dev rows)."""
    root = tmp_path_factory.mktemp("tiny")
    model = root / "model"
    crossbert._synth(model, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, seed=7)
    glue = root / "glue"
    (glue / "SST-2").mkdir(parents=True)
    rng = random.Random(0)
    for split, n in (("train", 80), ("dev", 24)):
        rows = ["sentence\tlabel"] + [f"{s} \t{y}" for s, y in _sentences(rng, n)]
        (glue / "SST-2" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return {"model": model, "data": glue, "root": root}
