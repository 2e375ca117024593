//! A mapping study without BERT on a random 256×512 matrix and 32 random tokens:
//!
//! 1. output error as the ADC resolution and the bits per cell change, at both fidelity
//!    levels (ideal devices, 8-bit weights and inputs, 128×128 arrays, differential
//!    encoding, ADC range calibrated per array on the same tokens);
//! 2. output error under i.i.d. stuck-at faults (half at G_max, half at G_min) with 8 spare
//!    rows and columns per array, without and with fault-aware remapping (ideal ADC).
//!
//!     cargo run --release -p mapping --example mapping_study
//!
//! Error = ‖y − x·Wᵀ‖₂ / ‖x·Wᵀ‖₂.

use crossbar::{AdcConfig, AdcRange, DacConfig, DeviceConfig};
use mapping::{FaultMap, Fidelity, MappedMatrix, MappingConfig, StuckAt, StuckCell};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const OUT: usize = 256;
const IN: usize = 512;
const TOKENS: usize = 32;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn relative_error(cfg: &MappingConfig, w: &[f32], x: &[f32], want: &[f32]) -> f64 {
    let no_faults = |_: usize| FaultMap {
        rows: cfg.array_rows,
        cols: cfg.array_cols,
        cells: Vec::new(),
    };
    relative_error_with_faults(cfg, w, x, want, no_faults)
}

fn relative_error_with_faults(
    cfg: &MappingConfig,
    w: &[f32],
    x: &[f32],
    want: &[f32],
    faults: impl Fn(usize) -> FaultMap + Sync,
) -> f64 {
    let device = DeviceConfig::default();
    let mut m = MappedMatrix::program_with_faults(w, OUT, IN, cfg, &device, 1, 0, faults)
        .expect("study configurations are valid");
    m.calibrate(x, TOKENS)
        .expect("calibration data has the right shape");
    let (y, _) = m
        .forward(x, TOKENS, &mapping::read_ids(0, TOKENS))
        .expect("inputs have the right shape");
    let num: f64 = y
        .iter()
        .zip(want)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let den: f64 = want.iter().map(|b| (*b as f64).powi(2)).sum();
    (num / den).sqrt()
}

/// I.i.d. stuck cells at `rate` (half at G_max, half at G_min), one stream per array.
fn random_faults(a: usize, rows: usize, cols: usize, rate: f64) -> FaultMap {
    let mut rng = ChaCha8Rng::seed_from_u64(1000 + a as u64);
    let mut cells = Vec::new();
    for row in 0..rows as u32 {
        for col in 0..cols as u32 {
            let u: f64 = rng.random();
            if u < rate {
                let kind = if u < rate / 2.0 {
                    StuckAt::GMax
                } else {
                    StuckAt::GMin
                };
                cells.push(StuckCell { row, col, kind });
            }
        }
    }
    FaultMap { rows, cols, cells }
}

fn fault_study(w: &[f32], x: &[f32], want: &[f32]) {
    println!();
    println!(
        "{:<28}{:>12}{:>12}",
        "stuck cells (8 spares)", "no remap", "remapped"
    );
    for rate in [0.001, 0.005, 0.01, 0.02, 0.05] {
        let mut cfg = MappingConfig {
            array_cols: 136,
            spare_rows: 8,
            spare_cols: 8,
            adc: AdcConfig {
                ideal: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let faults = |a: usize| random_faults(a, 128, 136, rate);
        let plain = relative_error_with_faults(&cfg, w, x, want, faults);
        cfg.remap_faults = true;
        let remapped = relative_error_with_faults(&cfg, w, x, want, faults);
        println!(
            "{:<28}{plain:>12.4}{remapped:>12.4}",
            format!("{:.1} %", rate * 100.0)
        );
    }
}

fn main() {
    let w = random(OUT * IN, 1);
    let x = random(TOKENS * IN, 2);
    let want: Vec<f32> = (0..TOKENS * OUT)
        .map(|i| {
            let (t, n) = (i / OUT, i % OUT);
            (0..IN).map(|k| x[t * IN + k] * w[n * IN + k]).sum()
        })
        .collect();
    let adc_settings: Vec<(String, AdcConfig)> = [4u8, 5, 6, 7, 8, 10]
        .iter()
        .map(|&b| {
            (
                format!("{b}b"),
                AdcConfig {
                    adc_bits: b,
                    range: AdcRange::Calibrated,
                    ..Default::default()
                },
            )
        })
        .chain(std::iter::once((
            "ideal".to_string(),
            AdcConfig {
                ideal: true,
                ..Default::default()
            },
        )))
        .collect();
    print!("{:<28}", "mapping \\ ADC");
    for (name, _) in &adc_settings {
        print!("{name:>9}");
    }
    println!();
    let mut rows: Vec<(String, MappingConfig)> = (1..=4u8)
        .map(|bits| {
            let mut cfg = MappingConfig::default();
            cfg.cell.bits_per_cell = bits;
            (format!("bit_sliced, {bits} bit/cell"), cfg)
        })
        .collect();
    rows.push((
        "one_shot (8-bit DAC)".to_string(),
        MappingConfig {
            fidelity: Fidelity::OneShot,
            dac: DacConfig {
                dac_bits: 8,
                ..Default::default()
            },
            ..Default::default()
        },
    ));
    for (name, base) in rows {
        print!("{name:<28}");
        for (_, adc) in &adc_settings {
            let cfg = MappingConfig {
                adc: adc.clone(),
                ..base.clone()
            };
            print!("{:>9.4}", relative_error(&cfg, &w, &x, &want));
        }
        println!();
    }
    fault_study(&w, &x, &want);
}
