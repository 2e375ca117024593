//! Fault-aware remapping reduces the output error of a matrix on arrays with stuck cells.

use crossbar::{AdcConfig, DeviceConfig};
use mapping::{FaultMap, MappedMatrix, MappingConfig, StuckAt, StuckCell};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// I.i.d. stuck cells: each cell stuck at G_max with probability `p_max`, at G_min with
/// `p_min`, from a stream per array.
fn faults(a: usize, rows: usize, cols: usize, p_max: f64, p_min: f64, seed: u64) -> FaultMap {
    let mut rng = ChaCha8Rng::seed_from_u64(seed * 1_000_003 + a as u64);
    let mut cells = Vec::new();
    for row in 0..rows as u32 {
        for col in 0..cols as u32 {
            let u: f64 = rng.random();
            let kind = if u < p_max {
                StuckAt::GMax
            } else if u < p_max + p_min {
                StuckAt::GMin
            } else {
                continue;
            };
            cells.push(StuckCell { row, col, kind });
        }
    }
    FaultMap { rows, cols, cells }
}

/// 96×240 matrix, 32 tokens, ISAAC-like bit-sliced mapping on 64×72 arrays with 8 spare rows
/// and 8 spare columns, ideal ADC (so only the faults cause error), 1 % of cells stuck at
/// G_max and 1 % at G_min (fault seed 21, data seeds 22, 23). Error = ‖y − y_fault-free‖₂
/// over the same mapping without faults. Remapping must lower it by at least a quarter
/// (measured: see the report in the output).
#[test]
fn remapping_reduces_the_error_of_stuck_cells() {
    let (n_out, k, tokens) = (96, 240, 32);
    let w = random(n_out * k, 22);
    let x = random(tokens * k, 23);
    let cfg = MappingConfig {
        array_rows: 64,
        array_cols: 72,
        spare_rows: 8,
        spare_cols: 8,
        adc: AdcConfig {
            ideal: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let device = DeviceConfig::default();
    let run = |remap: bool, faulty: bool| -> Vec<f32> {
        let cfg = MappingConfig {
            remap_faults: remap,
            ..cfg.clone()
        };
        let fault_map = |a: usize| {
            if faulty {
                faults(a, 64, 72, 0.01, 0.01, 21)
            } else {
                FaultMap {
                    rows: 64,
                    cols: 72,
                    cells: Vec::new(),
                }
            }
        };
        let m = MappedMatrix::program_with_faults(&w, n_out, k, &cfg, &device, 1, 0, fault_map)
            .unwrap();
        m.forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap()
            .0
    };
    let clean = run(false, false);
    let dist = |y: &[f32]| -> f64 {
        y.iter()
            .zip(&clean)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let norm = dist(&vec![0.0; clean.len()]);
    let plain = dist(&run(false, true)) / norm;
    let remapped = dist(&run(true, true)) / norm;
    println!(
        "relative error from stuck cells: {plain:.4} without remapping, {remapped:.4} with \
         ({:.1} % lower)",
        100.0 * (1.0 - remapped / plain)
    );
    assert!(plain > 0.0, "faults must cause some error");
    assert!(
        remapped < 0.75 * plain,
        "remapped {remapped} vs plain {plain}"
    );
    // With remapping but no faults, the placement is the identity: same output as clean.
    assert_eq!(run(true, false), clean);
}

#[test]
fn a_fault_map_of_the_wrong_size_is_an_error() {
    let cfg = MappingConfig::default();
    let e = MappedMatrix::program_with_faults(
        &[0.1; 6],
        2,
        3,
        &cfg,
        &DeviceConfig::default(),
        1,
        4,
        |_| FaultMap {
            rows: 64,
            cols: 128,
            cells: Vec::new(),
        },
    )
    .unwrap_err();
    assert_eq!(e.key, "matrix 4 fault map of array 0");
    assert_eq!(e.found, "64×128");
}
