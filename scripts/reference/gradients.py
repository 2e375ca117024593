#!/usr/bin/env python3
"""Reference gradients of BertForSequenceClassification, for crossbert's backward pass.

Writes tests/fixtures/gradients/ (described in the README.md there):

* tiny-gelu, tiny-gelu_new, tiny-relu, tiny-regression: tiny random checkpoints
  (float32 safetensors + config.json + vocab.txt), a 4-sequence batch (batch.json)
  and the full float64 gradient of the mean loss w.r.t. every named parameter
  (grads.safetensors).
* minilm-sst2, minilm-stsb: the first 8 dev rows of SST-2 / STS-B through the real
  fine-tuned checkpoints in shared/models (batch.json), and a sample of every
  parameter's gradient (grads-sample.json).

Conventions: every computation in float64 (parameters are the float32 / float16 values of
the checkpoint on disk, widened exactly with .double()), eager attention, model.eval()
(dropout off) with gradients enabled, loss exactly as Hugging Face computes it
(cross-entropy mean over the batch for num_labels > 1, MSE mean for num_labels == 1),
inputs padded on the right to the batch maximum with attention_mask 0 on padding.

Usage (from the repository root):

    /work/venv-torch213/bin/python scripts/reference/gradients.py \
        --models ../shared/models --glue ../shared/glue --out tests/fixtures/gradients
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification  # noqa: E402

TINY_VARIANTS = [
    # name, hidden_act, num_labels, problem_type, torch seed
    ("tiny-gelu", "gelu", 2, "single_label_classification", 1001),
    ("tiny-gelu_new", "gelu_new", 3, "single_label_classification", 1002),
    ("tiny-relu", "relu", 2, "single_label_classification", 1003),
    ("tiny-regression", "gelu", 1, "regression", 1004),
]
TINY_VOCAB = 100
PERTURB_STD = 0.05
BATCH_SEED = 7
N_SAMPLES = 64
WORD_EMB = "bert.embeddings.word_embeddings.weight"
WORD_EMB_COLS = 8


# --------------------------------------------------------------------------- helpers


def pad_batch(input_ids: list[list[int]], token_type_ids: list[list[int]]):
    """Right-pad to the batch maximum: ids 0, token type 0, attention_mask 0 on padding."""
    n = max(len(s) for s in input_ids)
    ids = torch.zeros((len(input_ids), n), dtype=torch.long)
    tt = torch.zeros_like(ids)
    am = torch.zeros_like(ids)
    for i, (s, t) in enumerate(zip(input_ids, token_type_ids)):
        ids[i, : len(s)] = torch.tensor(s)
        tt[i, : len(t)] = torch.tensor(t)
        am[i, : len(s)] = 1
    return ids, tt, am


def forward_backward(model, input_ids, token_type_ids, labels):
    """float64 forward + backward of the HF loss; returns (loss, logits, {name: grad})."""
    model.eval()  # dropout off
    model.zero_grad(set_to_none=True)
    ids, tt, am = pad_batch(input_ids, token_type_ids)
    if model.config.num_labels == 1:
        lab = torch.tensor(labels, dtype=torch.float64)
    else:
        lab = torch.tensor(labels, dtype=torch.long)
    with torch.enable_grad():
        out = model(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=lab)
        out.loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad
        grads[name] = torch.zeros_like(p) if g is None else g.detach().clone()
        assert grads[name].dtype == torch.float64, name
    return float(out.loss.detach()), out.logits.detach().tolist(), grads


def load_double(path: Path) -> BertForSequenceClassification:
    # Load the stored values as float32 (float16 checkpoints widen exactly), then widen to float64.
    model = BertForSequenceClassification.from_pretrained(
        str(path), attn_implementation="eager", dtype=torch.float32, local_files_only=True
    )
    return model.double()


def write_json(path: Path, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")


def batch_fixture(d, model, input_ids, token_type_ids, labels, **extra):
    """Runs the batch forward and backward; writes batch.json (inputs, labels, loss,
    logits and any `extra` fields); returns the loss and the gradients."""
    loss, logits, grads = forward_backward(model, input_ids, token_type_ids, labels)
    batch = {
        "input_ids": input_ids,
        "token_type_ids": token_type_ids,
        "labels": labels,
        "loss": loss,
        "logits": logits,
    }
    write_json(d / "batch.json", {**batch, **extra})
    return loss, grads


def zero_report(grads: dict[str, torch.Tensor]) -> list[str]:
    """Parameters whose whole gradient is exactly zero or tiny relative to the largest norm."""
    norms = {k: float(v.norm()) for k, v in grads.items()}
    top = max(norms.values())
    lines = []
    for k, n in norms.items():
        if n == 0.0:
            lines.append(f"    {k}: exactly 0")
        elif n < 1e-9 * top:
            lines.append(f"    {k}: norm {n:.3e} (round-off; max norm {top:.3e})")
    return lines


# --------------------------------------------------------------------------- tiny models


def tiny_batch(num_labels: int, label_seed: int):
    """4 sequences of lengths 7, 12, 3, 9; the 2nd and 4th are pairs."""
    g = np.random.default_rng(BATCH_SEED)

    def words(n):
        return [int(x) for x in g.integers(5, TINY_VOCAB, size=n)]

    input_ids, token_type_ids = [], []
    # (len of segment A words, len of segment B words or None)
    layout = [(5, None), (5, 4), (1, None), (3, 3)]  # totals 7, 12, 3, 9
    for a, b in layout:
        ids = [2] + words(a) + [3]
        tt = [0] * len(ids)
        if b is not None:
            ids += words(b) + [3]
            tt += [1] * (b + 1)
        input_ids.append(ids)
        token_type_ids.append(tt)
    assert [len(s) for s in input_ids] == [7, 12, 3, 9]
    lg = np.random.default_rng(label_seed)
    if num_labels == 1:
        labels = [round(float(x), 4) for x in lg.uniform(-1.0, 2.0, size=4)]
    else:
        labels = [int(x) for x in lg.integers(0, num_labels, size=4)]
        if len(set(labels)) == 1:  # keep both gradient signs in play
            labels[0] = (labels[0] + 1) % num_labels
    return input_ids, token_type_ids, labels


def build_tiny(out: Path, name: str, act: str, num_labels: int, problem_type: str, seed: int):
    d = out / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
    config = BertConfig(
        vocab_size=TINY_VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_act=act,
        max_position_embeddings=40,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        initializer_range=0.2,
        num_labels=num_labels,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        problem_type=problem_type,
        pad_token_id=0,
    )
    config.architectures = ["BertForSequenceClassification"]
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).float()
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(torch.randn(p.shape, dtype=p.dtype) * PERTURB_STD)
    model.save_pretrained(str(d))
    # transformers 5 leaves out fields equal to their defaults (e.g. id2label for 2 labels named
    # LABEL_0/LABEL_1); write them explicitly so every reader sees the label map.
    cfg = json.loads((d / "config.json").read_text())
    cfg["architectures"] = ["BertForSequenceClassification"]
    cfg["id2label"] = {str(k): v for k, v in id2label.items()}
    cfg["label2id"] = {v: k for k, v in id2label.items()}
    cfg["problem_type"] = problem_type
    (d / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"tok{i}" for i in range(5, TINY_VOCAB)]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n")

    # Reload the float32 file that crossbert will read, and compute in float64 from it.
    model = load_double(d)
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k].double()), f"reload mismatch {k}"
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["architectures"] == ["BertForSequenceClassification"], cfg.get("architectures")
    assert "id2label" in cfg and "label2id" in cfg

    input_ids, token_type_ids, labels = tiny_batch(num_labels, seed)
    loss, grads = batch_fixture(d, model, input_ids, token_type_ids, labels)
    save_file({k: v.contiguous() for k, v in grads.items()}, str(d / "grads.safetensors"))
    return loss, grads


# --------------------------------------------------------------------------- real models


def read_tsv(path: Path) -> list[dict[str, str]]:
    # GLUE reading rules (shared/glue/SOURCES.md): tabs, no quote handling.
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = [h.lstrip("\ufeff") for h in rows[0]]
    return [dict(zip(header, r)) for r in rows[1:]]


def sample_indices(n: int) -> list[int]:
    if n < N_SAMPLES:
        return list(range(n))
    return [(j * n) // N_SAMPLES for j in range(N_SAMPLES)]


def grads_sample(grads: dict[str, torch.Tensor], token_ids: set[int]) -> dict:
    out = {}
    for name, g in grads.items():
        flat = g.reshape(-1)
        if name == WORD_EMB:
            cols = g.shape[1]
            idx = [r * cols + c for r in sorted(token_ids) for c in range(min(WORD_EMB_COLS, cols))]
        else:
            idx = sample_indices(flat.numel())
        out[name] = {
            "shape": list(g.shape),
            "norm": float(g.norm()),
            "indices": idx,
            "values": [float(flat[i]) for i in idx],
        }
    return out


def build_real(models: Path, glue: Path, out: Path, name: str, rows: int = 8):
    src = models / name
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(str(src), local_files_only=True)
    model = load_double(src)
    if name == "minilm-sst2":
        data = read_tsv(glue / "SST-2" / "dev.tsv")[:rows]
        texts = [[r["sentence"]] for r in data]
        enc = tok([r["sentence"] for r in data], truncation=True, max_length=128)
        labels = [int(r["label"]) for r in data]
    elif name == "minilm-stsb":
        data = read_tsv(glue / "STS-B" / "dev.tsv")[:rows]
        texts = [[r["sentence1"], r["sentence2"]] for r in data]
        enc = tok(
            [r["sentence1"] for r in data],
            [r["sentence2"] for r in data],
            truncation=True,
            max_length=128,
        )
        labels = [float(r["score"]) for r in data]
    else:
        raise ValueError(name)
    input_ids = [list(map(int, s)) for s in enc["input_ids"]]
    token_type_ids = [list(map(int, s)) for s in enc["token_type_ids"]]
    loss, grads = batch_fixture(d, model, input_ids, token_type_ids, labels, text=texts)
    ids_present = {t for s in input_ids for t in s}
    write_json(d / "grads-sample.json", grads_sample(grads, ids_present))
    return loss, grads


# --------------------------------------------------------------------------- main


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=root.parent / "shared" / "models")
    ap.add_argument("--glue", type=Path, default=root.parent / "shared" / "glue")
    ap.add_argument("--out", type=Path, default=root / "tests" / "fixtures" / "gradients")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"python {platform.python_version()}  torch {torch.__version__}  "
        f"transformers {transformers.__version__}  safetensors {safetensors.__version__}  "
        f"numpy {np.__version__}"
    )
    summary = {}
    for name, act, nl, pt, seed in TINY_VARIANTS:
        loss, grads = build_tiny(args.out, name, act, nl, pt, seed)
        summary[name] = loss
        print(f"{name}: loss {loss!r}")
        for line in zero_report(grads):
            print(line)
    for name in ("minilm-sst2", "minilm-stsb"):
        loss, grads = build_real(args.models, args.glue, args.out, name)
        summary[name] = loss
        print(f"{name}: loss {loss!r}")
        for line in zero_report(grads):
            print(line)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"fixtures total {total} bytes under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
