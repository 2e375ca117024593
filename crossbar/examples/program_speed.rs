//! Benchmark: how long programming a chip instance takes, per cell, with every device
//! effect on (ReRAM-CMO variation, relaxation to one day, Chen et al. 2015 stuck-at faults),
//! and how long the static IR-drop approximation takes per tile. Single thread.
//!
//! Times are this thread's CPU time (Linux `/proc/thread-self/schedstat`, so other jobs on a
//! shared machine do not inflate them), with wall time beside it.
//!
//! Run: `cargo run --release -p crossbar --example program_speed`

use crossbar::device::{ProgrammingVariation, StuckAtFaults};
use crossbar::ir_drop::{self, IrDropConfig};
use crossbar::{program_array, CellConfig, DeviceConfig, Purpose, StreamKey};
use std::time::Instant;

/// BERT-base: about 85 M linear-layer weights; 8-bit weights on 2-bit cells are 4 slices,
/// times 2 columns for the differential pair.
const BERT_BASE_CELLS: f64 = 85e6 * 4.0 * 2.0;
const ROWS: usize = 128;
const COLS: usize = 128;

fn main() {
    let cell = CellConfig::reram_cmo(2);
    let levels: Vec<u8> = (0..ROWS * COLS).map(|k| (k % 4) as u8).collect();
    let mut all_effects = DeviceConfig::reram_cmo(86_400.0);
    all_effects.stuck_at = StuckAtFaults::chen2015();
    let cases = [
        ("ideal", DeviceConfig::default()),
        (
            "programming only (CMO 2 %)",
            DeviceConfig {
                programming: ProgrammingVariation::ReramCmo2Pct,
                ..DeviceConfig::default()
            },
        ),
        (
            "all effects (CMO, 1 day, Chen 2015 faults)",
            all_effects.clone(),
        ),
    ];
    let tiles = 400;
    println!(
        "program_array, {tiles} tiles of {ROWS}×{COLS} (BERT-base ≈ {:.0} M cells):",
        BERT_BASE_CELLS / 1e6
    );
    for (name, cfg) in &cases {
        let (cpu, wall) = timed(|| {
            (0..tiles)
                .map(|t| {
                    let key = StreamKey::new(1, 0, t, Purpose::Programming);
                    program_array(cfg, &cell, &levels, ROWS, COLS, key).g_us[t as usize] as f64
                })
                .sum()
        });
        report(name, cpu, wall, tiles as usize);
    }
    let key = StreamKey::new(1, 0, 0, Purpose::Programming);
    let g = program_array(&all_effects, &cell, &levels, ROWS, COLS, key).g_us;
    let reps = 200;
    for sweeps in [1, 2] {
        let cfg = IrDropConfig {
            approximation_sweeps: sweeps,
            ..IrDropConfig::aihwkit()
        };
        let (cpu, wall) = timed(|| {
            (0..reps)
                .map(|_| ir_drop::effective_conductance(&g, ROWS, COLS, &cfg)[7] as f64)
                .sum()
        });
        report(
            &format!("effective_conductance, {sweeps} sweep(s)"),
            cpu,
            wall,
            reps,
        );
    }
    let v = vec![0.2f32; ROWS];
    let (cpu, wall) = timed(|| {
        (0..20)
            .map(|_| ir_drop::solve_exact(&g, ROWS, COLS, &v, &IrDropConfig::aihwkit())[3])
            .sum()
    });
    report("solve_exact (all rows at 0.2 V)", cpu, wall, 20);
}

/// Runs `work` and returns (CPU s, wall s); the work's result is printed so it is not
/// optimised away.
fn timed(work: impl FnOnce() -> f64) -> (f64, f64) {
    let (cpu0, wall0) = (thread_cpu_s(), Instant::now());
    let checksum = work();
    let result = (thread_cpu_s() - cpu0, wall0.elapsed().as_secs_f64());
    eprintln!("  (checksum {checksum:.3})");
    result
}

fn report(name: &str, cpu_s: f64, wall_s: f64, tiles: usize) {
    let ns_per_cell = cpu_s * 1e9 / (tiles * ROWS * COLS) as f64;
    println!(
        "  {name:<44} {:7.3} ms/tile {ns_per_cell:6.2} ns/cell (wall {:6.2}) → BERT-base {:6.1} CPU-s",
        cpu_s * 1e3 / tiles as f64,
        wall_s * 1e9 / (tiles * ROWS * COLS) as f64,
        ns_per_cell * BERT_BASE_CELLS / 1e9
    );
}

/// CPU time of this thread, s (0 where /proc is unavailable, so only wall time is meaningful).
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}
