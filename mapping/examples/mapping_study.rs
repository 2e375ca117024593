//! A mapping study without BERT: output error of a random 256×512 matrix on 32 random
//! tokens as the ADC resolution and the bits per cell change, at both fidelity levels.
//!
//!     cargo run --release -p mapping --example mapping_study
//!
//! Error = ‖y − x·Wᵀ‖₂ / ‖x·Wᵀ‖₂ with ideal devices, 8-bit weights and inputs, 128×128
//! arrays, differential encoding, ADC range calibrated per array on the same tokens.

use crossbar::{AdcConfig, AdcRange, DacConfig, DeviceConfig};
use mapping::{Fidelity, MappedMatrix, MappingConfig};
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
    let mut m = MappedMatrix::program(w, OUT, IN, cfg, &DeviceConfig::default(), 1, 0)
        .expect("study configurations are valid");
    m.calibrate(x, TOKENS)
        .expect("calibration data has the right shape");
    let (y, _) = m
        .forward(x, TOKENS, 0)
        .expect("inputs have the right shape");
    let num: f64 = y
        .iter()
        .zip(want)
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum();
    let den: f64 = want.iter().map(|b| (*b as f64).powi(2)).sum();
    (num / den).sqrt()
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
}
