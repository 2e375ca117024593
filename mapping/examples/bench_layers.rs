//! Time of the analog linear layers of one BERT encoder layer at the isaac-32nm point,
//! scaled to whole models (run with `--release`).
//!
//! One encoder layer holds six weight matrices (out × in): Q, K, V and the attention output
//! (h × h), the FFN input (4h × h) and output (h × 4h). Every layer of a BERT has the same
//! shapes, so the linear-layer time of a model is its layer count times that of one layer;
//! this example programs one layer with random weights, calibrates input scales and ADC
//! ranges on 64 random tokens, times the forward of `tokens` tokens through all six
//! matrices, and scales it to
//!
//! * MiniLM-L6-H384 on SST-2 dev (6 layers, h = 384, ≈ 23 500 tokens in total), and
//! * BERT-base (12 layers, h = 768) on one 128-token sequence.
//!
//! The isaac-32nm point: 8-bit inputs through 1-bit DACs, 8-bit weights on 2-bit cells,
//! differential, 128×128 arrays, 8-bit ADC with calibrated range, ideal devices. Only the
//! analog linear layers are timed (attention products, softmax, LayerNorm and GELU run
//! digitally elsewhere). Wall and CPU time (all threads) are both printed: on a machine
//! shared with other jobs the CPU time is the steadier figure.
//!
//!     cargo run --release -p mapping --example bench_layers [-- TOKENS]

use crossbar::{AdcRange, DeviceConfig};
use mapping::{InputScale, MappedMatrix, MappingConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// CPU seconds of this process so far (all threads), from /proc/self/stat in 1/100 s
/// ticks (Linux USER_HZ); 0 where unavailable.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// (out, in) of the six matrices of an encoder layer of hidden size h.
fn layer_shapes(h: usize) -> [(usize, usize); 6] {
    [(h, h), (h, h), (h, h), (h, h), (4 * h, h), (h, 4 * h)]
}

/// Programs one layer, then returns (wall s, CPU s, stored bytes) of a forward of `tokens`.
fn time_layer(h: usize, tokens: usize) -> (f64, f64, usize) {
    let cfg = MappingConfig {
        input_scale: InputScale::Calibrated,
        adc: crossbar::AdcConfig {
            range: AdcRange::Calibrated,
            ..Default::default()
        },
        ..Default::default()
    };
    let matrices: Vec<MappedMatrix> = layer_shapes(h)
        .iter()
        .enumerate()
        .map(|(id, &(out, inp))| {
            let w = random(out * inp, 10 + id as u64);
            let mut m =
                MappedMatrix::program(&w, out, inp, &cfg, &DeviceConfig::default(), 1, id as u32)
                    .unwrap();
            m.calibrate(&random(64 * inp, 100 + id as u64), 64).unwrap();
            m
        })
        .collect();
    let inputs: Vec<Vec<f32>> = matrices
        .iter()
        .map(|m| random(tokens * m.in_features(), 200))
        .collect();
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for (m, x) in matrices.iter().zip(&inputs) {
        m.forward(x, tokens, &mapping::read_ids(0, tokens)).unwrap();
    }
    let stored = matrices.iter().map(MappedMatrix::stored_bytes).sum();
    (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu, stored)
}

fn main() {
    let tokens: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    println!(
        "threads {}, {tokens} tokens per layer forward",
        rayon::current_num_threads()
    );
    for (name, h, layers, total_tokens, unit) in [
        (
            "MiniLM-L6-H384, SST-2 dev",
            384,
            6,
            23_500.0,
            "whole dev set",
        ),
        ("BERT-base", 768, 12, 128.0, "one 128-token sequence"),
    ] {
        let (wall, cpu, stored) = time_layer(h, tokens);
        let scale = layers as f64 * total_tokens / tokens as f64;
        let weights: usize = layer_shapes(h).iter().map(|(o, i)| o * i).sum();
        println!(
            "{name}: one layer {wall:.3} s wall, {cpu:.3} s CPU; scaled to {unit}: \
             {:.2} s wall, {:.2} s CPU; stored {:.2} B/weight",
            wall * scale,
            cpu * scale,
            stored as f64 / weights as f64
        );
    }
}
