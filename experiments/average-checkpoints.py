"""Uniform weight average of fine-tuned checkpoints of one architecture (a "model soup").

    python3 experiments/average-checkpoints.py --out DIR CHECKPOINT CHECKPOINT [...]

Every checkpoint must hold a single `model.safetensors` with the same float32 tensors
(names and shapes); the first one's config and tokenizer files are copied beside the
average, and `averaged_from.json` lists the inputs. Training seeds of one recipe, started
from one base checkpoint, stay close enough in weight space for their average to be a
working model (Wortsman et al., "Model soups", ICML 2022); experiments/README.md
("Choosing the recipe on held-out train sentences") measures what it does on a chip.

Needs only the Python standard library (about 10 s per 90 MB checkpoint pair).
"""
import argparse
import array
import json
import shutil
import struct
import sys
from pathlib import Path

COPIED = ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
          "special_tokens_map.json"]


def read(path):
    """(header, data bytes) of a safetensors file, checking every tensor is float32."""
    raw = path.read_bytes()
    if len(raw) < 8:
        raise SystemExit(f"{path}: expected a safetensors file, found {len(raw)} bytes")
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    for name, info in header.items():
        if name != "__metadata__" and info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name}: expected dtype F32, found {info['dtype']}")
    return header, raw[8 + size:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if sys.byteorder != "little":
        raise SystemExit("average-checkpoints: safetensors data are little-endian; run on a "
                         "little-endian machine")
    if len(args.checkpoints) < 2:
        raise SystemExit("average-checkpoints: expected at least 2 checkpoints")
    first_header, total = read(args.checkpoints[0] / "model.safetensors")
    total = array.array("f", total)
    for checkpoint in args.checkpoints[1:]:
        header, data = read(checkpoint / "model.safetensors")
        if header != first_header:
            raise SystemExit(f"{checkpoint}: expected the tensors (names, shapes, offsets) of "
                             f"{args.checkpoints[0]}, found different ones")
        for i, value in enumerate(array.array("f", data)):
            total[i] += value
    scale = 1.0 / len(args.checkpoints)
    average = array.array("f", (value * scale for value in total))
    args.out.mkdir(parents=True, exist_ok=True)
    header_bytes = json.dumps(first_header, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)  # the format's 8-byte data alignment
    with open(args.out / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        f.write(average.tobytes())
    for name in COPIED:
        source = args.checkpoints[0] / name
        if source.exists():
            shutil.copyfile(source, args.out / name)
    inputs = [str(c) for c in args.checkpoints]
    (args.out / "averaged_from.json").write_text(json.dumps({"checkpoints": inputs}, indent=2))
    print(f"average-checkpoints: wrote {args.out} from {len(inputs)} checkpoints")


if __name__ == "__main__":
    main()
