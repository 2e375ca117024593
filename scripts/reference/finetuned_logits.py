"""Logits of a checkpoint written by `crossbert finetune`, computed by Hugging Face
transformers: the reference that tests/training.rs holds crossbert's own logits to (1e-3).

It loads the directory with `AutoConfig`/`AutoTokenizer`/`AutoModelForSequenceClassification`
exactly as a user would (so it also checks that transformers accepts the checkpoint: config,
tensor names and shapes, tokenizer files), tokenizes the dev split of a GLUE-layout folder
and writes one row of logits per dev sentence, in file order.

Regenerate the committed fixture (after a change to training that changes its result):

    cargo build --release
    target/release/crossbert finetune --base tests/fixtures/gradients/tiny-gelu --task sst2 \
        --data tests/fixtures/finetune --out /tmp/tiny-gelu-sst2 --epochs 2 --lr 1e-3 \
        --batch-size 8 --seed 3
    /work/venv-torch213/bin/python scripts/reference/finetuned_logits.py \
        --checkpoint /tmp/tiny-gelu-sst2 --data tests/fixtures/finetune --task sst2 \
        --out tests/fixtures/finetune/tiny-gelu-sst2.logits.json
"""

import argparse
import csv
import json
import sys

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer

FOLDERS = {"sst2": ("SST-2", ["sentence"]), "stsb": ("STS-B", ["sentence1", "sentence2"])}


def dev_rows(data, task):
    folder, columns = FOLDERS[task]
    with open(f"{data}/{folder}/dev.tsv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [[row[c] for c in columns] for row in reader]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--task", choices=sorted(FOLDERS), required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(a.checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(
        a.checkpoint, attn_implementation="eager"
    ).eval()
    logits = []
    with torch.no_grad():
        for texts in dev_rows(a.data, a.task):
            enc = tokenizer(*texts, return_tensors="pt", truncation=True, max_length=128)
            logits.append(model(**enc).logits[0].tolist())
    out = {
        "checkpoint_config": json.load(open(f"{a.checkpoint}/config.json")),
        "logits": logits,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "python": sys.version.split()[0]},
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"{len(logits)} rows -> {a.out}")


if __name__ == "__main__":
    main()
