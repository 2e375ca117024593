//! Device study without BERT: how far ReRAM-CMO cells land from their targets right after
//! programming and after a day of relaxation, what a measured fault rate does to an array,
//! and how much IR drop costs.
//!
//! Run: `cargo run --release -p crossbar --example device_study [-- FAULTS.csv]`
//! (with a path, the fault map of the 128×128 array is written there as CSV).

use crossbar::device::{ProgrammingVariation, StuckAtFaults};
use crossbar::ir_drop::{self, IrDropConfig};
use crossbar::{program_array, CellConfig, DeviceConfig, Purpose, StreamKey, StuckAt};
use rand::Rng;

/// Cells per level in the statistics table.
const CELLS_PER_LEVEL: usize = 100_000;

fn main() -> std::io::Result<()> {
    let cell = CellConfig::reram_cmo(2);
    let key = StreamKey::new(2026, 0, 0, Purpose::Programming);
    level_table(&cell, key);
    fault_summary(&cell, key, std::env::args().nth(1))?;
    ir_drop_summary(&cell, key);
    Ok(())
}

/// Mean and σ (µS) of each level after programming (1 s) and after one day.
fn level_table(cell: &CellConfig, key: StreamKey) {
    let just_programmed = DeviceConfig {
        programming: ProgrammingVariation::ReramCmo2Pct,
        ..DeviceConfig::default()
    };
    let one_day = DeviceConfig::reram_cmo(86_400.0);
    println!(
        "ReRAM-CMO cells, 2 bits on {}–{} µS, 2 % acceptance programming,",
        cell.g_min_us, cell.g_max_us
    );
    println!("{CELLS_PER_LEVEL} cells per level (seed 2026). Conductances in µS.\n");
    println!("level  target  | t = 1 s: mean    σ   | t = 1 day: mean    σ    | of it 1/f σ");
    let mut widest = 0f64;
    for level in 0..=cell.max_level() {
        let levels = vec![level; CELLS_PER_LEVEL];
        let program = |cfg: &DeviceConfig| {
            program_array(
                cfg,
                cell,
                &levels,
                1,
                CELLS_PER_LEVEL,
                key.with_index(level as u64),
            )
            .g_us
        };
        let (m0, s0) = mean_sd(&program(&just_programmed));
        let aged = program(&one_day);
        let (m1, s1) = mean_sd(&aged);
        let one_over_f = one_day.accumulated_noise.sigma_us(
            m0 as f32,
            m1 as f32,
            cell.g_max_us,
            one_day.read_time_s,
        );
        widest = widest.max(s1);
        println!(
            "{level:>5}  {:>6.2}  |        {m0:>7.3} {s0:>6.3} |           {m1:>7.3} {s1:>6.3} | {one_over_f:>6.3}",
            cell.conductance_us(level)
        );
    }
    let gap = (cell.conductance_us(1) - cell.conductance_us(0)) as f64;
    println!("\nLevel spacing {gap:.2} µS; the widest level after a day spreads σ = {widest:.3} µS ({:.1} % of it).\n", 100.0 * widest / gap);
}

/// Chen et al. 2015 stuck-at rates on one 128×128 array.
fn fault_summary(cell: &CellConfig, key: StreamKey, csv: Option<String>) -> std::io::Result<()> {
    let cfg = DeviceConfig {
        stuck_at: StuckAtFaults::chen2015(),
        ..DeviceConfig::default()
    };
    let (rows, cols) = (128, 128);
    let array = program_array(&cfg, cell, &vec![1; rows * cols], rows, cols, key);
    let n = (rows * cols) as f64;
    println!("Chen et al. 2015 stuck-at rates on a {rows}×{cols} array (asked 9.04 % / 1.75 %):");
    println!(
        "  stuck at G_max: {:.2} %   stuck at G_min: {:.2} %",
        100.0 * array.faults.count(StuckAt::GMax) as f64 / n,
        100.0 * array.faults.count(StuckAt::GMin) as f64 / n
    );
    if let Some(path) = csv {
        array.faults.write_csv(std::fs::File::create(&path)?)?;
        println!("  fault map written to {path}");
    }
    println!();
    Ok(())
}

/// Column-current loss to IR drop with aihwkit wires, and the static approximation's error,
/// for one input bit-plane (each row at 0.2 V with probability 1/2).
fn ir_drop_summary(cell: &CellConfig, key: StreamKey) {
    let cfg = IrDropConfig::aihwkit();
    println!(
        "IR drop, {} Ω per segment, random 2-bit levels, half the rows at 0.2 V:",
        cfg.wire_resistance_ohm
    );
    println!("  size   worst column loss   approximation error   exact-solve sweeps");
    for n in [32usize, 64, 128, 256] {
        let mut draw = key.with_index(n as u64).rng();
        let levels: Vec<u8> = (0..n * n).map(|_| draw.random_range(0..4)).collect();
        let g = program_array(&DeviceConfig::default(), cell, &levels, n, n, key).g_us;
        let mut bits = key
            .with_purpose(Purpose::Calibration)
            .with_index(n as u64)
            .rng();
        let v: Vec<f32> = (0..n)
            .map(|_| if bits.random_bool(0.5) { 0.2 } else { 0.0 })
            .collect();
        let sol = ir_drop::solve_nodes(&g, n, n, &v, &cfg);
        let g_eff = ir_drop::effective_conductance(&g, n, n, &cfg);
        let (mut loss, mut err) = (0f64, 0f64);
        for j in 0..n {
            let ideal: f64 = (0..n).map(|i| v[i] as f64 * g[i * n + j] as f64).sum();
            let approx: f64 = (0..n).map(|i| v[i] as f64 * g_eff[i * n + j] as f64).sum();
            let exact = sol.column_currents_ua[j];
            loss = loss.max(1.0 - exact / ideal);
            err = err.max((approx - exact).abs() / exact);
        }
        println!(
            "  {n:>4}   {:>15.2} %   {:>17.4} %   {:>10}",
            100.0 * loss,
            100.0 * err,
            sol.sweeps
        );
    }
}

fn mean_sd(xs: &[f32]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}
