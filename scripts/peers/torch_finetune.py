#!/usr/bin/env python3
"""PyTorch fine-tuning benchmark and reference for crossbert's trainer.

Fine-tunes a BERT encoder (a BertModel / sentence-transformers checkpoint directory, e.g.
all-MiniLM-L6-v2) as BertForSequenceClassification on GLUE SST-2 on the CPU, the standard
Hugging Face recipe written out by hand so every choice is visible:

* model: BertForSequenceClassification.from_pretrained(base, num_labels=2), float32; the
  classifier is newly initialised (normal(0, initializer_range), zero bias) after
  torch.manual_seed(seed); the pooler comes from the checkpoint;
* data: shared/glue/SST-2/train.tsv and dev.tsv read the GLUE way (tabs, no quote
  handling); --max-train N keeps the first N training rows in file order; tokenised once
  up front with the base's tokenizer (truncation at --max-len); tokenising is not timed;
* batches: a fresh permutation of the training rows every epoch from a torch.Generator
  seeded with --seed; the last, short batch is kept; dynamic padding (each batch padded to
  its own longest sequence, attention_mask 0 on padding);
* training: train mode (dropout on: hidden 0.1, attention 0.1, classifier 0.1); loss as in
  HF (cross-entropy mean over the batch); AdamW (betas 0.9/0.999, eps 1e-8) with decoupled
  weight decay --weight-decay on every trainable tensor except biases and LayerNorm weights
  (the HF Trainer grouping); gradient-norm clipping at 1.0 over all trainable parameters;
  learning rate linear warm-up over ceil(warmup * total_steps) steps from 0, then linear
  decay to 0 at total_steps = epochs * ceil(rows / batch_size) (--max-steps stops early
  but does not shorten the schedule); --freeze-embeddings freezes
  bert.embeddings.word_embeddings.weight only;
* evaluation: the full SST-2 dev split (872 rows), eval mode, batches of 64 in file order
  with dynamic padding, argmax accuracy.

Timing: wall clock (time.perf_counter) of the training steps only (forward, backward,
clipping, optimizer and scheduler step; batch collation included; tokenising, model loading
and evaluation excluded). sentences_per_s is measured over the training steps after the
first 5 (steps 6..end), which are warm-up for the allocator and thread pool.

On a machine shared with other CPU-bound work (e.g. a cargo build), OpenMP's default
busy-waiting makes 2-thread torch several times slower (measured here with one rustc
running: 5.8 sentences/s with the default policy, 14.9 with OMP_WAIT_POLICY=PASSIVE, 25
on an idle machine). Set OMP_WAIT_POLICY=PASSIVE in the environment for runs that only need
the accuracy, and time only on an idle machine. Threads = --threads (torch.set_num_threads).

The last line printed is one JSON object:
{"sentences_per_s", "train_seconds", "dev_accuracy", "steps", "torch", "threads", ...}.

Example (2 threads, the timing run):

    /work/venv-torch213/bin/python scripts/peers/torch_finetune.py --base /work/cache/base \
        --data ../shared/glue --task sst2 --epochs 1 --lr 5e-5 --batch-size 32 --warmup 0.1 \
        --weight-decay 0.01 --max-train 3200 --max-len 128 --seed 0 --freeze-embeddings \
        --threads 2
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoTokenizer, BertForSequenceClassification  # noqa: E402

SKIP_STEPS = 5  # steps excluded from sentences_per_s


def read_tsv(path: Path) -> list[dict[str, str]]:
    """GLUE reading rules (shared/glue/SOURCES.md): split on tabs, no quote handling."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = [h.lstrip("\ufeff") for h in rows[0]]
    return [dict(zip(header, r)) for r in rows[1:]]


def load_task(data: Path, task: str):
    if task != "sst2":
        raise SystemExit(f"unsupported task {task!r} (only sst2)")
    train = read_tsv(data / "SST-2" / "train.tsv")
    dev = read_tsv(data / "SST-2" / "dev.tsv")

    def split(rows):
        return [r["sentence"] for r in rows], [int(r["label"]) for r in rows]

    return split(train), split(dev), 2


def collate(encoded: list[list[int]], types: list[list[int]], idx, pad_id: int):
    """Dynamic padding: pad the selected rows to their own maximum length."""
    n = max(len(encoded[i]) for i in idx)
    ids = torch.full((len(idx), n), pad_id, dtype=torch.long)
    tt = torch.zeros((len(idx), n), dtype=torch.long)
    am = torch.zeros((len(idx), n), dtype=torch.long)
    for r, i in enumerate(idx):
        k = len(encoded[i])
        ids[r, :k] = torch.tensor(encoded[i])
        tt[r, :k] = torch.tensor(types[i])
        am[r, :k] = 1
    return ids, tt, am


def linear_schedule(warmup_steps: int, total_steps: int):
    def f(step: int) -> float:  # multiplier for the lr used at optimizer step `step` (0-based)
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return f


@torch.no_grad()
def evaluate(model, enc, types, labels, pad_id, batch_size=64) -> float:
    model.eval()
    correct = 0
    for s in range(0, len(labels), batch_size):
        idx = list(range(s, min(s + batch_size, len(labels))))
        ids, tt, am = collate(enc, types, idx, pad_id)
        logits = model(input_ids=ids, attention_mask=am, token_type_ids=tt).logits
        pred = logits.argmax(-1)
        correct += int((pred == torch.tensor([labels[i] for i in idx])).sum())
    return correct / len(labels)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, required=True, help="BertModel / sentence-transformers checkpoint dir")
    ap.add_argument("--data", type=Path, required=True, help="GLUE root (holds SST-2/)")
    ap.add_argument("--task", default="sst2", choices=["sst2"])
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=0.1, help="fraction of total steps")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-train", type=int, default=None, help="first N training rows")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--freeze-embeddings", action="store_true", help="freeze word embeddings only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=None, help="stop after N steps (timing)")
    ap.add_argument("--log-every", type=int, default=20, help="steps per throughput window")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"], help="attention kernel")
    ap.add_argument("--no-eval", action="store_true", help="skip the dev evaluation")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    (tr_text, tr_lab), (dv_text, dv_lab), num_labels = load_task(args.data, args.task)
    if args.max_train is not None:
        tr_text, tr_lab = tr_text[: args.max_train], tr_lab[: args.max_train]

    tok = AutoTokenizer.from_pretrained(str(args.base), local_files_only=True)
    t0 = time.perf_counter()
    tr = tok(tr_text, truncation=True, max_length=args.max_len)
    dv = tok(dv_text, truncation=True, max_length=args.max_len)
    tok_s = time.perf_counter() - t0
    pad_id = tok.pad_token_id

    torch.manual_seed(args.seed)  # classifier initialisation
    model = BertForSequenceClassification.from_pretrained(
        str(args.base),
        num_labels=num_labels,
        attn_implementation=args.attn,
        dtype=torch.float32,
        local_files_only=True,
    )
    if args.freeze_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if name.endswith(".bias") or "LayerNorm" in name else decay).append(p)
    trainable = decay + no_decay
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.999),
        eps=1e-8,
    )
    steps_per_epoch = math.ceil(len(tr_lab) / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    warmup_steps = math.ceil(args.warmup * total_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(warmup_steps, total_steps))
    run_steps = total_steps if args.max_steps is None else min(total_steps, args.max_steps)

    n_trainable = sum(p.numel() for p in trainable)
    print(
        f"torch {torch.__version__}  transformers {transformers.__version__}  python {platform.python_version()}  "
        f"threads {torch.get_num_threads()}  attn {args.attn}",
        flush=True,
    )
    print(
        f"task {args.task}: train rows {len(tr_lab)}, dev rows {len(dv_lab)}; tokenised in {tok_s:.1f} s (untimed); "
        f"trainable params {n_trainable}; steps/epoch {steps_per_epoch}, total {total_steps}, "
        f"warm-up {warmup_steps}, running {run_steps}",
        flush=True,
    )

    gen = torch.Generator().manual_seed(args.seed)
    enc, types = tr["input_ids"], tr["token_type_ids"]
    labels_t = torch.tensor(tr_lab, dtype=torch.long)
    step = 0
    step_times: list[float] = []
    step_sizes: list[int] = []
    win_t, win_n, win_loss = 0.0, 0, 0.0
    train_start = time.perf_counter()
    model.train()
    done = False
    for epoch in range(args.epochs):
        perm = torch.randperm(len(tr_lab), generator=gen).tolist()
        for s in range(0, len(perm), args.batch_size):
            if step >= run_steps:
                done = True
                break
            t = time.perf_counter()
            idx = perm[s : s + args.batch_size]
            ids, tt, am = collate(enc, types, idx, pad_id)
            out = model(input_ids=ids, attention_mask=am, token_type_ids=tt, labels=labels_t[idx])
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            loss = float(out.loss.detach())
            dt = time.perf_counter() - t
            step += 1
            step_times.append(dt)
            step_sizes.append(len(idx))
            win_t += dt
            win_n += len(idx)
            win_loss += loss
            if step % args.log_every == 0 or step == run_steps:
                k = (step - 1) % args.log_every + 1
                print(
                    f"epoch {epoch} step {step}/{run_steps}  loss {win_loss / k:.4f}  "
                    f"lr {sched.get_last_lr()[0]:.3e}  {win_n / win_t:.1f} sentences/s "
                    f"(window of {k} steps)",
                    flush=True,
                )
                win_t, win_n, win_loss = 0.0, 0, 0.0
        if done:
            break
    train_seconds = time.perf_counter() - train_start

    timed = step_times[SKIP_STEPS:]
    timed_n = sum(step_sizes[SKIP_STEPS:])
    sps = timed_n / sum(timed) if timed else float("nan")
    print(
        f"trained {step} steps ({sum(step_sizes)} sentences) in {train_seconds:.1f} s; "
        f"{sps:.2f} sentences/s over steps {SKIP_STEPS + 1}..{step} (first {SKIP_STEPS} steps excluded)",
        flush=True,
    )

    acc = None
    if not args.no_eval:
        t = time.perf_counter()
        acc = evaluate(model, dv["input_ids"], dv["token_type_ids"], dv_lab, pad_id)
        print(f"dev accuracy {acc:.4f} on {len(dv_lab)} rows ({time.perf_counter() - t:.1f} s)", flush=True)

    result = {
        "sentences_per_s": round(sps, 3),
        "train_seconds": round(train_seconds, 2),
        "dev_accuracy": acc,
        "steps": step,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "attn": args.attn,
        "task": args.task,
        "train_rows": len(tr_lab),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "timed_steps": len(timed),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
