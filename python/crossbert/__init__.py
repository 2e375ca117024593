"""crossbert: BERT inference emulated on resistive-memory (ReRAM) crossbar hardware.

The Python face of the Rust emulator (the same library the ``crossbert`` command runs):

* :func:`evaluate` -- a checkpoint's GLUE metrics, digitally or on a chip, with logits
  (the dict ``crossbert eval --json`` prints);
* :func:`sweep` and :func:`read_results` -- an experiment spec into a results CSV, and
  that CSV as a pandas DataFrame;
* :func:`hardware` and :func:`presets` -- resolved hardware descriptions, with dotted-key
  overrides;
* :func:`program` -- one weight matrix on crossbar arrays, without BERT: calibrate, run,
  count events and price them.

Every error of the emulator raises :class:`CrossbertError` (a ``RuntimeError``), or
:class:`CrossbertValueError` (also a ``ValueError``) for bad arguments, descriptions and
shapes; the message is the text the command line prints after ``error:``. Long calls
release the GIL.
"""

from __future__ import annotations

import json
import os
import tomllib
from typing import Any, Mapping, Optional, Union

import numpy as np

from . import _crossbert
from ._errors import CrossbertError, CrossbertValueError

__all__ = [
    "CrossbertError",
    "CrossbertValueError",
    "MappedMatrix",
    "evaluate",
    "hardware",
    "presets",
    "program",
    "read_results",
    "sweep",
]

__version__ = _crossbert.__version__

PathLike = Union[str, "os.PathLike[str]"]
HardwareLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def _hardware_arg(hw: HardwareLike, *, name_is: str = "preset_or_file") -> tuple[str, str]:
    """(kind, value) for the native module: a dict as JSON, a path as a file, else a name."""
    if isinstance(hw, Mapping):
        return "json", json.dumps(dict(hw))
    if isinstance(hw, os.PathLike):
        return "file", os.fspath(hw)
    if isinstance(hw, str):
        return name_is, hw
    raise CrossbertValueError(
        "hardware: expected a preset name, a .toml path or a dict from crossbert.hardware, "
        f"found {type(hw).__name__}"
    )


def _at_least_one(name: str, value: Optional[int]) -> None:
    if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
        raise CrossbertValueError(f"{name}: expected a whole number of at least 1, found {value!r}")


def presets() -> dict[str, str]:
    """The shipped hardware presets: name -> one-line summary (``crossbert presets``)."""
    return dict(_crossbert.presets())


def hardware(preset_or_file: HardwareLike, **overrides: Any) -> dict[str, Any]:
    """The fully resolved hardware description as a dict.

    ``preset_or_file`` is a preset name (see :func:`presets`), a hardware TOML file
    (a ``str`` ending in ``.toml`` or any ``os.PathLike``) or a dict such as this function
    returns. The result is what ``crossbert hardware --preset NAME`` (or ``--show FILE``)
    prints, parsed with :mod:`tomllib`.

    ``overrides`` are dotted keys applied as a sweep grid applies a point: each must name
    a leaf setting of the resolved description and keep its type (an int is accepted
    where a float is expected), e.g.
    ``crossbert.hardware("reram-cmo", **{"mapping.adc.adc_bits": 6})``. An unknown key,
    a wrong type or an invalid value raises :class:`CrossbertValueError` naming the key.
    """
    kind, value = _hardware_arg(preset_or_file)
    text = _crossbert.hardware_toml(kind, value, json.dumps(overrides))
    return tomllib.loads(text)


def evaluate(
    model: PathLike,
    task: str,
    data: PathLike,
    preset: Optional[str] = None,
    hardware: Optional[HardwareLike] = None,
    seed: int = 0,
    limit: Optional[int] = None,
    split: str = "dev",
    max_len: int = 128,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Evaluate a Hugging Face BERT checkpoint on a GLUE task's split.

    Runs exactly what ``crossbert eval --json`` runs and returns the dict it prints:
    digitally in float32 when neither ``preset`` nor ``hardware`` is given; otherwise the
    digital baseline, then chip instance ``seed`` of the hardware (programmed,
    calibrated on the first ``calibration.examples`` TRAIN examples, scored), with
    ``digital_value``, ``difference``, energy, latency and area per inference.

    Args:
        model: checkpoint directory (``config.json``, safetensors, tokenizer files).
        task: ``cola``, ``sst2``, ``mrpc``, ``stsb``, ``qqp``, ``mnli``, ``mnli-mm``,
            ``qnli``, ``rte`` or ``wnli``.
        data: GLUE data directory holding the task folders (``SST-2/``, ...).
        preset: a shipped hardware preset name (``--preset``).
        hardware: a hardware TOML file or a dict from :func:`hardware` (``--hardware``);
            a ``str`` not ending in ``.toml`` is taken as a preset name.
        seed: chip instance (programming draws and read noise).
        limit: evaluate only the first ``limit`` examples.
        split: ``dev`` or ``train``.
        max_len: tokens per example, special tokens included.
        batch_size: sequences per batch.

    Returns:
        The report dict plus ``"logits"``: a float32 array (examples x labels), the
        chip's logits for an analog run.
    """
    if preset is not None and hardware is not None:
        raise CrossbertValueError("evaluate: expected preset or hardware, found both")
    _at_least_one("limit", limit)
    _at_least_one("max_len", max_len)
    _at_least_one("batch_size", batch_size)
    hw_kind = hw_value = None
    if preset is not None:
        hw_kind, hw_value = "preset", preset
    elif hardware is not None:
        hw_kind, hw_value = _hardware_arg(hardware)
    text, logits = _crossbert.evaluate(
        os.fspath(model),
        task,
        os.fspath(data),
        hw_kind,
        hw_value,
        int(seed),
        None if limit is None else int(limit),
        split,
        int(max_len),
        int(batch_size),
    )
    report = json.loads(text)
    report["logits"] = logits
    return report


def sweep(
    spec: PathLike,
    out: Optional[PathLike] = None,
    resume: bool = False,
    shard: Union[None, str, tuple[int, int]] = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Run an experiment spec (a hardware sweep) into a results CSV, as ``crossbert sweep``.

    Args:
        spec: the experiment spec (TOML).
        out: results CSV; default the spec's ``output`` (relative paths are relative to
            the current directory, as for the command).
        resume: continue an existing results file, skipping finished rows.
        shard: run only shard ``"I/N"`` (or ``(I, N)``), 0-based.
        threads: rows evaluated in parallel.

    Returns:
        ``{"planned", "skipped", "ran", "out", "shard"}``: rows of this shard, rows found
        finished and skipped, rows run now, the results path and the shard.
    """
    _at_least_one("threads", threads)
    if isinstance(shard, tuple):
        shard = f"{shard[0]}/{shard[1]}"
    planned, skipped, ran, path, shard_text = _crossbert.sweep(
        os.fspath(spec),
        None if out is None else os.fspath(out),
        bool(resume),
        shard,
        int(threads),
    )
    return {
        "planned": planned,
        "skipped": skipped,
        "ran": ran,
        "out": os.fspath(path),
        "shard": shard_text,
    }


# Columns of a results file that are text whatever their cells look like.
_TEXT_COLUMNS = ("model", "task", "split", "scope", "metric", "version", "config_hash", "shard")


def read_results(path: PathLike):
    """A sweep's results CSV as a pandas DataFrame, one row per (model, task, point, seed).

    Only empty cells (and ``NaN``) are missing values, so a setting such as ``none`` stays
    text; ``limit`` is a nullable integer (``<NA>`` for whole splits); identifiers
    (``model``, ``task``, ``config_hash``, ``shard``, ...) are strings.
    """
    import pandas as pd

    with open(path, newline="") as f:
        header = f.readline().rstrip("\r\n").split(",")
    dtype: dict[str, Any] = {c: str for c in _TEXT_COLUMNS if c in header}
    if "limit" in header:
        dtype["limit"] = "Int64"
    return pd.read_csv(path, dtype=dtype, keep_default_na=False, na_values=["", "NaN", "nan"])


def _matrix(name: str, x: Any) -> np.ndarray:
    """``x`` as a C-contiguous float32 matrix, or a CrossbertValueError naming ``name``."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise CrossbertValueError(
            f"{name}: expected a 2-D array, found shape {tuple(a.shape)}"
        )
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise CrossbertValueError(f"{name}: expected real numbers, found dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


class MappedMatrix:
    """A weight matrix programmed onto crossbar arrays (make one with :func:`program`).

    ``y = x @ W.T`` runs on the emulated arrays: DAC cycles, analog MVMs, ADCs and the
    digital shift-and-add of every tile, with the device effects of the hardware
    description drawn for the chip instance ``seed``.
    """

    def __init__(self, native: Any):
        self._native = native

    @property
    def in_features(self) -> int:
        """Inputs per token (columns of the weight)."""
        return self._native.in_features

    @property
    def out_features(self) -> int:
        """Outputs per token (rows of the weight)."""
        return self._native.out_features

    def calibrate(self, x: Any) -> None:
        """Set calibrated input scale and ADC ranges from sample inputs ``x`` (tokens x in).

        Needed before :meth:`forward` when the hardware calibrates (``input_scale`` or
        ``adc.range`` calibrated); replaces any earlier calibration.
        """
        self._native.calibrate(_matrix("x", x))

    def forward(self, x: Any, first_read: Optional[int] = None) -> dict[str, Any]:
        """Run ``x`` (tokens x in) through the arrays.

        Per-read noise of token ``i`` is drawn for read id ``first_read + i``; by default
        each call continues after the ids of the previous one (a new draw every pass).

        Returns:
            ``{"outputs": float32 array (tokens x out), "events": the mapping's event
            counts, "energy_pj": energy by component (pJ, priced with the hardware's
            technology table), "energy_total_pj": their sum}``.
        """
        outputs, events, by_component = self._native.forward(_matrix("x", x), first_read)
        energy_pj = json.loads(by_component)
        return {
            "outputs": outputs,
            "events": json.loads(events),
            "energy_pj": energy_pj,
            "energy_total_pj": sum(energy_pj.values()),
        }

    def report(self) -> dict[str, Any]:
        """Arrays, tiles, cells used and total, utilization, ADCs, stored bytes and the
        events of one token (``mapping::MappingReport``), plus ``hardware`` and ``seed``."""
        return json.loads(self._native.report())

    def hardware(self) -> dict[str, Any]:
        """The resolved hardware description this matrix was programmed with."""
        return tomllib.loads(self._native.hardware_toml())

    def __repr__(self) -> str:
        r = self.report()
        return (
            f"<crossbert.MappedMatrix {r['out_features']}x{r['in_features']} on "
            f"{r['hardware']} ({r['fidelity']}): {r['arrays']} arrays, seed {r['seed']}>"
        )


def program(weight: Any, hardware: HardwareLike = "isaac-32nm", seed: int = 0) -> MappedMatrix:
    """Program ``weight`` (out x in, PyTorch ``Linear`` layout) onto crossbar arrays.

    Args:
        weight: real matrix, out_features x in_features; ``y = x @ weight.T``.
        hardware: a preset name, a hardware TOML file, or a dict from :func:`hardware`.
            Its ``mapping`` section (fidelity ``bit_sliced`` or ``one_shot``, bits,
            arrays, converters), ``device`` section and ``energy`` table are used.
        seed: chip instance: fixes every programming draw.
    """
    kind, value = _hardware_arg(hardware)
    return MappedMatrix(_crossbert.program(_matrix("weight", weight), kind, value, int(seed)))


def _synth(
    out: PathLike,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    num_labels: int = 2,
    seed: int = 0,
    **config: Any,
) -> dict[str, int]:
    """For tests: write a random-weight BERT checkpoint (``crossbert synth-checkpoint``)
    of the given size, with a generated ``vocab.txt``, into ``out``."""
    full = {
        "model_type": "bert",
        "vocab_size": 30522,
        "hidden_size": hidden_size,
        "num_hidden_layers": num_hidden_layers,
        "num_attention_heads": num_attention_heads,
        "intermediate_size": intermediate_size,
        "hidden_act": "gelu",
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
    }
    full.update(config)
    tensors, parameters, weight_bytes = _crossbert.synth(
        os.fspath(out), json.dumps(full), int(seed), int(num_labels)
    )
    return {"tensors": tensors, "parameters": parameters, "weight_bytes": weight_bytes}
