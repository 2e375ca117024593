//! Statistical checks of every device model against its formula.
//!
//! Sample sizes and tolerances: N = 200 000 cells; a sample mean is accepted within 5
//! standard errors (σ/√N) and a sample σ within 5·σ/√(2N) (the large-N standard error of a
//! Gaussian sample σ). A correct model fails one such check with probability < 1e-6; the
//! seeds are fixed, so the tests are deterministic.

use super::*;

const N: usize = 200_000;

fn key(seed: u64) -> StreamKey {
    StreamKey::new(seed, 1, 2, Purpose::Programming)
}

/// One row of N cells, all programmed to `level`.
fn program_row(cfg: &DeviceConfig, cell: &CellConfig, level: u8, seed: u64) -> Vec<f32> {
    program_array(cfg, cell, &vec![level; N], 1, N, key(seed)).g_us
}

fn mean_sd(xs: &[f32]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Asserts sample mean and σ within 5 standard errors of (mean, sd).
fn assert_moments(what: &str, xs: &[f32], mean: f64, sd: f64) {
    let (m, s) = mean_sd(xs);
    let n = xs.len() as f64;
    let tol_mean = 5.0 * sd / n.sqrt();
    let tol_sd = 5.0 * sd / (2.0 * n).sqrt();
    assert!(
        (m - mean).abs() <= tol_mean,
        "{what}: mean {m} vs {mean} ± {tol_mean}"
    );
    assert!((s - sd).abs() <= tol_sd, "{what}: σ {s} vs {sd} ± {tol_sd}");
}

#[test]
fn read_noise_matches_its_sigma() {
    // One read of N devices at 50 µS: relative 1 % (σ 0.5 µS) and absolute 0.3 µS. Seeds
    // 70–71; two reads (index 0 and 1) of the same chip must differ.
    let g = vec![50.0f32; N];
    let per_mvm = Correlation::PerMvm;
    let cases = [
        (
            ReadNoise::Relative {
                sigma: 0.01,
                correlation: per_mvm,
            },
            0.5,
        ),
        (
            ReadNoise::Absolute {
                sigma_us: 0.3,
                correlation: per_mvm,
            },
            0.3,
        ),
    ];
    for (seed, (read_noise, sigma)) in (70..).zip(cases) {
        let cfg = DeviceConfig {
            read_noise,
            ..DeviceConfig::default()
        };
        assert!((cfg.read_noise_sigma_us(50.0) as f64 - sigma).abs() < 1e-5 * sigma);
        let read_key = StreamKey::new(seed, 1, 2, Purpose::ReadNoise);
        let first = cfg.sample_read(&g, read_key);
        assert_moments(&format!("{:?}", cfg.read_noise), &first, 50.0, sigma);
        assert_ne!(first, cfg.sample_read(&g, read_key.with_index(1)));
    }
    assert_eq!(
        DeviceConfig::default().sample_read(&g[..4], key(1)),
        &g[..4]
    );
}

/// The accumulated 1/f deviation is part of the state at read time: N devices programmed
/// (without variation) to 50 µS and read one day later have the aihwkit ReRAM-CMO σ
/// 0.0277316·log10(50)·sqrt(ln((86400 + 1e-6)/2e-6)) = 0.233157 µS around 50 µS (seed 73),
/// the same conductances for the same chip instance whatever reads follow, and other ones
/// for another chip instance.
#[test]
fn accumulated_noise_is_drawn_once_per_chip_instance() {
    let cell = CellConfig::reram_cmo(2);
    let cfg = DeviceConfig {
        accumulated_noise: AccumulatedNoise::reram_cmo(),
        read_time_s: 86_400.0,
        ..DeviceConfig::default()
    };
    assert!(!cfg.is_ideal() && cfg.varies_conductance());
    let targets = vec![50.0f32; N];
    let chip = |seed| program_conductances(&cfg, &cell, &targets, 1, N, key(seed)).g_us;
    let g = chip(73);
    assert_moments("accumulated reram_cmo", &g, 50.0, 0.233_157);
    assert_eq!(g, chip(73));
    assert_ne!(g, chip(74));
    // Right after programming (the compensation reference), the device is on its target.
    let fresh = program_conductances(&cfg.at_programming(), &cell, &targets, 1, N, key(73));
    assert!(fresh.g_us.iter().all(|&x| x == 50.0));
}

/// The PCM device of aihwkit end to end at one state: target 10 µS of G_max 25 µS, read one
/// hour after programming, N devices (seed 75). Programming σ = (0.26348 + 1.965·0.4 −
/// 1.1731·0.16) = 0.86178 µS; ν = |μ + σ_ν·z| with μ = 0.0244 − 0.0155·ln 0.4 = 0.038603 →
/// clamped to 0.049 and σ_ν = −0.0125·ln 0.4 − 0.0059 = 0.005554 → 0.008, so the drift
/// factor (3620/20)^(−ν) has mean ≈ 0.7750 (ν ≈ 0.049 ± 0.008, nearly never folded); the
/// 1/f deviation adds σ = G·Q_s·band with Q_s from the programmed G. The sample mean and σ
/// are compared with a Monte-Carlo-free evaluation: mean = 10·E[f], σ² = Var(G_p·f) +
/// E[(G·Q_s·band)²], evaluated by numerical integration over the two Gaussians (5 standard
/// errors, as everywhere in this file).
#[test]
fn pcm_device_follows_the_aihwkit_fit() {
    let cell = CellConfig {
        bits_per_cell: 2,
        g_min_us: 0.0,
        g_max_us: 25.0,
    };
    let cfg = DeviceConfig {
        programming: ProgrammingVariation::Pcm,
        drift: Drift::pcm(),
        accumulated_noise: AccumulatedNoise::pcm(),
        read_time_s: 3600.0,
        ..DeviceConfig::default()
    };
    cfg.validate("d").unwrap();
    let g = program_conductances(&cfg, &cell, &vec![10.0f32; N], 1, N, key(75)).g_us;
    // Quadrature over z_p (programming) and z_ν (drift exponent), 2001 points each on ±8σ.
    let (sig_p, log_ratio) = (0.861_78f64, (3620.0f64 / 20.0).ln());
    let band = ((3620.0f64 + 2.5e-7) / 5e-7).ln().sqrt();
    let grid: Vec<(f64, f64)> = (0..2001)
        .map(|k| {
            let z = -8.0 + 16.0 * k as f64 / 2000.0;
            (
                z,
                (-z * z / 2.0).exp() * 16.0 / 2000.0 / (2.0 * std::f64::consts::PI).sqrt(),
            )
        })
        .collect();
    let (mut m1, mut m2) = (0.0, 0.0);
    for &(zp, wp) in &grid {
        let g_p = (10.0 + sig_p * zp).max(0.0);
        let q_s = (0.0088 / (g_p / 25.0).powf(0.65).max(1e-3)).min(0.2);
        for &(zn, wn) in &grid {
            let f = (-(0.049 + 0.008 * zn).abs() * log_ratio).exp();
            let gd = g_p * f;
            m1 += wp * wn * gd;
            m2 += wp * wn * (gd * gd * (1.0 + (q_s * band).powi(2)));
        }
    }
    let sd = (m2 - m1 * m1).sqrt();
    assert_moments("pcm at 1 h", &g, m1, sd);
}

fn with_programming(programming: ProgrammingVariation) -> DeviceConfig {
    DeviceConfig {
        programming,
        ..DeviceConfig::default()
    }
}

#[test]
fn ideal_config_programs_targets_exactly() {
    let cell = CellConfig::mnsim(2);
    let levels: Vec<u8> = (0..64).map(|i| (i % 4) as u8).collect();
    let cfg = DeviceConfig::default();
    assert!(cfg.is_ideal());
    let array = program_array(&cfg, &cell, &levels, 8, 8, key(1));
    for (g, &l) in array.g_us.iter().zip(&levels) {
        assert_eq!(*g, cell.conductance_us(l));
    }
    assert!(array.faults.cells.is_empty());
    assert_eq!(cfg.read_noise_sigma_us(50.0), 0.0);
}

#[test]
fn relative_gaussian_matches_formula() {
    // Level 3 of the MNSIM 2-bit cell: G = 100 µS, σ = 5 % of G. Seed 11.
    let cell = CellConfig::mnsim(2);
    let g = program_row(
        &with_programming(ProgrammingVariation::Relative { sigma: 0.05 }),
        &cell,
        3,
        11,
    );
    assert_moments("relative", &g, 100.0, 5.0);
}

#[test]
fn absolute_gaussian_matches_formula() {
    // G = 100 µS, σ = 2 µS (clamping at 0 is 50 σ away). Seed 12.
    let cell = CellConfig::mnsim(2);
    let cfg = with_programming(ProgrammingVariation::Absolute { sigma_us: 2.0 });
    assert_moments("absolute", &program_row(&cfg, &cell, 3, 12), 100.0, 2.0);
}

#[test]
fn lognormal_matches_formula() {
    // G·e^θ, θ ~ N(0, 0.2²): mean G·e^(σ²/2), σ = G·√((e^(σ²) − 1)·e^(σ²)). Seed 13.
    let cell = CellConfig::mnsim(2);
    let cfg = with_programming(ProgrammingVariation::Lognormal { sigma: 0.2 });
    let g = program_row(&cfg, &cell, 3, 13);
    let s2 = 0.2f64 * 0.2;
    let sd = 100.0 * ((s2.exp() - 1.0) * s2.exp()).sqrt();
    assert_moments("lognormal", &g, 100.0 * (s2 / 2.0).exp(), sd);
    let reported = ProgrammingVariation::Lognormal { sigma: 0.2 }.sigma_us(100.0, 100.0) as f64;
    assert!((reported - sd).abs() < 1e-5 * sd);
    // Moments of ln G: exactly N(ln G, σ²).
    let logs: Vec<f32> = g.iter().map(|x| x.ln()).collect();
    assert_moments("ln lognormal", &logs, 100f64.ln(), 0.2);
}

#[test]
fn state_dependent_models_match_their_sigma_at_every_level() {
    // ReRAM-CMO 2 % fit on the CMO range (9–88.2 µS, 2 bits), CrossSim Milo on 50–225 µS,
    // a linear law and a table: every level's σ must equal σ(G_level). Seeds 20 + level.
    let cmo_cell = CellConfig::reram_cmo(2);
    let milo_cell = CellConfig {
        bits_per_cell: 2,
        g_min_us: 50.0,
        g_max_us: 225.0,
    };
    let table = ProgrammingVariation::Table {
        g_us: vec![9.0, 50.0, 88.2],
        sigma_us: vec![0.5, 1.5, 1.0],
    };
    let cases = [
        (ProgrammingVariation::ReramCmo2Pct, &cmo_cell),
        (ProgrammingVariation::ReramCmo0p2Pct, &cmo_cell),
        (ProgrammingVariation::CrosssimRramMilo, &milo_cell),
        (
            ProgrammingVariation::Linear { a_us: 0.3, b: 0.02 },
            &cmo_cell,
        ),
        (table, &cmo_cell),
    ];
    for (model, cell) in cases {
        let cfg = with_programming(model.clone());
        for level in 0..cell.levels() as u8 {
            let target = cell.conductance_us(level) as f64;
            let sigma = model.sigma_us(target as f32, cell.g_max_us) as f64;
            let g = program_row(&cfg, cell, level, 20 + level as u64);
            assert_moments(&format!("{model:?} level {level}"), &g, target, sigma);
        }
    }
    // The CMO 2 % σ at G_max, by hand: 0.0112185 + 0.0112903·88.2 = 1.0070 µS.
    assert!((ProgrammingVariation::ReramCmo2Pct.sigma_us(88.2, 88.2) - 1.00703).abs() < 1e-4);
}

/// Continuous targets (not on any 2-bit level): every state-dependent model draws σ(G) at
/// the cell's own target. Targets 20.0, 37.3 and 61.9 µS on the CMO range; N cells each,
/// seeds 40 + k; tolerances as in the module docs.
#[test]
fn state_dependent_models_follow_sigma_at_continuous_targets() {
    let cell = CellConfig::reram_cmo(2);
    let table = ProgrammingVariation::Table {
        g_us: vec![9.0, 50.0, 88.2],
        sigma_us: vec![0.5, 1.5, 1.0],
    };
    for model in [ProgrammingVariation::ReramCmo2Pct, table] {
        let cfg = with_programming(model.clone());
        for (k, target) in [20.0f32, 37.3, 61.9].into_iter().enumerate() {
            let g = program_conductances(&cfg, &cell, &vec![target; N], 1, N, key(40 + k as u64));
            let sigma = model.sigma_us(target, cell.g_max_us) as f64;
            assert_moments(
                &format!("{model:?} at {target} µS"),
                &g.g_us,
                target as f64,
                sigma,
            );
        }
    }
}

/// `program_array` is `program_conductances` on the levels' targets: the same streams give
/// bitwise the same array under every effect at once (seed 45).
#[test]
fn levels_and_their_conductances_program_identically() {
    let cell = CellConfig::reram_cmo(2);
    let mut cfg = DeviceConfig::reram_cmo(86_400.0);
    cfg.stuck_at = fault_cfg(0.01, 0.02, FaultLayout::Independent).stuck_at;
    let (rows, cols) = (40, 30);
    let levels: Vec<u8> = (0..rows * cols).map(|i| (i * 7 % 4) as u8).collect();
    let targets: Vec<f32> = levels.iter().map(|&l| cell.conductance_us(l)).collect();
    let by_level = program_array(&cfg, &cell, &levels, rows, cols, key(45));
    let by_target = program_conductances(&cfg, &cell, &targets, rows, cols, key(45));
    assert_eq!(by_level.g_us, by_target.g_us);
    assert_eq!(by_level.faults, by_target.faults);
    assert!(!by_level.faults.cells.is_empty());
}

#[test]
fn negative_tails_are_clamped_at_zero() {
    // G = 1 µS (level 0 of MNSIM), σ = 1 µS absolute: P(G < 0) = Φ(−1) = 0.158655.
    // The clamped fraction must be within 5 binomial σ of it. Seed 14.
    let cell = CellConfig::mnsim(2);
    let cfg = with_programming(ProgrammingVariation::Absolute { sigma_us: 1.0 });
    let g = program_row(&cfg, &cell, 0, 14);
    assert!(g.iter().all(|&x| x >= 0.0));
    let zeros = g.iter().filter(|&&x| x == 0.0).count() as f64 / N as f64;
    let p = 0.158_655;
    let tol = 5.0 * (p * (1.0 - p) / N as f64).sqrt();
    assert!(
        (zeros - p).abs() < tol,
        "clamped fraction {zeros} vs {p} ± {tol}"
    );
}

#[test]
fn power_law_drift_follows_its_exponent_in_t() {
    // ν ~ N(0.06, 0.02²), t0 = 20 s, no programming variation, G = 100 µS. At each t the
    // sample mean of ln(G(t)/G) must be −μν·ln(t/t0) and its σ σν·ln(t/t0) (5 SE); a
    // least-squares fit of the mean over the five times must give μν within 5 SE of the
    // per-device exponent mean. Seed 30 (the same chip observed at five times).
    let cell = CellConfig::mnsim(2);
    let (mu, sd) = (0.06f64, 0.02f64);
    let times = [100.0, 1e3, 1e4, 1e5, 1e6];
    let mut points = Vec::new();
    for t in times {
        let cfg = DeviceConfig {
            drift: Drift::PowerLaw {
                t0_s: 20.0,
                nu_mean: mu as f32,
                nu_sigma: sd as f32,
            },
            read_time_s: t,
            ..DeviceConfig::default()
        };
        cfg.validate("device").unwrap();
        let g = program_row(&cfg, &cell, 3, 30);
        let log_ratio: Vec<f32> = g.iter().map(|x| (x / 100.0).ln()).collect();
        let l = (t / 20.0f64).ln();
        assert_moments(
            &format!("ln G(t)/G at t = {t}"),
            &log_ratio,
            -mu * l,
            sd * l,
        );
        points.push((l, mean_sd(&log_ratio).0));
    }
    let slope = points.iter().map(|(l, m)| l * m).sum::<f64>()
        / points.iter().map(|(l, _)| l * l).sum::<f64>();
    let tol = 5.0 * sd / (N as f64).sqrt();
    assert!(
        (-slope - mu).abs() < tol,
        "fitted ν {} vs {mu} ± {tol}",
        -slope
    );
    // Before t0 nothing moves.
    let early = DeviceConfig {
        drift: Drift::PowerLaw {
            t0_s: 20.0,
            nu_mean: 0.06,
            nu_sigma: 0.02,
        },
        read_time_s: 10.0,
        ..DeviceConfig::default()
    };
    assert!(program_row(&early, &cell, 3, 30)
        .iter()
        .all(|&g| g == 100.0));
}

#[test]
fn reram_relaxation_follows_ln_t() {
    // aihwkit ReRAM-CMO relaxation at G = 88.2 µS (clamping is > 50 σ away), times 10 s to
    // 10⁶ s: mean shift −0.0890·ln t and σ 0.04201·ln t + 0.41183 µS, each within 5 SE; the
    // slope of the fitted mean shift against ln t within 5 SE of −0.0890. Seed 31.
    let cell = CellConfig::reram_cmo(2);
    let mut fit = Vec::new();
    for t in [10.0, 1e3, 86_400.0, 1e6] {
        let cfg = DeviceConfig {
            drift: Drift::reram_cmo(),
            read_time_s: t,
            ..DeviceConfig::default()
        };
        let g = program_row(&cfg, &cell, 3, 31);
        let ln_t = f64::ln(t);
        let sigma = 0.042_011_37 * ln_t + 0.411_833_42;
        let target = cell.conductance_us(3) as f64;
        assert_moments(
            &format!("relaxation t = {t}"),
            &g,
            target - 0.089_002_06 * ln_t,
            sigma,
        );
        fit.push((ln_t, mean_sd(&g).0 - target));
    }
    let n = fit.len() as f64;
    let (mx, my) = (
        fit.iter().map(|p| p.0).sum::<f64>() / n,
        fit.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let slope = fit.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
        / fit.iter().map(|(x, _)| (x - mx).powi(2)).sum::<f64>();
    // All times share the chip's draws z, so the sample shift is m·ln t + σ(t)·z̄ and the
    // fitted slope is m + 0.04201·z̄ exactly: 5 SE of z̄ bounds its error.
    let tol = 5.0 * 0.042_011_37 / (N as f64).sqrt();
    assert!(
        (slope + 0.089_002_06).abs() < tol,
        "fitted slope {slope} vs −0.0890 ± {tol}"
    );
}

fn fault_cfg(rate_g_max: f64, rate_g_min: f64, layout: FaultLayout) -> DeviceConfig {
    DeviceConfig {
        stuck_at: StuckAtFaults {
            rate_g_max,
            rate_g_min,
            layout,
        },
        ..DeviceConfig::default()
    }
}

/// Asserts `count` successes out of `n` trials within 5 binomial σ of rate p.
fn assert_binomial(what: &str, count: usize, n: usize, p: f64) {
    let expected = n as f64 * p;
    let tol = 5.0 * (n as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (count as f64 - expected).abs() <= tol,
        "{what}: {count} vs {expected} ± {tol}"
    );
}

#[test]
fn independent_fault_rates_are_binomial_and_set_exact_conductances() {
    // Chen et al. 2015 rates (9.04 % at G_max, 1.75 % at G_min) on a 512×512 array with
    // programming variation and relaxation on: counts within 5 binomial σ, stuck cells at
    // exactly G_max / G_min. Seed 40.
    let cell = CellConfig::reram_cmo(2);
    let mut cfg = DeviceConfig::reram_cmo(86_400.0);
    cfg.stuck_at = StuckAtFaults::chen2015();
    let (rows, cols) = (512, 512);
    let levels = vec![1u8; rows * cols];
    let array = program_array(&cfg, &cell, &levels, rows, cols, key(40));
    // A mapper can learn the same map before choosing levels.
    assert_eq!(
        array.faults,
        sample_fault_map(&cfg.stuck_at, rows, cols, key(40))
    );
    let n = rows * cols;
    assert_binomial("G_max", array.faults.count(StuckAt::GMax), n, 0.0904);
    assert_binomial("G_min", array.faults.count(StuckAt::GMin), n, 0.0175);
    for s in &array.faults.cells {
        let g = array.g_us[s.row as usize * cols + s.col as usize];
        let expected = match s.kind {
            StuckAt::GMax => cell.g_max_us,
            StuckAt::GMin => cell.g_min_us,
        };
        assert_eq!(g, expected);
    }
}

#[test]
fn clustered_faults_hit_whole_rows_or_columns() {
    // 4096×8 arrays with rates 5 % / 3 % per row (rows layout), then 8×4096 per column:
    // every row (column) is either entirely healthy or entirely stuck at one conductance,
    // and the faulty row (column) counts are binomial (5 σ). Seed 41.
    for layout in [FaultLayout::Rows, FaultLayout::Columns] {
        let (rows, cols) = match layout {
            FaultLayout::Rows => (4096, 8),
            _ => (8, 4096),
        };
        let cfg = fault_cfg(0.05, 0.03, layout);
        let faults = sample_fault_map(&cfg.stuck_at, rows, cols, key(41));
        let (lines, width) = match layout {
            FaultLayout::Rows => (rows, cols),
            _ => (cols, rows),
        };
        let mut counts = [0usize; 2];
        for line in 0..lines {
            let kinds: Vec<Option<StuckAt>> = (0..width)
                .map(|k| match layout {
                    FaultLayout::Rows => faults.at(line, k),
                    _ => faults.at(k, line),
                })
                .collect();
            assert!(
                kinds.iter().all(|k| *k == kinds[0]),
                "{layout:?} line {line} is split"
            );
            match kinds[0] {
                Some(StuckAt::GMax) => counts[0] += 1,
                Some(StuckAt::GMin) => counts[1] += 1,
                None => {}
            }
        }
        assert_binomial(&format!("{layout:?} G_max"), counts[0], lines, 0.05);
        assert_binomial(&format!("{layout:?} G_min"), counts[1], lines, 0.03);
        assert_eq!(faults.cells.len(), (counts[0] + counts[1]) * width);
    }
}

#[test]
fn same_key_same_array_other_seed_or_tile_differs() {
    let cell = CellConfig::reram_cmo(2);
    let mut cfg = DeviceConfig::reram_cmo(3600.0);
    cfg.stuck_at = StuckAtFaults::mnsim();
    let levels: Vec<u8> = (0..128 * 128).map(|i| (i * 7 % 4) as u8).collect();
    let run = |k: StreamKey| program_array(&cfg, &cell, &levels, 128, 128, k);
    let a = run(key(50));
    let b = run(key(50));
    assert_eq!(a.g_us, b.g_us);
    assert_eq!(a.faults, b.faults);
    assert_ne!(a.g_us, run(key(51)).g_us);
    assert_ne!(
        a.g_us,
        run(StreamKey::new(50, 1, 3, Purpose::Programming)).g_us
    );
    // The caller's purpose does not matter: each effect derives its own.
    assert_eq!(a.g_us, run(key(50).with_purpose(Purpose::Drift)).g_us);
}

#[test]
fn faults_do_not_change_the_programming_of_healthy_cells() {
    let cell = CellConfig::reram_cmo(2);
    let levels = vec![2u8; 64 * 64];
    let clean = DeviceConfig::reram_cmo(60.0);
    let mut faulty = clean.clone();
    faulty.stuck_at = StuckAtFaults::chen2015();
    let a = program_array(&clean, &cell, &levels, 64, 64, key(60));
    let b = program_array(&faulty, &cell, &levels, 64, 64, key(60));
    for (i, (ga, gb)) in a.g_us.iter().zip(&b.g_us).enumerate() {
        if b.faults.at(i / 64, i % 64).is_none() {
            assert_eq!(ga, gb);
        }
    }
}

#[test]
fn validation_names_the_dotted_key() {
    let mut cfg = DeviceConfig::reram_cmo(0.5);
    assert_eq!(
        cfg.validate("hw.device").unwrap_err().key,
        "hw.device.read_time_s"
    );
    cfg.read_time_s = -1.0;
    cfg.drift = Drift::None;
    cfg.read_noise = ReadNoise::None;
    assert_eq!(
        cfg.validate("hw.device").unwrap_err().key,
        "hw.device.read_time_s"
    );
    cfg.read_time_s = 10.0;
    cfg.programming = ProgrammingVariation::Absolute { sigma_us: -1.0 };
    assert_eq!(
        cfg.validate("hw.device").unwrap_err().key,
        "hw.device.programming.sigma_us"
    );
    // Finite but absurd: would overflow the array's f32 current sums into NaN.
    cfg.programming = ProgrammingVariation::Relative { sigma: 1e30 };
    let err = cfg.validate("hw.device").unwrap_err();
    assert_eq!(err.key, "hw.device.programming.sigma");
    assert_eq!(err.found, "1000000000000000000000000000000");
    cfg.programming = ProgrammingVariation::None;
    cfg.stuck_at.rate_g_min = 2.0;
    assert_eq!(
        cfg.validate("hw.device").unwrap_err().key,
        "hw.device.stuck_at.rate_g_min"
    );
    assert!(DeviceConfig::reram_cmo(86_400.0).validate("d").is_ok());
}

#[test]
fn config_reads_from_toml_and_rejects_unknown_keys() {
    let cfg: DeviceConfig = toml::from_str(
        r#"
        read_time_s = 86400
        programming = { model = "reram_cmo_2pct" }
        read_noise = { model = "relative", sigma = 0.01, correlation = "per_cycle" }
        accumulated_noise = { model = "pcm" }
        drift = { model = "power_law", nu_mean = 0.05, nu_sigma = 0.01 }
        stuck_at = { rate_g_max = 0.001, rate_g_min = 0.001, layout = "rows" }
        "#,
    )
    .unwrap();
    assert_eq!(cfg.programming, ProgrammingVariation::ReramCmo2Pct);
    assert_eq!(
        cfg.drift,
        Drift::PowerLaw {
            t0_s: 20.0,
            nu_mean: 0.05,
            nu_sigma: 0.01
        }
    );
    assert_eq!(cfg.stuck_at.layout, FaultLayout::Rows);
    assert_eq!(cfg.read_noise.correlation(), Correlation::PerCycle);
    assert_eq!(cfg.accumulated_noise, AccumulatedNoise::pcm());
    // The 1/f fit moved from per-read noise to the state at read time: the old spelling
    // is an error, not a silently different model.
    let old = toml::from_str::<DeviceConfig>("read_noise = { model = \"reram_cmo\" }");
    assert!(old.unwrap_err().to_string().contains("reram_cmo"));
    let relax: DeviceConfig = toml::from_str("drift = { model = \"reram_relaxation\" }").unwrap();
    assert_eq!(relax.drift, Drift::reram_cmo());
    assert!(toml::from_str::<DeviceConfig>("read_tme_s = 1").is_err());
    let typo = toml::from_str::<DeviceConfig>(
        "programming = { model = \"relative\", sigma = 0.1, sgma = 0.2 }",
    );
    assert!(
        typo.is_err(),
        "unknown field inside a model must be rejected"
    );
    assert_eq!(
        toml::from_str::<DeviceConfig>("").unwrap(),
        DeviceConfig::default()
    );
}
