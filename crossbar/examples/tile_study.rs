//! A tile study: how ADC resolution, ADC range and DAC scheme affect one 128×128 array.
//!
//!     cargo run --release -p crossbar --example tile_study
//!
//! A 128×128 array of 2-bit cells (G 9.0–88.2 µS, aihwkit ReRAM-CMO range) holds random
//! levels; 256 random 8-bit signed input vectors are read through it. Error =
//! ‖out − codes·G‖₂ / ‖codes·G‖₂ (each column's ideal output Σ_i code_i·G_ij, code·µS).

use crossbar::{
    program_array, AdcConfig, AdcRange, CellConfig, Dac, DacConfig, DeviceConfig, Purpose,
    StreamKey, Tile,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROWS: usize = 128;
const COLS: usize = 128;
const VECTORS: usize = 256;
const INPUT_BITS: u8 = 8;

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let cell = CellConfig {
        bits_per_cell: 2,
        g_min_us: 9.0,
        g_max_us: 88.2,
    };
    let levels: Vec<u8> = (0..ROWS * COLS).map(|_| rng.random_range(0..4)).collect();
    let key = StreamKey::new(1, 0, 0, Purpose::Programming);
    let device = DeviceConfig::default();
    let g = program_array(&device, &cell, &levels, ROWS, COLS, key).g_us;
    let tile = Tile::new(
        g.clone(),
        ROWS,
        COLS,
        move |g| device.read_noise_sigma_us(g),
        cell.g_max_us,
        key.with_purpose(Purpose::ReadNoise),
    );
    let codes: Vec<i32> = (0..VECTORS * ROWS)
        .map(|_| rng.random_range(-127..=127))
        .collect();
    let ideal: Vec<f64> = (0..VECTORS * COLS)
        .map(|o| {
            let (t, j) = (o / COLS, o % COLS);
            (0..ROWS)
                .map(|i| codes[t * ROWS + i] as f64 * g[i * COLS + j] as f64)
                .sum()
        })
        .collect();
    let norm: f64 = ideal.iter().map(|v| v * v).sum::<f64>().sqrt();

    println!(
        "{:<24}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "DAC \\ ADC bits (range)", 4, 6, 8, 10, 12
    );
    for dac_bits in [1u8, 2, 4, 8] {
        let dac = Dac::new(
            &DacConfig {
                dac_bits,
                v_read_v: 0.5,
            },
            INPUT_BITS,
        );
        let drive = dac.drive(&codes, VECTORS, ROWS);
        for range in [
            AdcRange::FullScale,
            AdcRange::Calibrated,
            AdcRange::CalibratedSpan,
        ] {
            let span = tile.current_span_ua(&drive);
            let converter_of = |adc: &AdcConfig| match range {
                AdcRange::FullScale => {
                    adc.converter(tile.full_scale_current_ua(dac.max_volts()), drive.bipolar)
                }
                AdcRange::Calibrated => {
                    adc.converter(tile.max_abs_current_ua(&drive), drive.bipolar)
                }
                AdcRange::CalibratedSpan => adc.converter_span(span.0, span.1),
            };
            let label = format!("{dac_bits}-bit, {} cyc ({range:?})", dac.cycles().len());
            print!("{label:<24}");
            for adc_bits in [4u8, 6, 8, 10, 12] {
                let adc = AdcConfig {
                    adc_bits,
                    ..Default::default()
                };
                let converter = converter_of(&adc);
                let mut out = vec![0.0f32; VECTORS * COLS];
                let reads: Vec<u64> = (0..VECTORS as u64).collect();
                tile.mvm(
                    &drive,
                    &converter,
                    adc_bits,
                    &reads,
                    &mut out,
                    &mut Vec::new(),
                );
                let err: f64 = out
                    .iter()
                    .zip(&ideal)
                    .map(|(a, b)| (*a as f64 - b).powi(2))
                    .sum::<f64>()
                    .sqrt();
                print!("{:>10.4}", err / norm);
            }
            println!();
        }
    }
}
