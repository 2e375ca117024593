//! `crossbert map --model A --model B …`: one chip holding several checkpoints. Arrays
//! whose linear, weights (content hash) and mapping agree are programmed once and read by
//! every task that holds them ([`crate::backend::multitask`]); the report gives, per model,
//! the arrays it has to itself and those it shares, and for the whole chip the arrays and
//! area with sharing against one chip per model.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::backend::multitask::{array_keys, mapping_fingerprint, ArrayKey, ChipPlan};
use crate::backend::AnalogModel;
use crate::energy::{area, AreaBreakdown, MatrixLayout};
use crate::hardware::{AttentionMode, HardwareConfig};
use crate::model::{CheckpointDir, LinearInfo};

/// One model's analog linears as programmed: key and layout of each, in model order.
struct Mapped {
    path: PathBuf,
    linears: Vec<(LinearInfo, ArrayKey, MatrixLayout)>,
    energy_pj: f64,
}

pub fn run(
    models: &[PathBuf],
    hardware: &HardwareConfig,
    seq_len: usize,
    json: bool,
) -> anyhow::Result<()> {
    if hardware.attention.mode == AttentionMode::Crossbar {
        bail!(
            "[attention] mode: a chip of several models is mapped with digital attention \
             products only, found \"crossbar\" (its write-enabled arrays are not counted yet)"
        );
    }
    let mapped = models
        .iter()
        .map(|m| map_model(m, hardware, seq_len))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let plan = ChipPlan::new(
        mapped
            .iter()
            .map(|m| {
                m.linears
                    .iter()
                    .map(|(info, key, _)| (info.clone(), *key))
                    .collect()
            })
            .collect(),
    )?;
    let report = report(&mapped, &plan, hardware, seq_len)?;
    if json {
        println!("{report}");
    } else {
        print_table(&report);
    }
    Ok(())
}

/// Programs `model` (seed 0: layout and cost do not depend on the chip instance) and keys
/// each analog linear by its name, weights and programmed mapping.
fn map_model(model: &Path, hardware: &HardwareConfig, seq_len: usize) -> anyhow::Result<Mapped> {
    let checkpoint = CheckpointDir::open(model)?;
    let keys = array_keys(&checkpoint, hardware)?;
    let chip = AnalogModel::program(&checkpoint, hardware, 0)?;
    if keys.len() != chip.layers().len() {
        bail!(
            "{}: expected the {} hashed analog linears to be the {} programmed ones",
            model.display(),
            keys.len(),
            chip.layers().len()
        );
    }
    let mut linears = Vec::new();
    for ((info, key), layer) in keys.into_iter().zip(chip.layers()) {
        let vectors = info.uses * if info.per_token() { seq_len } else { 1 };
        let (layout, mapping) = layer.with_matrix(|m| {
            (
                MatrixLayout::of(layer.name(), m, vectors as u64),
                mapping_fingerprint(m.config()),
            )
        });
        // the key of what was programmed: its mapping as programmed
        linears.push((info, ArrayKey { mapping, ..key }, layout));
    }
    let cost = chip
        .cost(&[seq_len])
        .with_context(|| format!("cost of {}", model.display()))?;
    Ok(Mapped {
        path: model.to_path_buf(),
        linears,
        energy_pj: cost.energy_pj.total_pj(),
    })
}

/// Area of the chip holding `layouts`.
fn chip_area(layouts: &[MatrixLayout], hardware: &HardwareConfig) -> anyhow::Result<AreaBreakdown> {
    let tech = hardware
        .energy
        .resolve("energy")
        .context("resolving the energy technology table")?;
    Ok(area(layouts, &hardware.chip, &tech)?)
}

/// The JSON report: per model its arrays (own and shared) and area alone, then the chip.
fn report(
    mapped: &[Mapped],
    plan: &ChipPlan,
    hardware: &HardwareConfig,
    seq_len: usize,
) -> anyhow::Result<Value> {
    let mut seen = HashSet::new();
    let mut shared_chip = Vec::new();
    let mut rows = Vec::new();
    let (mut arrays_separate, mut area_separate) = (0u64, 0.0);
    for (i, m) in mapped.iter().enumerate() {
        let streams = plan.stream_ids(i);
        let own_layouts: Vec<MatrixLayout> = m.linears.iter().map(|(_, _, l)| l.clone()).collect();
        let alone = chip_area(&own_layouts, hardware)?.total_mm2();
        let (mut own, mut shared, mut shared_linears) = (0u64, 0u64, 0usize);
        let mut layers = Vec::new();
        for (info, key, layout) in &m.linears {
            if plan.is_shared(key) {
                shared += layout.arrays;
                shared_linears += 1;
            } else {
                own += layout.arrays;
            }
            if seen.insert(*key) {
                shared_chip.push(layout.clone());
            }
            layers.push(json!({
                "name": key.name.to_string(),
                "checkpoint_name": info.checkpoint_name,
                "arrays": layout.arrays,
                "content_hash": key.content.to_string(),
                "models": plan.holders(key),
                "stream_id": streams.id(&key.name),
            }));
        }
        arrays_separate += own + shared;
        area_separate += alone;
        rows.push(json!({
            "model": m.path.display().to_string(),
            "linears": m.linears.len(),
            "linears_shared": shared_linears,
            "arrays": own + shared,
            "arrays_own": own,
            "arrays_shared": shared,
            "area_mm2": alone,
            "energy_pj_per_inference": m.energy_pj,
            "layers": layers,
        }));
    }
    let arrays_shared: u64 = shared_chip.iter().map(|l| l.arrays).sum();
    let shared_area = chip_area(&shared_chip, hardware)?;
    let area_shared = shared_area.total_mm2();
    Ok(json!({
        "hardware": hardware.preset,
        "seq_len": seq_len,
        "models": rows,
        "arrays_separate": arrays_separate,
        "arrays_shared_chip": arrays_shared,
        "arrays_saved": arrays_separate - arrays_shared,
        "area_mm2_separate": area_separate,
        "area_mm2_shared_chip": area_shared,
        "area_mm2_saved": area_separate - area_shared,
        "area_saved_fraction": 1.0 - area_shared / area_separate,
        "area_breakdown_mm2_shared_chip": shared_area,
        "note": "energy and latency per inference are each task's own and do not change with \
                 sharing: every task still runs its own inference through as many arrays",
    }))
}

/// The aligned text form of [`report`].
fn print_table(r: &Value) {
    let num = |v: &Value| v.as_u64().unwrap_or_default();
    let real = |v: &Value| v.as_f64().unwrap_or_default();
    println!(
        "{:<4} {:>7} {:>7} {:>8} {:>8} {:>8} {:>12} {:>14}  checkpoint",
        "#", "linears", "shared", "arrays", "own", "shared", "area mm²", "energy µJ/inf"
    );
    for (i, m) in r["models"].as_array().into_iter().flatten().enumerate() {
        println!(
            "{i:<4} {:>7} {:>7} {:>8} {:>8} {:>8} {:>12.3} {:>14.2}  {}",
            num(&m["linears"]),
            num(&m["linears_shared"]),
            num(&m["arrays"]),
            num(&m["arrays_own"]),
            num(&m["arrays_shared"]),
            real(&m["area_mm2"]),
            real(&m["energy_pj_per_inference"]) * 1e-6,
            m["model"].as_str().unwrap_or_default(),
        );
    }
    let models = r["models"].as_array().map_or(0, Vec::len);
    println!(
        "\n{models} models on {} ({} tokens per inference)",
        r["hardware"].as_str().unwrap_or_default(),
        num(&r["seq_len"])
    );
    println!("{:<22} {:>8} {:>12}", "", "arrays", "area mm²");
    println!(
        "{:<22} {:>8} {:>12.3}",
        "one chip per model",
        num(&r["arrays_separate"]),
        real(&r["area_mm2_separate"])
    );
    println!(
        "{:<22} {:>8} {:>12.3}",
        "one shared chip",
        num(&r["arrays_shared_chip"]),
        real(&r["area_mm2_shared_chip"])
    );
    let saved_arrays = num(&r["arrays_saved"]) as f64 / num(&r["arrays_separate"]).max(1) as f64;
    println!(
        "{:<22} {:>8} {:>12.3}   ({:.1} % of the arrays, {:.1} % of the area)",
        "saved",
        num(&r["arrays_saved"]),
        real(&r["area_mm2_saved"]),
        100.0 * saved_arrays,
        100.0 * real(&r["area_saved_fraction"])
    );
    println!(
        "energy per inference is each task's own and unchanged by sharing (each task runs its \
         own inference)"
    );
}
