#!/usr/bin/env bash
# Redraws every committed study figure from its results CSV, as print-resolution PNG and
# as SVG, with the titles naming each study's spec:
#   experiments/figures.sh [path/to/crossbert]     (default: target/release/crossbert)
# Run from anywhere; paths are taken from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/crossbert}
[ -x "$bin" ] || { echo "figures: no crossbert binary at $bin (cargo build --release)" >&2; exit 1; }

# figure STUDY NAME ARGS...: experiments/results/NAME.{png,svg} from STUDY's results.
figure() {
    local study=$1 name=$2
    shift 2
    local csv=experiments/results/$study.csv
    if [ ! -s "$csv" ]; then
        echo "figures: skipped $name: no $csv" >&2
        return
    fi
    for ext in png svg; do
        "$bin" plot "$csv" --spec "experiments/$study.toml" "$@" --out "experiments/results/$name.$ext"
    done
}

figure adc-resolution adc-resolution --x mapping.adc.adc_bits --y value
figure adc-resolution adc-resolution-pareto --x energy_pj_per_inference --y value
figure device-variation device-variation --x device.programming.sigma --y value
figure stuck-at stuck-at --x device.stuck_at.rate_g_max --y value --group device.stuck_at.rate_g_min
figure layer-sensitivity layer-sensitivity --x scope --y delta
figure mixed-precision mixed-precision --x scope --y value --group mapping.adc.adc_bits
figure mapping mapping --x energy_pj_per_inference --y value --group mapping.encoding
figure pareto pareto --x energy_pj_per_inference --y value
for study in drift drift-one-shot drift-pcm; do
    figure $study $study --x device.read_time_s --y value --group mapping.drift_compensation
done
for study in hardware-aware-variation-30 hardware-aware-reram-cmo hardware-aware-reram-cmo-20 \
    hardware-aware-pcm-day; do
    figure $study $study --x model --y value
done
# Its CSV's split reads "dev": the held-out rows are the folder's dev.tsv.
figure hardware-aware-pcm-selection hardware-aware-pcm-selection --x model --y value \
    --title "hardware-aware-pcm-selection: held-out SST-2 train rows 60,000–61,999, one-shot-pcm-day, chips 100–104"
