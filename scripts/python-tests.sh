#!/usr/bin/env bash
# Builds the Python package `crossbert` (python/, maturin) and runs its tests (python/tests).
#
#   scripts/python-tests.sh [VENV_DIR]
#
# VENV_DIR: the virtual environment to create or reuse (default: a temporary one, removed
# afterwards). Installs maturin, numpy, pandas and pytest from PyPI, builds a release wheel
# with python/Cargo.lock (--locked), installs it and runs pytest. The tests compare against
# the `crossbert` binary when one is built (target/release, else target/debug, or
# $CROSSBERT_BIN) and against ../shared when present ($CROSSBERT_SHARED; with CI set to
# anything but "false" a missing ../shared fails). Exits non-zero on any failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
venv=${1:-$scratch/venv}

start=$(date +%s)
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet maturin numpy pandas pytest

echo "python-tests: building the wheel (release, --locked)" >&2
(cd "$repo" && "$venv/bin/maturin" build --release --locked \
    --interpreter "$venv/bin/python" --out "$scratch/wheels")
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$scratch"/wheels/crossbert-*.whl
built=$(date +%s)

# From the repository root, so that python/crossbert (sources without the native module)
# is not imported in place of the installed package.
cd "$repo"
"$venv/bin/python" -m pytest -q -rs python/tests
echo "python-tests: passed (setup and build $((built - start)) s, tests $(( $(date +%s) - built )) s)" >&2
