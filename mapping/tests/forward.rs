//! End-to-end checks of MappedMatrix against the digital result, the exact integer result
//! and the closed-form event counts.

use crossbar::{AdcConfig, AdcRange, DacConfig, DeviceConfig};
use mapping::quantize::{max_code, quantize, quantize_weights, scale_for};
use mapping::{
    Encoding, Fidelity, InputScale, MappedMatrix, MappingConfig, MappingError, Readout, WeightScale,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Mean |y − want| over all outputs.
fn mean_abs_error(y: &[f32], want: &[f64]) -> f64 {
    y.iter()
        .zip(want)
        .map(|(a, b)| (*a as f64 - b).abs())
        .sum::<f64>()
        / y.len() as f64
}

/// x·Wᵀ in f64 and Σ_k |x_tk|·|W_nk| (the scale of float rounding errors).
fn reference(x: &[f32], w: &[f32], tokens: usize, n_out: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut y = vec![0.0; tokens * n_out];
    let mut mag = vec![0.0; tokens * n_out];
    for t in 0..tokens {
        for n in 0..n_out {
            for i in 0..k {
                let (a, b) = (x[t * k + i] as f64, w[n * k + i] as f64);
                y[t * n_out + n] += a * b;
                mag[t * n_out + n] += (a * b).abs();
            }
        }
    }
    (y, mag)
}

fn ideal_cfg(
    fidelity: Fidelity,
    encoding: Encoding,
    rows: usize,
    cols: usize,
    bits: u8,
) -> MappingConfig {
    MappingConfig {
        fidelity,
        encoding,
        weight_bits: bits,
        input_bits: bits,
        array_rows: rows,
        array_cols: cols,
        dac: DacConfig {
            dac_bits: if fidelity == Fidelity::OneShot {
                bits
            } else {
                1
            },
            ..Default::default()
        },
        adc: AdcConfig {
            ideal: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Ideal hardware (ideal device and ADC; 1-bit, 3-bit and one-shot DACs when bit-sliced)
/// on values the quantizers represent exactly (integers whose per-row maximum is the
/// largest code, so every scale is 1) reproduces
/// x·Wᵀ to float rounding: |y − ref| ≤ 1e-5·Σ|x||w| + 1e-3, at both fidelity levels, both
/// encodings and array sizes that do and do not divide the 45×70 matrix. Seeds 1, 2.
#[test]
fn ideal_hardware_reproduces_the_digital_product() {
    let (n_out, k, tokens, bits) = (45, 70, 6, 8u8);
    let q = max_code(bits) as f32;
    let exact = |v: Vec<f32>, row: usize| -> Vec<f32> {
        let mut v: Vec<f32> = v.iter().map(|a| (a * q).round()).collect();
        for r in v.chunks_mut(row) {
            r[0] = q; // the row maximum is the largest code: scale exactly 1
        }
        v
    };
    let w = exact(random(n_out * k, 1), k);
    let x = exact(random(tokens * k, 2), k);
    let (want, mag) = reference(&x, &w, tokens, n_out, k);
    let readouts = [Readout::TwoConversions, Readout::AnalogDifference];
    for (fidelity, readout) in [Fidelity::BitSliced, Fidelity::OneShot]
        .into_iter()
        .flat_map(|f| readouts.map(|r| (f, r)))
    {
        for encoding in [
            Encoding::Differential,
            Encoding::Offset,
            Encoding::DigitalOffset,
        ] {
            let dac_choices: &[u8] = match fidelity {
                Fidelity::BitSliced => &[1, 3, 8],
                Fidelity::OneShot => &[8],
            };
            for (&dac_bits, (rows, cols)) in dac_choices.iter().flat_map(|d| {
                [(128, 128), (16, 16), (7, 11), (33, 40), (70, 400)].map(|rc| (d, rc))
            }) {
                let mut cfg = ideal_cfg(fidelity, encoding, rows, cols, bits);
                cfg.dac.dac_bits = dac_bits;
                cfg.readout = readout;
                if cfg.validate("m").is_err() {
                    continue; // e.g. 7×11 cannot hold the 8 columns + 4 references of offset
                }
                let m = MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0)
                    .unwrap();
                let (y, _) = m
                    .forward(&x, tokens, &mapping::read_ids(0, tokens))
                    .unwrap();
                for i in 0..y.len() {
                    let err = (y[i] as f64 - want[i]).abs();
                    assert!(
                        err <= 1e-5 * mag[i] + 1e-3,
                        "{fidelity:?} {readout:?} {encoding:?} {dac_bits}-bit DAC {rows}×{cols}: y[{i}] = {} vs {}",
                        y[i],
                        want[i]
                    );
                }
            }
        }
    }
}

/// Random real-valued (non-representable) W and x at 24-bit weights and inputs on ideal
/// hardware (ideal device and ADC): one-shot with analog conductances (24-bit DAC), and
/// bit-sliced on 4-bit cells through the same one-cycle 24-bit DAC. Both reproduce x·Wᵀ to
/// float rounding: per output |y − ref| ≤ 1e-5·Σ_k |x_k|·|W_nk| (24-bit quantization
/// contributes ~2^-23 of that, f32 accumulation the rest), over both encodings and array
/// sizes that do and do not divide the 37×150 matrix. At 12 bits the same check must fail
/// (quantization alone exceeds the tolerance). Seeds 21, 22.
#[test]
fn ideal_24_bit_hardware_reproduces_real_valued_products() {
    let (n_out, k, tokens) = (37, 150, 5);
    let w = random(n_out * k, 21);
    let x = random(tokens * k, 22);
    let (want, mag) = reference(&x, &w, tokens, n_out, k);
    let worst_error = |fidelity, encoding, rows, cols, bits| {
        let mut cfg = ideal_cfg(fidelity, encoding, rows, cols, bits);
        cfg.dac.dac_bits = bits;
        cfg.cell.bits_per_cell = 4;
        let m = MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        let (y, _) = m
            .forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap();
        (0..y.len())
            .map(|i| (y[i] as f64 - want[i]).abs() / mag[i])
            .fold(0.0, f64::max)
    };
    for fidelity in [Fidelity::OneShot, Fidelity::BitSliced] {
        for encoding in [Encoding::Differential, Encoding::Offset] {
            for (rows, cols) in [(128, 128), (64, 100), (33, 70), (150, 40)] {
                let worst = worst_error(fidelity, encoding, rows, cols, 24);
                assert!(
                    worst <= 1e-5,
                    "{fidelity:?} {encoding:?} {rows}×{cols}: error {worst:e} of Σ|x||w|"
                );
            }
            let coarse = worst_error(fidelity, encoding, 64, 100, 12);
            assert!(
                coarse > 1e-5,
                "{fidelity:?} {encoding:?} at 12 bits: {coarse:e}"
            );
        }
    }
}

/// Real-valued random W and x at 16-bit (bit-sliced) or 9-bit (one-shot) precision: the
/// error stays within the quantization bound Σ_k (|x|·Δw/2 + |w|·Δx/2 + Δx·Δw/4) plus
/// 1e-5·Σ|x||w| float slack, where Δw, Δx are the scales. Seeds 3, 4.
#[test]
fn ideal_hardware_error_is_within_the_quantization_bound() {
    let (n_out, k, tokens) = (37, 90, 4);
    let w = random(n_out * k, 3);
    let x = random(tokens * k, 4);
    let (want, mag) = reference(&x, &w, tokens, n_out, k);
    for (fidelity, bits, rows, cols) in [
        (Fidelity::BitSliced, 16, 64, 100),
        (Fidelity::BitSliced, 16, 128, 128),
        (Fidelity::OneShot, 9, 50, 30),
    ] {
        let mut cfg = ideal_cfg(fidelity, Encoding::Differential, rows, cols, bits);
        cfg.cell.bits_per_cell = 4;
        let m = MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        let (y, _) = m
            .forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap();
        let qw = quantize_weights(&w, n_out, k, bits, cfg.weight_scale, k);
        for t in 0..tokens {
            let row = &x[t * k..(t + 1) * k];
            let dx = scale_for(row.iter().fold(0.0f32, |a, v| a.max(v.abs())), bits) as f64;
            for n in 0..n_out {
                let dw = qw.scales[n] as f64;
                let bound: f64 = (0..k)
                    .map(|i| {
                        (x[t * k + i].abs() as f64) * dw / 2.0
                            + (w[n * k + i].abs() as f64) * dx / 2.0
                            + dx * dw / 4.0
                    })
                    .sum();
                let i = t * n_out + n;
                let err = (y[i] as f64 - want[i]).abs();
                assert!(
                    err <= bound + 1e-5 * mag[i],
                    "{fidelity:?}: y[{i}] err {err} > {bound}"
                );
            }
        }
    }
}

/// The mapping of the lossless test: 8-bit weights on 2-bit cells, 8-bit inputs through
/// 1-bit DACs, 32×32 arrays, G 9.0–88.2 µS (so the G_min offset must cancel through the
/// ADC), full-scale ADC range.
fn lossless_cfg(adc_bits: u8, encoding: Encoding) -> MappingConfig {
    MappingConfig {
        encoding,
        array_rows: 32,
        array_cols: 48,
        adc: AdcConfig {
            adc_bits,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Bit-sliced with a 24-bit ADC equals the exact integer result Σ_k x_q·w_q. Worst-case
/// ADC error in integer units: each conversion is off by ≤ LSB/2 with LSB =
/// 32 rows·0.5 V·88.2 µS/(2^24−1); a conversion of cycle c, slice s enters with weight
/// 2^c/(0.5 V)·4^s/step, and each output sums 2 columns × 8 cycles × 4 slices × 2 row
/// tiles, giving the bound below (< 0.5, so rounding recovers the integer exactly).
/// An 8-bit ADC on the same mapping must miss the integer result somewhere (seeds 5, 6).
#[test]
fn wide_adc_bit_sliced_equals_the_integer_result() {
    let (n_out, k, tokens) = (20, 64, 5);
    let w = random(n_out * k, 5);
    let x = random(tokens * k, 6);
    let integer = |cfg: &MappingConfig| -> Vec<f64> {
        let qw = quantize_weights(&w, n_out, k, 8, cfg.weight_scale, k);
        let mut out = vec![0.0; tokens * n_out];
        for t in 0..tokens {
            let row = &x[t * k..(t + 1) * k];
            let sx = scale_for(row.iter().fold(0.0f32, |a, v| a.max(v.abs())), 8);
            for n in 0..n_out {
                out[t * n_out + n] = (0..k)
                    .map(|i| (quantize(row[i], sx, 127) * qw.codes[n * k + i]) as f64)
                    .sum();
            }
        }
        out
    };
    let achieved = |cfg: &MappingConfig| -> Vec<f64> {
        let m = MappedMatrix::program(&w, n_out, k, cfg, &DeviceConfig::default(), 1, 0).unwrap();
        let (y, _) = m
            .forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap();
        let qw = quantize_weights(&w, n_out, k, 8, cfg.weight_scale, k);
        (0..tokens * n_out)
            .map(|i| {
                let (t, n) = (i / n_out, i % n_out);
                let row = &x[t * k..(t + 1) * k];
                let sx = scale_for(row.iter().fold(0.0f32, |a, v| a.max(v.abs())), 8);
                y[i] as f64 / (qw.scales[n] as f64 * sx as f64)
            })
            .collect()
    };
    for encoding in [Encoding::Differential, Encoding::Offset] {
        let cfg = lossless_cfg(24, encoding);
        let step = (88.2 - 9.0) / 3.0;
        let lsb = 32.0 * 0.5 * 88.2 / ((1u64 << 24) - 1) as f64;
        let per_output: f64 = (0..8).map(|c| (1u64 << c) as f64).sum::<f64>() / 0.5
            * (0..4).map(|s| 4f64.powi(s)).sum::<f64>()
            * 2.0
            * 2.0
            / step;
        let bound = per_output * lsb / 2.0;
        assert!(bound < 0.5, "setup is not lossless: bound {bound}");
        let want = integer(&cfg);
        let got = achieved(&cfg);
        for i in 0..want.len() {
            // f32 rounding of the currents adds a little on top of the ADC bound.
            assert!(
                (got[i] - want[i]).abs() <= bound + 0.01,
                "{encoding:?} [{i}]: {} vs {}",
                got[i],
                want[i]
            );
            assert_eq!(got[i].round(), want[i], "{encoding:?} [{i}]");
        }
        let coarse = achieved(&lossless_cfg(8, encoding));
        assert!(
            coarse.iter().zip(&want).any(|(g, w)| (g - w).abs() >= 1.0),
            "{encoding:?}: an 8-bit ADC should not be lossless here"
        );
    }
}

/// A calibrated ADC range (largest current seen on the calibration data) is tighter than
/// the full scale, so at 6 bits its error is smaller. Seeds 7, 8; the assertion is a
/// strict comparison of mean absolute errors.
#[test]
fn calibrated_adc_range_beats_full_scale() {
    let (n_out, k, tokens) = (64, 256, 16);
    let w = random(n_out * k, 7);
    let x = random(tokens * k, 8);
    let (want, _) = reference(&x, &w, tokens, n_out, k);
    let error = |range: AdcRange| -> f64 {
        let cfg = MappingConfig {
            adc: AdcConfig {
                adc_bits: 6,
                range,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut m =
            MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        m.calibrate(&x, tokens).unwrap();
        let (y, _) = m
            .forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap();
        mean_abs_error(&y, &want)
    };
    let (cal, full) = (error(AdcRange::Calibrated), error(AdcRange::FullScale));
    assert!(cal < full, "calibrated {cal} vs full scale {full}");
}

/// An ideal ADC with a calibrated range needs no calibration: it converts nothing, so the
/// forward pass runs without `calibrate` and gives what the full-scale setting gives.
#[test]
fn an_ideal_adc_needs_no_calibration() {
    let (n_out, k, tokens) = (8, 16, 3);
    let (w, x) = (random(n_out * k, 70), random(tokens * k, 71));
    let run = |range: AdcRange| {
        let cfg = MappingConfig {
            adc: AdcConfig {
                ideal: true,
                range,
                ..Default::default()
            },
            ..Default::default()
        };
        let m = MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        m.forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap()
            .0
    };
    assert_eq!(run(AdcRange::Calibrated), run(AdcRange::FullScale));
}

/// The G_min offset against an analog difference: 64×256 weights (cubed uniforms, mostly
/// small next to their column's largest, as in BERT) on 128×128 arrays of ReRAM-CMO-range
/// cells (9–88.2 µS, on/off 9.8), ideal devices, 8-bit ADC calibrated on the same 16 tokens
/// (data seeds 7, 8). Converting each column of a pair alone spends ADC codes on the offset
/// current; subtracting the pair first leaves them to the signal (at the price of a sign
/// bit), so the mean absolute error against x·Wᵀ drops by a quarter or more (measured
/// 0.110 → 0.073). On ISAAC's 0.5–500 µS cells (on/off 1000) the offset is negligible and
/// the two readouts err alike (within a factor 2).
#[test]
fn analog_difference_frees_the_adc_from_the_offset_current() {
    let (n_out, k, tokens) = (64, 256, 16);
    // Cubed uniforms: most weights small next to their column's largest, as in BERT.
    let w: Vec<f32> = random(n_out * k, 7).iter().map(|u| u * u * u).collect();
    let x = random(tokens * k, 8);
    let (want, _) = reference(&x, &w, tokens, n_out, k);
    let error = |readout: Readout, g_min_us: f32, g_max_us: f32| -> f64 {
        let mut cfg = MappingConfig {
            readout,
            adc: AdcConfig {
                range: AdcRange::Calibrated,
                ..Default::default()
            },
            ..Default::default()
        };
        (cfg.cell.g_min_us, cfg.cell.g_max_us) = (g_min_us, g_max_us);
        let mut m =
            MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        m.calibrate(&x, tokens).unwrap();
        let (y, _) = m
            .forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap();
        mean_abs_error(&y, &want)
    };
    let (two, diff) = (
        error(Readout::TwoConversions, 9.0, 88.2),
        error(Readout::AnalogDifference, 9.0, 88.2),
    );
    eprintln!("ReRAM-CMO range: two conversions {two:.4}, analog difference {diff:.4}");
    assert!(
        diff < 0.75 * two,
        "analog difference {diff} vs two conversions {two}"
    );
    let (two, diff) = (
        error(Readout::TwoConversions, 0.5, 500.0),
        error(Readout::AnalogDifference, 0.5, 500.0),
    );
    eprintln!("ISAAC range: two conversions {two:.4}, analog difference {diff:.4}");
    assert!(diff < 2.0 * two && two < 2.0 * diff, "{diff} vs {two}");
}

/// The analog-difference readout of the 300×200 matrix below: one conversion and one S&H
/// per column pair (1200 pairs per row tile instead of 2400 columns), no digital
/// subtraction (S − 1 slice additions per output and row tile), the same drives and cell
/// reads; 32 converted outputs per array share one ADC.
#[test]
fn analog_difference_event_counts_match_the_closed_form() {
    let (n_out, k, tokens) = (300usize, 200usize, 5usize);
    let (m, ev) = matrix_300x200(tokens, |c| c.readout = Readout::AnalogDifference);
    let (t, c, s, j, r, cols, pairs) = (5u64, 8u64, 4u64, 38u64, 4u64, 2400u64, 1200u64);
    let (n, kk) = (n_out as u64, k as u64);
    assert_eq!(ev.adc_conversions.get(&8), Some(&(t * c * r * pairs)));
    assert_eq!(ev.sample_holds, t * c * r * pairs);
    assert_eq!(ev.dac_drives, BTreeMap::from([(1, t * c * kk * j)]));
    assert_eq!(ev.cell_reads, t * c * kk * cols);
    assert_eq!(ev.shift_adds, t * (c - 1) * r * pairs + t * n * r * (s - 1));
    let report = m.report();
    assert_eq!(report.events_per_token.scaled(t), ev);
    assert_eq!(
        (report.readout, report.converted_columns_per_array),
        ("analog_difference", 32)
    );
    assert_eq!(report.adcs, r * j);
    assert_eq!(report.adc_serial_conversions_per_token, c * 32);
}

/// A 300×200 matrix (data seed 9) on 64×64 arrays with `change` applied to the default
/// mapping, and the events of one forward pass of `tokens` tokens (data seed 10).
fn matrix_300x200(
    tokens: usize,
    change: impl FnOnce(&mut MappingConfig),
) -> (MappedMatrix, crossbar::EventCounts) {
    let (n_out, k) = (300, 200);
    let mut cfg = MappingConfig {
        array_rows: 64,
        array_cols: 64,
        ..Default::default()
    };
    change(&mut cfg);
    let m = MappedMatrix::program(
        &random(n_out * k, 9),
        n_out,
        k,
        &cfg,
        &DeviceConfig::default(),
        1,
        0,
    )
    .unwrap();
    let (_, ev) = m
        .forward(
            &random(tokens * k, 10),
            tokens,
            &mapping::read_ids(0, tokens),
        )
        .unwrap();
    (m, ev)
}

/// The digital offset's events: the forward pass counts what the closed form says, with
/// T·K code-sum additions plus T·N·S·R multiplies of the sums (300×200 on 64×64 arrays,
/// 8-bit weights on 2-bit cells: S = 4 slices, one column each, R = 4 row tiles, T = 5),
/// and no reference columns: the cells used are K·N·S.
#[test]
fn digital_offset_event_counts_match_the_closed_form() {
    let (n_out, k, tokens) = (300usize, 200usize, 5usize);
    let (m, ev) = matrix_300x200(tokens, |c| c.encoding = Encoding::DigitalOffset);
    let (t, s, r) = (5u64, 4u64, 4u64);
    assert_eq!(ev.offset_ops, t * k as u64 + t * n_out as u64 * s * r);
    assert_eq!(m.report().events_per_token.scaled(t), ev);
    assert_eq!(m.report().cells_used, k as u64 * n_out as u64 * s);
}

/// Events of a 300×200 matrix on 64×64 arrays, 5 tokens, ISAAC-like precisions:
/// S = 4 slices (7 magnitude bits / 2), 8 columns per output → 8 outputs per array,
/// J = ⌈300/8⌉ = 38 column tiles, R = ⌈200/64⌉ = 4 row tiles, C = 8 cycles, T = 5,
/// physical columns Σ_j cols_j = 300·8 = 2400 (every row tile).
///   ADC (8-bit) = S&H = T·C·R·2400
///   DAC drives        = T·C·K·J (1-bit)
///   cell reads        = T·C·K·2400
///   shift-adds        = T·(C−1)·R·2400 (cycles, in the tiles) + T·N·R·(2S−1) (slices, ±)
///   adder tree        = T·N·(R−1)
///   buffer bits       = T·(K·8 + N·32)
#[test]
fn event_counts_match_the_closed_form() {
    let (n_out, k, tokens) = (300usize, 200usize, 5usize);
    let (m, ev) = matrix_300x200(tokens, |_| ());
    let (t, c, s, j, r, cols) = (5u64, 8u64, 4u64, 38u64, 4u64, 2400u64);
    let (n, kk) = (n_out as u64, k as u64);
    assert_eq!(ev.adc_conversions.get(&8), Some(&(t * c * r * cols)));
    assert_eq!(ev.adc_conversions.len(), 1);
    assert_eq!(ev.sample_holds, t * c * r * cols);
    assert_eq!(ev.dac_drives, BTreeMap::from([(1, t * c * kk * j)]));
    assert_eq!(ev.cell_reads, t * c * kk * cols);
    assert_eq!(
        ev.shift_adds,
        t * (c - 1) * r * cols + t * n * r * (2 * s - 1)
    );
    assert_eq!(ev.adder_tree_ops, t * n * (r - 1));
    assert_eq!(ev.buffer_bits, t * (kk * 8 + n * 32));
    let report = m.report();
    assert_eq!(report.events_per_token.scaled(t), ev);
    assert_eq!(report.arrays, (r * j) as usize);
    assert_eq!(report.cells_used, kk * cols);
    assert_eq!(report.cells_total, r * j * 64 * 64);
    // 64 columns per array (8 outputs × 8), one ADC per 128 columns: 8 cycles × 64.
    assert_eq!(report.adcs, r * j);
    assert_eq!(report.adc_serial_conversions_per_token, c * 64);
}

fn run_in_pool(threads: usize, f: impl FnOnce() -> Vec<f32> + Send) -> Vec<f32> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Same seed, same output; 1 and 2 threads give bitwise identical outputs (seed 11).
#[test]
fn deterministic_across_runs_and_threads() {
    let (n_out, k, tokens) = (150, 300, 7);
    let w = random(n_out * k, 11);
    let x = random(tokens * k, 12);
    let cfg = MappingConfig {
        array_rows: 64,
        array_cols: 96,
        ..Default::default()
    };
    let run = || {
        let m = MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 11, 3).unwrap();
        m.forward(&x, tokens, &mapping::read_ids(4 * tokens as u64, tokens))
            .unwrap()
            .0
    };
    let one = run_in_pool(1, run);
    let two = run_in_pool(2, run);
    let again = run_in_pool(2, run);
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&one), bits(&two));
    assert_eq!(bits(&two), bits(&again));
}

#[test]
fn bad_input_is_an_error_that_names_the_problem() {
    let cfg = MappingConfig {
        weight_bits: 0,
        ..Default::default()
    };
    let e =
        MappedMatrix::program(&[0.0; 6], 2, 3, &cfg, &DeviceConfig::default(), 1, 0).unwrap_err();
    assert_eq!(e.key, "mapping.weight_bits");
    let cfg = MappingConfig::default();
    let e =
        MappedMatrix::program(&[0.0; 5], 2, 3, &cfg, &DeviceConfig::default(), 1, 7).unwrap_err();
    assert!(
        e.key.contains("matrix 7 weight") && e.found.contains('5'),
        "{e}"
    );
    let e = MappedMatrix::program(
        &[0.0, 1.0, f32::NAN, 0.0],
        2,
        2,
        &cfg,
        &DeviceConfig::default(),
        1,
        7,
    )
    .unwrap_err();
    assert_eq!(e.key, "matrix 7 weight[1][0]");
    let m = MappedMatrix::program(&[0.5; 6], 2, 3, &cfg, &DeviceConfig::default(), 1, 7).unwrap();
    assert!(matches!(
        m.forward(&[0.0; 5], 2, &mapping::read_ids(0, 2)),
        Err(MappingError::Shape { .. })
    ));
    let cfg = MappingConfig {
        input_scale: InputScale::Calibrated,
        ..Default::default()
    };
    let mut m =
        MappedMatrix::program(&[0.5; 6], 2, 3, &cfg, &DeviceConfig::default(), 1, 7).unwrap();
    assert_eq!(
        m.forward(&[0.1; 3], 1, &mapping::read_ids(0, 1))
            .unwrap_err(),
        MappingError::NotCalibrated {
            matrix_id: 7,
            what: "input_scale"
        }
    );
    m.calibrate(&[0.1, -0.2, 0.3], 1).unwrap();
    assert!(m.forward(&[0.1; 3], 1, &mapping::read_ids(0, 1)).is_ok());
}

/// `columns_per_adc` changes only bookkeeping: outputs and events are identical for 1 and
/// 128 columns per ADC, only the report's ADC count and serial conversions differ (seed 13).
#[test]
fn columns_per_adc_changes_bookkeeping_only() {
    let (n_out, k, tokens) = (40, 100, 3);
    let w = random(n_out * k, 13);
    let x = random(tokens * k, 14);
    let run = |columns_per_adc: u32| {
        let cfg = MappingConfig {
            array_rows: 64,
            array_cols: 64,
            adc: AdcConfig {
                columns_per_adc,
                ..Default::default()
            },
            ..Default::default()
        };
        let m = MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        let (y, ev) = m
            .forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap();
        (y, ev, m.report())
    };
    let (y1, ev1, r1) = run(1);
    let (y128, ev128, r128) = run(128);
    assert_eq!(y1, y128);
    assert_eq!(ev1, ev128);
    // 2 row tiles × 5 column tiles of 64 columns: 64 ADCs each with 1 column per ADC.
    assert_eq!((r1.adcs, r128.adcs), (10 * 64, 10));
    assert_eq!(
        (
            r1.adc_serial_conversions_per_token,
            r128.adc_serial_conversions_per_token
        ),
        (8, 8 * 64)
    );
}

/// Calibration over 600 tokens (3 internal chunks) gives each array the largest range of
/// the separate calibrations on tokens 0..256, 256..512 and 512..600 (dynamic per-token
/// input scales, so chunks do not interact). Seeds 15, 16.
#[test]
fn calibration_takes_the_maximum_over_all_tokens() {
    let (n_out, k, tokens) = (24, 150, 600);
    let w = random(n_out * k, 15);
    let mut x = random(tokens * k, 16);
    for v in &mut x[599 * k..] {
        *v = v.signum(); // a saturated token in the last chunk
    }
    let cfg = MappingConfig {
        array_rows: 64,
        adc: AdcConfig {
            range: AdcRange::Calibrated,
            ..Default::default()
        },
        ..Default::default()
    };
    let ranges = |xs: &[f32]| {
        let mut m =
            MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        assert!(m.adc_ranges_ua().is_none());
        m.calibrate(xs, xs.len() / k).unwrap();
        m.adc_ranges_ua().unwrap().to_vec()
    };
    let all = ranges(&x);
    let parts: Vec<Vec<f32>> = [0..256, 256..512, 512..600]
        .into_iter()
        .map(|t| ranges(&x[t.start * k..t.end * k]))
        .collect();
    for a in 0..all.len() {
        let want = parts.iter().map(|p| p[a]).fold(0.0f32, f32::max);
        assert_eq!(all[a], want, "array {a}");
    }
    assert!(parts[2]
        .iter()
        .zip(&parts[0])
        .any(|(late, early)| late > early));
}

/// One-shot events of a 300×200 matrix on 64×64 arrays, 5 tokens, offset encoding:
/// S = 1 slice, 1 column per output + 1 reference column per array → 63 outputs per
/// array, J = ⌈300/63⌉ = 5, R = ⌈200/64⌉ = 4, C = 1 cycle (8-bit DAC), physical columns
/// per row tile Σ_j cols_j = 300 + 5 references = 305.
///   ADC (8-bit) = S&H = T·R·305, DAC drives (8-bit) = T·K·J, cell reads = T·K·305,
///   shift-adds = 0 (one cycle) + T·N·R·(2S−1), adder tree = T·N·(R−1).
#[test]
fn one_shot_event_counts_match_the_closed_form() {
    let (n_out, k, tokens) = (300usize, 200usize, 5usize);
    let cfg = MappingConfig {
        fidelity: Fidelity::OneShot,
        encoding: Encoding::Offset,
        array_rows: 64,
        array_cols: 64,
        dac: DacConfig {
            dac_bits: 8,
            ..Default::default()
        },
        ..Default::default()
    };
    let w = random(n_out * k, 17);
    let m = MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
    let (_, ev) = m
        .forward(
            &random(tokens * k, 18),
            tokens,
            &mapping::read_ids(0, tokens),
        )
        .unwrap();
    let (t, j, r, cols, n, kk) = (5u64, 5u64, 4u64, 305u64, n_out as u64, k as u64);
    assert_eq!(ev.adc_conversions.get(&8), Some(&(t * r * cols)));
    assert_eq!(ev.sample_holds, t * r * cols);
    assert_eq!(ev.dac_drives, BTreeMap::from([(8, t * kk * j)]));
    assert_eq!(ev.cell_reads, t * kk * cols);
    assert_eq!(ev.shift_adds, t * n * r);
    assert_eq!(ev.adder_tree_ops, t * n * (r - 1));
    assert_eq!(m.report().input_cycles, 1);
}

/// An offset-aware ADC span against the offset of one device per weight: 64×256 weights
/// (cubed uniforms) as `digital_offset` on one-shot ReRAM-CMO-range cells (9–88.2 µS), ideal
/// devices, inputs with a positive mean (uniforms on [−0.2, 1], like GELU outputs: every
/// column current carries G_mid·Σx), 8-bit ADC calibrated on the same 16 tokens (data seeds
/// 7, 8). `calibrated` spends the codes from 0 A up; `calibrated_span` spends them on
/// [smallest, largest] current seen, so its mean absolute error against x·Wᵀ is at least
/// halved (measured 0.201 → 0.045). The events are the same: the span moves the ADC's
/// reference, it adds no conversion.
#[test]
fn an_adc_span_frees_the_codes_from_the_offset_current() {
    let (n_out, k, tokens) = (64, 256, 16);
    let w: Vec<f32> = random(n_out * k, 7).iter().map(|u| u * u * u).collect();
    let x: Vec<f32> = random(tokens * k, 8)
        .iter()
        .map(|u| 0.4 + 0.6 * u)
        .collect();
    let (want, _) = reference(&x, &w, tokens, n_out, k);
    let run = |range: AdcRange| {
        let mut cfg = MappingConfig {
            fidelity: Fidelity::OneShot,
            encoding: Encoding::DigitalOffset,
            adc: AdcConfig {
                range,
                ..Default::default()
            },
            dac: DacConfig {
                dac_bits: 8,
                ..Default::default()
            },
            ..Default::default()
        };
        (cfg.cell.g_min_us, cfg.cell.g_max_us) = (9.0, 88.2);
        let mut m =
            MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        m.calibrate(&x, tokens).unwrap();
        let (y, events) = m
            .forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap();
        let error = mean_abs_error(&y, &want);
        (error, events)
    };
    let ((zero_based, events), (span, span_events)) =
        (run(AdcRange::Calibrated), run(AdcRange::CalibratedSpan));
    eprintln!("mean absolute error: calibrated {zero_based:.4}, calibrated_span {span:.4}");
    assert!(
        span < zero_based / 2.0,
        "span {span} vs zero-based {zero_based}"
    );
    assert_eq!(events, span_events);
}

/// Per-array weight scales (aihwkit's column-wise scaling on tiles of `max_input_size`
/// rows): 16 outputs × 256 inputs on 128-row arrays, the first 128 inputs' weights 20×
/// smaller than the others', inputs on those 128 only (seeds 9, 10). One scale per output
/// over all 256 inputs leaves the small block a few codes; one per output and array gives
/// it all 255, so with ideal converters and devices the mean absolute error against x·Wᵀ
/// drops at least fourfold (measured 0.0120 → 0.0008).
/// Every array output is then scaled once (`array_gain_multiplies`, none per column);
/// with a single row tile the two choices give the same outputs (to float rounding, 1e-6
/// of the largest: the scale multiplies the array sum instead of the final output).
#[test]
fn per_array_weight_scales_give_each_array_its_full_range() {
    let (n_out, k, tokens) = (16, 256, 8);
    let w: Vec<f32> = random(n_out * k, 9)
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % k < 128 { v / 20.0 } else { v })
        .collect();
    // Inputs on the small block only, so the error is that block's.
    let x: Vec<f32> = random(tokens * k, 10)
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % k < 128 { v } else { 0.0 })
        .collect();
    let (want, _) = reference(&x, &w, tokens, n_out, k);
    let run = |weight_scale: WeightScale, array_rows: usize| {
        let mut cfg = ideal_cfg(
            Fidelity::BitSliced,
            Encoding::Differential,
            array_rows,
            128,
            8,
        );
        cfg.weight_scale = weight_scale;
        let m = MappedMatrix::program(&w, n_out, k, &cfg, &DeviceConfig::default(), 1, 0).unwrap();
        let (y, events) = m
            .forward(&x, tokens, &mapping::read_ids(0, tokens))
            .unwrap();
        let error = mean_abs_error(&y, &want);
        (y, error, events)
    };
    let (_, per_column, column_events) = run(WeightScale::PerColumn, 128);
    let (_, per_array, array_events) = run(WeightScale::PerArrayColumn, 128);
    eprintln!("mean absolute error: per_column {per_column:.5}, per_array_column {per_array:.5}");
    assert!(per_array * 4.0 < per_column, "{per_array} vs {per_column}");
    assert_eq!(column_events.array_gain_multiplies, 0);
    assert_eq!(
        array_events.array_gain_multiplies,
        (tokens * n_out * 2) as u64
    );
    let (one_tile_column, ..) = run(WeightScale::PerColumn, 256);
    let (one_tile_array, ..) = run(WeightScale::PerArrayColumn, 256);
    let largest = one_tile_column.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (a, b) in one_tile_column.iter().zip(&one_tile_array) {
        assert!((a - b).abs() <= 1e-6 * largest, "{a} vs {b}");
    }
}

#[test]
fn mean_conductance_counts_every_cell_at_its_level() {
    // ISAAC geometry (8-bit weights, differential, 2-bit cells on 0.5–500 µS, 128 × 128):
    // 16 outputs × 8 columns fill one array of 128 rows.
    let cfg = MappingConfig::default();
    let (g_min, g_max) = (cfg.cell.g_min_us as f64, cfg.cell.g_max_us as f64);
    let program = |w: &[f32]| {
        MappedMatrix::program(w, 16, 128, &cfg, &DeviceConfig::default(), 0, 0).unwrap()
    };
    // zero weights: every cell at level 0
    let zero = program(&vec![0.0; 16 * 128]);
    assert!((zero.mean_conductance_us() - g_min).abs() < 1e-4);
    // every weight at +max: code 127 = slices 3, 3, 3, 1 on W⁺, W⁻ at level 0: a mean
    // level of 10 / 8 per cell, at (G_max − G_min) / 3 per level
    let full = program(&vec![1.0; 16 * 128]);
    let want = g_min + 10.0 / 8.0 * (g_max - g_min) / 3.0;
    assert!(
        (full.mean_conductance_us() - want).abs() < 1e-3,
        "{} vs {want}",
        full.mean_conductance_us()
    );
    // half the rows used: the unused half of the array sits at G_min
    let half = MappedMatrix::program(
        &vec![1.0; 16 * 64],
        16,
        64,
        &cfg,
        &DeviceConfig::default(),
        0,
        0,
    )
    .unwrap();
    let want_half = (want + g_min) / 2.0;
    assert!((half.mean_conductance_us() - want_half).abs() < 1e-3);
}

/// A matrix counts its DAC drives under the bits one drive resolves, min(dac_bits,
/// input_bits): the key the energy roll-up prices them at.
#[test]
fn dac_drives_are_counted_at_the_matrix_own_resolution() {
    for ((dac_bits, input_bits), resolved) in [((1, 8), 1u8), ((4, 8), 4), ((8, 6), 6)] {
        let cfg = MappingConfig {
            dac: DacConfig {
                dac_bits,
                ..Default::default()
            },
            input_bits,
            ..Default::default()
        };
        let m =
            MappedMatrix::program(&[0.1; 32], 4, 8, &cfg, &DeviceConfig::default(), 0, 0).unwrap();
        let keys: Vec<u8> = m.events(3).dac_drives.into_keys().collect();
        assert_eq!(
            keys,
            [resolved],
            "dac_bits {dac_bits}, input_bits {input_bits}"
        );
    }
}
