#!/usr/bin/env python3
"""Tiny DistilBERT / RoBERTa / ALBERT / ELECTRA checkpoints and float64 reference logits,
for crossbert's parity tests of the non-BERT families.

Writes tests/fixtures/families/<name>/ (described in the README.md there) for
name in distilbert, roberta, roberta-type1, albert, electra:

* a tiny randomly initialised `*ForSequenceClassification` checkpoint (fixed torch seed,
  every parameter then perturbed with seeded N(0, 0.05^2) noise), saved with
  `save_pretrained` in float32 (`model.safetensors`, `config.json`);
* its tokenizer, trained with the `tokenizers` library on the first 400 sentences of
  GLUE SST-2 train and saved with the transformers tokenizer class of the family
  (`tokenizer.json`, `tokenizer_config.json`, plus `vocab.txt` for WordPiece and
  `vocab.json` + `merges.txt` for byte-level BPE);
* `reference.json`: 8 SST-2 dev sentences and 4 MRPC dev pairs, tokenised by
  `AutoTokenizer` from the saved directory (truncation to 32 tokens), with the float64
  logits of each example alone and of all 12 as one right-padded batch.

Conventions as scripts/reference/gradients.py: the float64 references come from the
float32 file on disk, loaded and widened with `.double()`; eager attention; model.eval().
After writing, every fixture is checked (see `verify`): the Auto classes reproduce the
logits in float32 to 1e-5, and the raw `tokenizers` library reading `tokenizer.json`
gives the same ids as `AutoTokenizer`.

Usage (from the repository root):

    /work/venv-torch213/bin/python scripts/reference/families.py \
        --glue ../shared/glue --out tests/fixtures/families

`--verify-only` checks existing fixtures without rewriting them.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Train the tokenizers single-threaded, so their output cannot depend on scheduling.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAYON_RS_NUM_CPUS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors import safe_open  # noqa: E402
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AlbertConfig,
    AlbertForSequenceClassification,
    AlbertTokenizer,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertTokenizer,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DistilBertTokenizer,
    ElectraConfig,
    ElectraForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
    RobertaTokenizer,
)

# Model sizes shared by every family.
HIDDEN = 32
LAYERS = 2
HEADS = 4
INTERMEDIATE = 64
MAX_POSITIONS = 64  # RoBERTa gets MAX_POSITIONS + 2 (its positions start at pad_token_id + 1)
EMBEDDING = 16  # ALBERT and ELECTRA: embedding_size < hidden_size
INIT_RANGE = 0.2
PERTURB_STD = 0.05
ID2LABEL = {0: "negative", 1: "neutral", 2: "positive"}

# Tokenizers.
TRAIN_ROWS = 400  # first rows of SST-2 train
VOCAB = 400
MAX_LEN = 32  # truncation of the reference inputs (longest_first for pairs)

# Reference inputs: 0-based data rows (header excluded) of the GLUE dev files.
SST2_ROWS = [0, 1, 2, 4, 6, 7, 9, 22]  # 4 to 33 words: some short, some cut at MAX_LEN
MRPC_ROWS = [0, 1, 76, 359]  # the first two pairs and the two shortest

# name, torch seed, tokenizer kind, model class
FIXTURES = [
    ("distilbert", 2001, "wordpiece", DistilBertForSequenceClassification),
    ("roberta", 2002, "bytelevel-bpe", RobertaForSequenceClassification),
    ("roberta-type1", 2003, "bytelevel-bpe", RobertaForSequenceClassification),
    ("albert", 2004, "unigram", AlbertForSequenceClassification),
    ("electra", 2005, "wordpiece", ElectraForSequenceClassification),
]


# --------------------------------------------------------------------------- data


def read_tsv(path: Path) -> list[dict[str, str]]:
    # GLUE reading rules (shared/glue/SOURCES.md): tabs, no quote handling; MRPC's header has a BOM.
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    header = [h.lstrip("\ufeff") for h in rows[0]]
    return [dict(zip(header, r)) for r in rows[1:]]


def reference_inputs(glue: Path) -> list[dict]:
    sst = read_tsv(glue / "SST-2" / "dev.tsv")
    mrpc = read_tsv(glue / "MRPC" / "dev.tsv")
    out = []
    for i in SST2_ROWS:
        r = sst[i]
        out.append({"task": "SST-2", "row": i, "text": [r["sentence"]], "label": int(r["label"])})
    for i in MRPC_ROWS:
        r = mrpc[i]
        out.append(
            {"task": "MRPC", "row": i, "text": [r["#1 String"], r["#2 String"]], "label": int(r["Quality"])}
        )
    return out


# --------------------------------------------------------------------------- tokenizers


def train_wordpiece(corpus: list[str]) -> Tokenizer:
    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # The trainer gives the "##c" continuation characters ids in hash-map order, which changes
    # from run to run and, through tie-breaking between equally frequent merges, changes the
    # vocabulary itself. Listing them up front (sorted) as initial tokens fixes both.
    chars = sorted(
        {
            c
            for s in corpus
            for w, _ in t.pre_tokenizer.pre_tokenize_str(t.normalizer.normalize_str(s))
            for c in w
        }
    )
    t.train_from_iterator(
        corpus,
        trainers.WordPieceTrainer(
            vocab_size=VOCAB,
            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"##{c}" for c in chars],
            show_progress=False,
        ),
    )
    return t


def train_bytelevel_bpe(corpus: list[str]) -> Tokenizer:
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=VOCAB,
            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],  # ids 0..4, pad = 1
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    return t


def train_unigram(corpus: list[str]) -> Tokenizer:
    # The same normalizer and pre-tokenizer as transformers' AlbertTokenizer builds.
    t = Tokenizer(models.Unigram())
    t.normalizer = normalizers.Sequence(
        [
            normalizers.Replace("``", '"'),
            normalizers.Replace("''", '"'),
            normalizers.NFKD(),
            normalizers.StripAccents(),
            normalizers.Lowercase(),
        ]
    )
    t.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    t.train_from_iterator(
        corpus,
        trainers.UnigramTrainer(
            vocab_size=VOCAB,
            special_tokens=["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"],  # AlbertTokenizer: unk_id 1
            unk_token="<unk>",
            show_progress=False,
        ),
    )
    return t


def save_tokenizer(kind: str, name: str, corpus: list[str], d: Path) -> int:
    """Trains the tokenizer, saves it with the family's transformers class; returns vocab size."""
    if kind == "wordpiece":
        trained = train_wordpiece(corpus)
        vocab = trained.get_vocab()
        cls = DistilBertTokenizer if name == "distilbert" else BertTokenizer
        tok = cls(vocab=vocab, do_lower_case=True, model_max_length=MAX_POSITIONS)
        tok.save_pretrained(str(d))
        trained.model.save(str(d))  # vocab.txt, one token per line in id order
    elif kind == "bytelevel-bpe":
        trained = train_bytelevel_bpe(corpus)
        spec = json.loads(trained.to_str())["model"]
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in spec["merges"]]
        tok = RobertaTokenizer(vocab=spec["vocab"], merges=merges, model_max_length=MAX_POSITIONS)
        tok.save_pretrained(str(d))
        trained.model.save(str(d))  # vocab.json, merges.txt
    elif kind == "unigram":
        trained = train_unigram(corpus)
        spec = json.loads(trained.to_str())["model"]
        # The trainer's scores vary in their last bits from run to run, and the characters it
        # appends for coverage get scores min - k*1e-4 with k in hash-map order. Scores rounded
        # to 3 decimals, pieces sorted by (score descending, piece), make the file reproducible.
        special = [(p, s) for p, s in spec["vocab"][:5]]
        assert [p for p, _ in special] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"], special
        rest = sorted(((p, round(s, 3)) for p, s in spec["vocab"][5:]), key=lambda x: (-x[1], x[0]))
        vocab = special + rest
        # transformers 5's AlbertTokenizer leaves token_type_ids out of its outputs by default
        # (huggingface/transformers#48128); the checkpoint asks for them, as ALBERT uses segments.
        tok = AlbertTokenizer(
            vocab=vocab,
            model_max_length=MAX_POSITIONS,
            model_input_names=["input_ids", "token_type_ids", "attention_mask"],
        )
        tok.save_pretrained(str(d))
    else:
        raise ValueError(kind)
    return trained.get_vocab_size()


# --------------------------------------------------------------------------- models


def make_config(name: str, vocab_size: int):
    common = dict(
        vocab_size=vocab_size,
        initializer_range=INIT_RANGE,
        num_labels=len(ID2LABEL),
        id2label=dict(ID2LABEL),
        label2id={v: k for k, v in ID2LABEL.items()},
        problem_type="single_label_classification",
    )
    bertlike = dict(
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
    )
    if name == "distilbert":
        return DistilBertConfig(
            dim=HIDDEN,
            n_layers=LAYERS,
            n_heads=HEADS,
            hidden_dim=INTERMEDIATE,
            max_position_embeddings=MAX_POSITIONS,
            activation="gelu",
            sinusoidal_pos_embds=False,
            pad_token_id=0,
            **common,
        )
    if name in ("roberta", "roberta-type1"):
        return RobertaConfig(
            **bertlike,
            hidden_act="gelu",
            max_position_embeddings=MAX_POSITIONS + 2,
            type_vocab_size=2 if name == "roberta" else 1,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            **common,
        )
    if name == "albert":
        return AlbertConfig(
            **bertlike,
            embedding_size=EMBEDDING,
            num_hidden_groups=1,
            inner_group_num=1,
            hidden_act="gelu_new",
            max_position_embeddings=MAX_POSITIONS,
            type_vocab_size=2,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
            **common,
        )
    if name == "electra":
        return ElectraConfig(
            **bertlike,
            embedding_size=EMBEDDING,
            hidden_act="gelu",
            max_position_embeddings=MAX_POSITIONS,
            type_vocab_size=2,
            pad_token_id=0,
            **common,
        )
    raise ValueError(name)


def save_model(d: Path, name: str, seed: int, cls, vocab_size: int) -> dict[str, torch.Tensor]:
    config = make_config(name, vocab_size)
    config.architectures = [cls.__name__]
    torch.manual_seed(seed)
    model = cls(config).float()
    noise = torch.Generator().manual_seed(seed + 100_000)
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=noise, dtype=p.dtype) * PERTURB_STD)
    # transformers 5 always writes safetensors (save_pretrained has no safe_serialization
    # argument any more): model.safetensors, float32.
    model.save_pretrained(str(d))
    cfg = json.loads((d / "config.json").read_text())
    cfg["architectures"] = [cls.__name__]
    cfg["id2label"] = {str(k): v for k, v in ID2LABEL.items()}
    cfg["label2id"] = {v: k for k, v in ID2LABEL.items()}
    cfg["problem_type"] = "single_label_classification"
    (d / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def load_double(d: Path, cls):
    # Load the stored float32 values, then widen exactly to float64.
    model = cls.from_pretrained(
        str(d), attn_implementation="eager", dtype=torch.float32, local_files_only=True
    )
    return model.double().eval()


# --------------------------------------------------------------------------- references


class Capture:
    """Records the index tensors that reach the position / token-type embedding tables."""

    def __init__(self, model):
        self.seen: dict[str, torch.Tensor] = {}
        self.handles = []
        for mod_name, mod in model.named_modules():
            leaf = mod_name.rsplit(".", 1)[-1]
            if leaf in ("position_embeddings", "token_type_embeddings") and isinstance(
                mod, torch.nn.Embedding
            ):
                self.handles.append(mod.register_forward_hook(self._hook(leaf)))

    def _hook(self, leaf):
        def f(_mod, inputs, _out):
            self.seen[leaf] = inputs[0].detach().clone()

        return f

    def ids(self, leaf: str, batch: int, length: int) -> list[list[int]] | None:
        t = self.seen.get(leaf)
        if t is None:
            return None
        return t.expand(batch, length).tolist()


def encode(tok, text: list[str]) -> dict[str, list[int]]:
    enc = tok(*text, truncation=True, max_length=MAX_LEN)
    return {k: list(map(int, v)) for k, v in enc.items()}


def run(model, cap: Capture, feed: dict[str, torch.Tensor]):
    cap.seen.clear()
    with torch.no_grad():
        logits = model(**feed).logits
    b, n = feed["input_ids"].shape
    return (
        logits.tolist(),
        cap.ids("position_embeddings", b, n),
        cap.ids("token_type_embeddings", b, n),
    )


def make_reference(d: Path, name: str, cls, inputs: list[dict]) -> dict:
    tok = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
    model = load_double(d, cls)
    cap = Capture(model)
    has_types = hasattr(model.base_model.embeddings, "token_type_embeddings")
    encs = [encode(tok, ex["text"]) for ex in inputs]
    returns_types = "token_type_ids" in encs[0]

    examples = []
    for ex, enc in zip(inputs, encs):
        feed = {k: torch.tensor([v]) for k, v in enc.items()}
        logits, pos, types = run(model, cap, feed)
        item = {**ex, "input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        if has_types:
            # The ids the model's token_type_embeddings received: the tokenizer's own when it
            # returns them, otherwise the model's default (zeros).
            item["token_type_ids"] = types[0]
            if returns_types:
                assert types[0] == enc["token_type_ids"], name
        item["position_ids"] = pos[0]
        item["logits"] = logits[0]
        examples.append(item)

    padded = tok.pad(encs, padding="longest", return_tensors="pt")
    assert tok.padding_side == "right"
    feed = {k: v for k, v in padded.items()}
    logits, pos, types = run(model, cap, feed)
    batch = {
        "input_ids": padded["input_ids"].tolist(),
        "attention_mask": padded["attention_mask"].tolist(),
    }
    if has_types:
        batch["token_type_ids"] = types
    batch["position_ids"] = pos
    batch["logits"] = logits
    diff = max(abs(a - b) for ex, row in zip(examples, logits) for a, b in zip(ex["logits"], row))

    cfg = model.config
    return {
        "fixture": name,
        "model_class": cls.__name__,
        "tokenizer_class": type(tok).__name__,
        "tokenizer_returns_token_type_ids": returns_types,
        "pad_token_id": tok.pad_token_id,
        "max_length": MAX_LEN,
        "truncation": "longest_first",
        "padding_side": "right",
        "id2label": {str(k): v for k, v in cfg.id2label.items()},
        "dtype": "float64",
        "max_abs_diff_batch_vs_single": diff,
        "examples": examples,
        "batch": batch,
    }


def write_json(path: Path, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")


def build(out: Path, corpus: list[str], inputs: list[dict], name: str, seed: int, kind: str, cls):
    d = out / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    vocab_size = save_tokenizer(kind, name, corpus, d)
    saved = save_model(d, name, seed, cls, vocab_size)
    # The file holds exactly the float32 parameters (no tied or shared copies dropped).
    with safe_open(str(d / "model.safetensors"), "pt") as f:
        on_disk = {k: f.get_tensor(k) for k in f.keys()}
    assert set(on_disk) == set(saved), (name, set(on_disk) ^ set(saved))
    for k, v in on_disk.items():
        assert v.dtype == torch.float32 and torch.equal(v, saved[k]), k
    ref = make_reference(d, name, cls, inputs)
    write_json(d / "reference.json", ref)
    return ref


# --------------------------------------------------------------------------- checks


def verify(out: Path, names: list[str]) -> None:
    """Auto classes in float32 reproduce the stored logits; tokenizer files agree."""
    for name, _seed, kind, cls in FIXTURES:
        if name not in names:
            continue
        d = out / name
        ref = json.loads((d / "reference.json").read_text())
        tok = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(str(d), local_files_only=True).eval()
        assert type(model) is cls, (name, type(model))
        assert next(model.parameters()).dtype == torch.float32
        worst = 0.0
        raw = Tokenizer.from_file(str(d / "tokenizer.json"))
        raw.enable_truncation(MAX_LEN, strategy="longest_first")
        encs = []
        for ex in ref["examples"]:
            enc = tok(*ex["text"], truncation=True, max_length=MAX_LEN, return_tensors="pt")
            assert enc["input_ids"][0].tolist() == ex["input_ids"], (name, ex["row"])
            assert enc["attention_mask"][0].tolist() == ex["attention_mask"]
            if "token_type_ids" in enc:
                assert enc["token_type_ids"][0].tolist() == ex["token_type_ids"]
            with torch.no_grad():
                got = model(**enc).logits[0].tolist()
            worst = max(worst, max(abs(a - b) for a, b in zip(got, ex["logits"])))
            encs.append({k: v[0].tolist() for k, v in enc.items()})
            # The tokenizers library on tokenizer.json alone (as the Rust crate reads it).
            r = raw.encode(*ex["text"])
            assert r.ids == ex["input_ids"], (name, ex["row"], "raw tokenizer.json ids")
            if "token_type_ids" in ex:
                assert r.type_ids == ex["token_type_ids"], (name, ex["row"], "raw type ids")
        batch = tok.pad(encs, padding="longest", return_tensors="pt")
        assert batch["input_ids"].tolist() == ref["batch"]["input_ids"]
        with torch.no_grad():
            got = model(**batch).logits.tolist()
        for row, want in zip(got, ref["batch"]["logits"]):
            worst = max(worst, max(abs(a - b) for a, b in zip(row, want)))
        assert worst < 1e-5, (name, worst)
        # Side files agree with tokenizer.json.
        spec = json.loads((d / "tokenizer.json").read_text())["model"]
        if kind == "wordpiece":
            lines = (d / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
            assert lines == sorted(spec["vocab"], key=spec["vocab"].get), name
        if kind == "bytelevel-bpe":
            assert json.loads((d / "vocab.json").read_text(encoding="utf-8")) == spec["vocab"], name
            merges = (d / "merges.txt").read_text(encoding="utf-8").split("\n")
            merges = [m for m in merges if m and not m.startswith("#version")]
            want = [" ".join(m) if isinstance(m, list) else m for m in spec["merges"]]
            assert merges == want, name
        print(f"verify {name}: {type(model).__name__} + {type(tok).__name__} float32, max |diff| {worst:.2e}")


# --------------------------------------------------------------------------- main


def tensor_list(d: Path) -> list[str]:
    with safe_open(str(d / "model.safetensors"), "pt") as f:
        return [f"{k} {list(f.get_slice(k).get_shape())}" for k in sorted(f.keys())]


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glue", type=Path, default=root.parent / "shared" / "glue")
    ap.add_argument("--out", type=Path, default=root / "tests" / "fixtures" / "families")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="fixture names (default: all)")
    ap.add_argument("--verify-only", action="store_true", help="check existing fixtures, write nothing")
    ap.add_argument("--list-tensors", action="store_true", help="print each checkpoint's tensor names")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    names = args.only or [f[0] for f in FIXTURES]
    print(
        f"python {platform.python_version()}  torch {torch.__version__}  "
        f"transformers {transformers.__version__}  tokenizers {tokenizers.__version__}  "
        f"safetensors {safetensors.__version__}  numpy {np.__version__}"
    )
    if not args.verify_only:
        args.out.mkdir(parents=True, exist_ok=True)
        corpus = [r["sentence"] for r in read_tsv(args.glue / "SST-2" / "train.tsv")[:TRAIN_ROWS]]
        inputs = reference_inputs(args.glue)
        for name, seed, kind, cls in FIXTURES:
            if name not in names:
                continue
            ref = build(args.out, corpus, inputs, name, seed, kind, cls)
            lens = [len(ex["input_ids"]) for ex in ref["examples"]]
            print(
                f"{name}: lengths {lens}, batch-vs-single max |diff| "
                f"{ref['max_abs_diff_batch_vs_single']:.1e}"
            )
    verify(args.out, names)
    if args.list_tensors:
        for name in names:
            print(f"{name}:")
            for line in tensor_list(args.out / name):
                print(f"    {line}")
    for name in names:
        d = args.out / name
        size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
        print(f"{name}: {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
