//! Speed of the bit-sliced forward pass against its floor (run with `--release`).
//!
//! Workload (issue 3): a 768-input × 3072-output weight matrix, 128 tokens, 8-bit inputs
//! through 1-bit DACs, 8-bit weights on 2-bit cells, differential, 128×128 arrays, 8-bit
//! ADC. The exact emulation needs one partial product per (input cycle, weight slice,
//! column group ±), so its floor is cycles × slices × 2 times one float32
//! tokens×768×3072 GEMM, timed here with the same GEMM kernel (matrixmultiply) on the same
//! threads. With 1-bit DACs the tiles do not multiply at all: ideal devices leave every
//! cell on its level, so the tiles are stored as bit planes and count driven levels by
//! popcount (crossbar::bit_planes); varied devices add table entries of 4-row conductance
//! sums (crossbar::tile). That is why the forward beats the floor. The CPU time per
//! forward (all threads) is printed too: on a shared machine it is steadier than wall time.
//! The output checksum is printed so runs with RAYON_NUM_THREADS=1 and =2 can be compared.
//!
//!     cargo run --release -p mapping --example bench_forward [-- REPEATS [tokens [reram]]]
//!
//! With a third argument `reram` the bit-sliced matrix is programmed with the aihwkit
//! ReRAM-CMO device read a day after programming (programming variation, relaxation and
//! read noise): the cells are then off their levels and the tiles take the float path.
//!
//! tokens defaults to 128 (the workload); a BERT sentence is nearer 25.

use crossbar::DeviceConfig;
use mapping::{MappedMatrix, MappingConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::time::Instant;

const IN: usize = 768;
const OUT: usize = 3072;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// y = x·Wᵀ for x (m×k) and W (n×k), split over rayon threads by output blocks.
fn float_gemm(x: &[f32], w: &[f32], m: usize, k: usize, n: usize, y: &mut [f32]) {
    const BLOCK: usize = 256;
    let blocks: Vec<(usize, Vec<f32>)> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let cols = BLOCK.min(n - b * BLOCK);
            let mut out = vec![0.0f32; m * cols];
            // SAFETY: strides describe x (m×k row-major), rows b·BLOCK.. of W read as a
            // k×cols column-major matrix, and out (m×cols row-major), all in bounds.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    cols,
                    1.0,
                    x.as_ptr(),
                    k as isize,
                    1,
                    w[b * BLOCK * k..].as_ptr(),
                    1,
                    k as isize,
                    0.0,
                    out.as_mut_ptr(),
                    cols as isize,
                    1,
                );
            }
            (b, out)
        })
        .collect();
    for (b, out) in blocks {
        let cols = out.len() / m;
        for t in 0..m {
            y[t * n + b * BLOCK..t * n + b * BLOCK + cols]
                .copy_from_slice(&out[t * cols..(t + 1) * cols]);
        }
    }
}

/// The same matrix at aihwkit's one-shot level (8-bit DAC, 8-bit weights on one device
/// pair, 8-bit ADC): its floor is 2 GEMMs (the ± columns).
fn one_shot(w: &[f32], x: &[f32], tokens: usize, gemm_s: f64, repeats: usize) {
    let cfg = MappingConfig {
        fidelity: mapping::Fidelity::OneShot,
        dac: crossbar::DacConfig {
            dac_bits: 8,
            ..Default::default()
        },
        ..Default::default()
    };
    let m = MappedMatrix::program(w, OUT, IN, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
    let _ = m.forward(x, tokens, &mapping::read_ids(0, tokens)).unwrap();
    let forward_s = median(
        (0..repeats * 4)
            .map(|i| {
                let t = Instant::now();
                let _ = m
                    .forward(
                        x,
                        tokens,
                        &mapping::read_ids(i as u64 * tokens as u64, tokens),
                    )
                    .unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!(
        "one-shot forward (median)    {:.1} ms = {:.2} GEMMs (floor 2)",
        forward_s * 1e3,
        forward_s / gemm_s
    );
}

/// CPU seconds this process has used so far (all threads, user + system), from
/// /proc/self/stat in clock ticks of 1/100 s (Linux's USER_HZ); 0 where unavailable. On a
/// machine shared with other jobs the CPU time of a forward pass is steadier than its wall
/// time.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (repeats, tokens) = (arg(1, 5), arg(2, 128));
    let device = match std::env::args().nth(3).as_deref() {
        Some("reram") => DeviceConfig::reram_cmo(86_400.0),
        _ => DeviceConfig::default(),
    };
    let w = random(OUT * IN, 1);
    let x = random(tokens * IN, 2);
    let cfg = MappingConfig::default(); // the ISAAC-like workload above
    let t0 = Instant::now();
    let m = MappedMatrix::program(&w, OUT, IN, &cfg, &device, 1, 0).unwrap();
    let program_s = t0.elapsed().as_secs_f64();
    let report = m.report();

    let mut y_ref = vec![0.0f32; tokens * OUT];
    float_gemm(&x, &w, tokens, IN, OUT, &mut y_ref); // warm-up
    let gemm_s = median(
        (0..repeats.max(5) * 4)
            .map(|_| {
                let t = Instant::now();
                float_gemm(&x, &w, tokens, IN, OUT, &mut y_ref);
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let (y, _) = m
        .forward(&x, tokens, &mapping::read_ids(0, tokens))
        .unwrap(); // warm-up
    let cpu_before = cpu_seconds();
    let forward_s = median(
        (0..repeats)
            .map(|i| {
                let t = Instant::now();
                let _ = m
                    .forward(
                        &x,
                        tokens,
                        &mapping::read_ids(i as u64 * tokens as u64, tokens),
                    )
                    .unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let forward_cpu_s = (cpu_seconds() - cpu_before) / repeats as f64;
    let partial_products = report.input_cycles * report.weight_slices * 2;
    let floor_s = partial_products as f64 * gemm_s;
    let rel_err = {
        let num: f64 = y
            .iter()
            .zip(&y_ref)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum();
        let den: f64 = y_ref.iter().map(|b| (*b as f64).powi(2)).sum();
        (num / den).sqrt()
    };
    println!(
        "threads                      {}",
        rayon::current_num_threads()
    );
    println!(
        "arrays                       {} ({}×{} tiles)",
        report.arrays, report.row_tiles, report.col_tiles
    );
    println!("program time                 {program_s:.3} s");
    println!("float32 GEMM {tokens}×768×3072    {:.2} ms", gemm_s * 1e3);
    println!(
        "partial products per GEMM    {partial_products} (cycles {} × slices {} × 2)",
        report.input_cycles, report.weight_slices
    );
    println!("floor                        {:.1} ms", floor_s * 1e3);
    println!("bit-sliced forward (median)  {:.1} ms", forward_s * 1e3);
    println!("ratio forward / floor        {:.2}", forward_s / floor_s);
    println!(
        "bit-sliced forward CPU time  {:.1} ms per forward, all threads",
        forward_cpu_s * 1e3
    );
    println!(
        "mapped matrix stored state   {:.1} MiB ({} bytes)",
        report.stored_bytes as f64 / (1 << 20) as f64,
        report.stored_bytes
    );
    println!("relative L2 error vs float   {rel_err:.4} (full-scale 8-bit ADC range)");
    // Equal across RAYON_NUM_THREADS settings: the forward pass is thread-count independent.
    one_shot(&w, &x, tokens, gemm_s, repeats);
    let checksum = y.iter().fold(0u64, |h, v| {
        (h ^ v.to_bits() as u64).wrapping_mul(0x100_0000_01B3)
    });
    println!("output checksum              {checksum:016x}");
}
