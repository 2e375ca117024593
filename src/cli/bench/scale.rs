//! `crossbert bench --scale`: time and memory of the analog emulation per model size and
//! hardware, and the digital / one-shot / bit-sliced GLUE evals, in one run.
//!
//! For every model size (BERT-base, BERT-large, or any `config.json`) a checkpoint with
//! random weights is synthesized (`crate::synth`, f16 on disk) into a cache directory. Then
//! every (size, preset) pair is measured in a **child process** (this binary, with the
//! hidden `--scale-child` flag), so that each peak resident memory (`VmHWM`) belongs to one
//! configuration alone. The child programs the chip (seed 0), calibrates it on
//! `--calibration-sequences` random sequences, and runs `--sequences` random sequences of
//! `--seq-len` tokens in batches of `--scale-batch`; it reports wall and CPU seconds of each
//! phase. Token ids are drawn uniformly from the vocabulary (stream `BenchmarkInputs`): the
//! cost of a forward pass does not depend on which tokens it sees.
//!
//! CPU time comes from `/proc/self/stat` (utime + stime, in clock ticks of 1/100 s, the
//! USER_HZ of Linux on every architecture it supports): on a machine shared with other
//! jobs, wall time grows with the load while CPU time does not.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::draws::Draw;
use anyhow::{bail, Context};
use crossbar::StreamKey;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{peak_memory_mib, BenchArgs};
use crate::backend::{AnalogModel, GlueRun};
use crate::glue::{Split, Task};
use crate::hardware::HardwareConfig;
use crate::model::PackedBatch;
use crate::synth::{synthesize, ModelSize, StoredDtype, SynthOptions};
use crate::tokenize::Encoded;

/// Linux USER_HZ: the unit of the CPU times in /proc/self/stat.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// One (model, preset) measurement, as the child prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleRow {
    pub model: String,
    pub layers: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub preset: String,
    pub fidelity: String,
    pub sequences: usize,
    pub seq_len: usize,
    /// Loading the checkpoint and programming every analog layer, s.
    pub program_seconds: f64,
    pub calibrate_seconds: f64,
    /// The timed sequences, wall clock, s.
    pub run_seconds: f64,
    /// CPU time (user + sys, all threads) of the timed sequences, s.
    pub run_cpu_seconds: f64,
    pub seconds_per_sequence: f64,
    pub cpu_seconds_per_sequence: f64,
    /// Peak resident memory of the whole child process (VmHWM), GiB.
    pub peak_gib: f64,
    /// State the programmed arrays store (conductances or level planes, scales), GiB.
    pub arrays_gib: f64,
    pub threads: usize,
}

/// A scale study's models: named sizes and config files, with a directory name each.
fn models(args: &BenchArgs) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    let sizes = match &args.sizes {
        Some(sizes) => sizes.clone(),
        None if args.scale_config.is_empty() => vec![ModelSize::Base, ModelSize::Large],
        None => Vec::new(),
    };
    let mut out: Vec<(String, serde_json::Value)> = sizes
        .iter()
        .map(|s| {
            let name = match s {
                ModelSize::Base => "bert-base",
                ModelSize::Large => "bert-large",
                ModelSize::Minilm => "minilm",
            };
            (name.to_string(), s.config_json())
        })
        .collect();
    for path in &args.scale_config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --scale-config {}", path.display()))?;
        let json = serde_json::from_str(&text)
            .with_context(|| format!("parsing --scale-config {}", path.display()))?;
        let stem = path
            .file_stem()
            .map_or("model".into(), |s| s.to_string_lossy());
        out.push((format!("config-{stem}"), json));
    }
    if out.is_empty() {
        bail!("--scale: expected at least one model (--sizes or --scale-config), found none");
    }
    Ok(out)
}

/// Most random sequences one benchmark makes: they are all held in memory, and 100,000
/// BERT-base sequences already take about a day on 2 cores.
const MOST_SEQUENCES: usize = 100_000;

fn check_options(args: &BenchArgs) -> anyhow::Result<()> {
    for (flag, count) in [
        ("--sequences", args.sequences),
        ("--calibration-sequences", args.calibration_sequences),
    ] {
        if count > MOST_SEQUENCES {
            bail!("{flag}: expected at most {MOST_SEQUENCES} sequences, found {count}");
        }
    }
    if args.presets.is_empty() {
        bail!("--presets: expected at least one hardware preset, found none");
    }
    for p in &args.presets {
        HardwareConfig::preset_or_file(p).with_context(|| format!("--presets: {p}"))?;
    }
    Ok(())
}

/// The parent: synthesize, measure each (model, preset) in a child, run the GLUE evals.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    check_options(args)?;
    let models = models(args)?;
    let (cache, temporary) = match &args.cache {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("crossbert-bench-{}", std::process::id())),
            true,
        ),
    };
    let result = measure_all(args, &models, &cache);
    if temporary {
        // Best effort: a leftover temp directory is not worth failing the report for.
        let _ = std::fs::remove_dir_all(&cache);
    }
    let rows = result?;
    let evals = match (&args.model, &args.data) {
        (Some(model), Some(data)) => glue_evals(args, model, data)?,
        (None, None) => Vec::new(),
        _ => bail!("--scale evals: expected both --model and --data, or neither"),
    };
    if args.json {
        println!("{}", serde_json::json!({ "scale": rows, "evals": evals }));
    } else {
        print_table(&rows, &evals);
    }
    Ok(())
}

fn measure_all(
    args: &BenchArgs,
    models: &[(String, serde_json::Value)],
    cache: &Path,
) -> anyhow::Result<Vec<ScaleRow>> {
    let mut rows = Vec::new();
    for (name, config) in models {
        let dir = cache.join(name);
        if !dir.join("config.json").exists() {
            eprintln!("synthesizing {name} into {}", dir.display());
            let options = SynthOptions {
                seed: 0,
                dtype: StoredDtype::F16,
                num_labels: 2,
                tokenizer: None,
            };
            synthesize(config, &options, &dir)
                .with_context(|| format!("synthesizing {name} into {}", dir.display()))?;
        }
        for preset in &args.presets {
            eprintln!("measuring {name} on {preset}");
            let mut row = child(args, &dir, preset)?;
            row.model = name.clone();
            // Each row as soon as it exists: a long study that fails later keeps them.
            eprintln!("{}", serde_json::to_string(&row)?);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Runs one measurement in a child process and parses its JSON line.
fn child(args: &BenchArgs, dir: &Path, preset: &str) -> anyhow::Result<ScaleRow> {
    let exe = std::env::current_exe().context("locating the crossbert binary")?;
    let output = Command::new(exe)
        .arg("bench")
        .arg("--scale-child")
        .arg(dir)
        .args(["--presets", preset])
        .args(["--sequences", &args.sequences.to_string()])
        .args(["--seq-len", &args.seq_len.to_string()])
        .args(["--scale-batch", &args.scale_batch.to_string()])
        .args([
            "--calibration-sequences",
            &args.calibration_sequences.to_string(),
        ])
        .output()
        .context("starting the measurement child process")?;
    if !output.status.success() {
        bail!(
            "measuring {} on {preset}: the child process failed ({}): {}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or("");
    serde_json::from_str(line).with_context(|| {
        format!(
            "measuring {} on {preset}: expected one JSON line from the child, found {line:?}",
            dir.display()
        )
    })
}

/// CPU seconds (user + sys, all threads) this process has used so far.
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("/proc/self/stat: expected `pid (comm) fields…`")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .with_context(|| format!("/proc/self/stat: field {} is not a number", i + 3))
    };
    Ok((tick(11)? + tick(12)?) / CLOCK_TICKS_PER_SECOND)
}

/// `count` random sequences of `len` tokens, numbered from `first` (their stream index).
fn random_sequences(first: u64, count: usize, len: usize, vocab: usize) -> Vec<Encoded> {
    (0..count as u64)
        .map(|k| {
            let mut rng = StreamKey::new(0, 0, 0, Draw::BenchmarkInputs.into())
                .with_index(first + k)
                .rng();
            Encoded {
                input_ids: (0..len)
                    .map(|_| rng.random_range(0..vocab as u32))
                    .collect(),
                token_type_ids: vec![0; len],
            }
        })
        .collect()
}

/// The child: one (checkpoint, preset) measured in this process; prints one JSON line.
pub fn child_run(args: &BenchArgs, dir: &Path) -> anyhow::Result<()> {
    check_options(args)?;
    let preset = &args.presets[0];
    let hardware =
        HardwareConfig::preset_or_file(preset).with_context(|| format!("preset {preset}"))?;
    let t = Instant::now();
    let chip = AnalogModel::load(dir, &hardware, 0)?;
    let program_seconds = t.elapsed().as_secs_f64();
    let (vocab, max_positions) = (chip.config.vocab_size, chip.config.max_position_embeddings);
    if args.seq_len > max_positions {
        bail!(
            "--seq-len: expected at most the model's {max_positions} positions, found {}",
            args.seq_len
        );
    }
    let calibration = random_sequences(
        args.sequences as u64,
        args.calibration_sequences,
        args.seq_len,
        vocab,
    );
    let t = Instant::now();
    chip.calibrate(&calibration)?;
    let calibrate_seconds = t.elapsed().as_secs_f64();
    let sequences = random_sequences(0, args.sequences, args.seq_len, vocab);
    let (t, cpu) = (Instant::now(), cpu_seconds()?);
    for (b, batch_seqs) in sequences.chunks(args.scale_batch).enumerate() {
        let mut batch = PackedBatch::default();
        for (i, e) in batch_seqs.iter().enumerate() {
            let example = (b * args.scale_batch + i) as u64;
            batch.push_example(example, &e.input_ids, &e.token_type_ids);
        }
        chip.model.forward(&batch)?;
    }
    chip.check()?;
    let (run_seconds, run_cpu_seconds) = (t.elapsed().as_secs_f64(), cpu_seconds()? - cpu);
    let arrays_bytes: usize = chip
        .layers()
        .iter()
        .map(|l| l.with_matrix(|m| m.stored_bytes()))
        .sum();
    let n = args.sequences as f64;
    let gib = |bytes: f64| bytes / (1u64 << 30) as f64;
    let row = ScaleRow {
        model: dir.display().to_string(),
        layers: chip.config.num_hidden_layers,
        hidden: chip.config.hidden_size,
        intermediate: chip.config.intermediate_size,
        preset: preset.clone(),
        fidelity: hardware.mapping.fidelity.name().to_string(),
        sequences: args.sequences,
        seq_len: args.seq_len,
        program_seconds,
        calibrate_seconds,
        run_seconds,
        run_cpu_seconds,
        seconds_per_sequence: run_seconds / n,
        cpu_seconds_per_sequence: run_cpu_seconds / n,
        peak_gib: gib(peak_memory_mib().unwrap_or(f64::NAN) * (1u64 << 20) as f64),
        arrays_gib: gib(arrays_bytes as f64),
        threads: rayon::current_num_threads(),
    };
    println!("{}", serde_json::to_string(&row)?);
    Ok(())
}

/// One GLUE eval's time.
#[derive(Debug, Clone, Serialize)]
pub struct EvalRow {
    /// `digital` or the preset name.
    pub run: String,
    pub metric: String,
    pub value: f64,
    /// Wall seconds of scoring the split (programming and calibration excluded for the
    /// chips: `eval` reports the same figure).
    pub seconds: f64,
    /// Wall seconds including loading, programming and calibration.
    pub total_seconds: f64,
}

/// Digital, one-shot and bit-sliced (isaac-32nm) evals of `--task`'s dev split.
fn glue_evals(args: &BenchArgs, model: &Path, data: &Path) -> anyhow::Result<Vec<EvalRow>> {
    let task = Task::parse(&args.task).map_err(anyhow::Error::msg)?;
    let run = GlueRun::open(
        model,
        data,
        task,
        Split::Dev,
        None,
        args.max_len,
        args.batch_size,
    )?;
    let mut rows = Vec::new();
    let t = Instant::now();
    let digital = run.digital()?;
    rows.push(EvalRow {
        run: "digital".into(),
        metric: digital.metrics[0].0.name().to_string(),
        value: digital.metrics[0].1,
        seconds: digital.seconds,
        total_seconds: t.elapsed().as_secs_f64(),
    });
    for preset in ["one-shot", "isaac-32nm"] {
        eprintln!("evaluating {} on {preset}", task.name());
        let hardware = HardwareConfig::preset(preset)?;
        let t = Instant::now();
        let (result, _) = run.on_chip(&hardware, 0)?;
        rows.push(EvalRow {
            run: preset.into(),
            metric: result.metrics[0].0.name().to_string(),
            value: result.metrics[0].1,
            seconds: result.seconds,
            total_seconds: t.elapsed().as_secs_f64(),
        });
    }
    Ok(rows)
}

fn print_table(rows: &[ScaleRow], evals: &[EvalRow]) {
    println!(
        "{:<12} {:<11} {:<10} {:>5} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7}",
        "model",
        "preset",
        "fidelity",
        "seqs",
        "program s",
        "run s",
        "run cpu s",
        "s/seq",
        "cpu s/seq",
        "peak GiB",
        "arrays"
    );
    for r in rows {
        println!(
            "{:<12} {:<11} {:<10} {:>5} {:>9.1} {:>9.1} {:>9.1} {:>9.2} {:>8.2} {:>8.2} {:>7.2}",
            r.model,
            r.preset,
            r.fidelity,
            r.sequences,
            r.program_seconds,
            r.run_seconds,
            r.run_cpu_seconds,
            r.seconds_per_sequence,
            r.cpu_seconds_per_sequence,
            r.peak_gib,
            r.arrays_gib
        );
    }
    if let Some(threads) = rows.first().map(|r| r.threads) {
        println!(
            "({} × {} tokens per model, {threads} threads; arrays = GiB the programmed arrays store)",
            rows[0].sequences, rows[0].seq_len
        );
    }
    let digital = evals.iter().find(|e| e.run == "digital").map(|e| e.seconds);
    for e in evals {
        let ratio = match digital {
            Some(d) if e.run != "digital" => format!(" ({:.2}× digital)", e.seconds / d),
            _ => String::new(),
        };
        println!(
            "eval {:<11} {} {:.4}: {:.2} s{ratio}, {:.2} s with programming and calibration",
            e.run, e.metric, e.value, e.seconds, e.total_seconds
        );
    }
}
