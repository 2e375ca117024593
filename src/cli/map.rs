//! `crossbert map`: how a checkpoint's linear layers sit on a chip, and what one inference
//! of a stated length spends, without running any data. With several `--model`s, the chip
//! holding them all: which arrays they share and the area saved against one chip each
//! ([`crate::backend::multitask`]).

use std::path::{Path, PathBuf};

use clap::Args;

use super::hardware::ChipArgs;
use crate::backend::cost::InferenceCost;
use crate::backend::AnalogModel;
use crate::hardware::HardwareConfig;

#[derive(Args, Debug)]
pub struct MapArgs {
    /// Hugging Face checkpoint directory; repeat it for a chip holding several checkpoints
    /// (arrays with the same linear, weights and mapping are shared).
    #[arg(long, required = true)]
    pub model: Vec<PathBuf>,
    #[command(flatten)]
    pub chip: ChipArgs,
    /// Tokens of the inference the events are counted for.
    #[arg(long, value_parser = super::at_least_one, default_value_t = 128)]
    pub seq_len: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: MapArgs) -> anyhow::Result<()> {
    let Some(hardware) = args.chip.resolve()? else {
        anyhow::bail!(
            "expected --preset NAME or --hardware FILE (see `crossbert presets`), found neither"
        );
    };
    if let [model] = args.model.as_slice() {
        return map_one(model, &hardware, &args);
    }
    super::map_shared::run(&args.model, &hardware, args.seq_len, args.json)
}

/// One checkpoint: its layers' arrays, then the cost of one inference.
fn map_one(model: &Path, hardware: &HardwareConfig, args: &MapArgs) -> anyhow::Result<()> {
    // Layout and event counts do not depend on the chip instance; seed 0 programs it.
    let chip = AnalogModel::load(model, hardware, 0)?;
    let layers: Vec<serde_json::Value> = chip
        .layers()
        .iter()
        .map(|l| {
            let info = l.info();
            // every use of the arrays in one inference (an ALBERT group serves several layers)
            let vectors = info.uses * if info.per_token() { args.seq_len } else { 1 };
            l.with_matrix(|m| {
                let r = m.report();
                serde_json::json!({
                    "name": l.name(),
                    "checkpoint_name": info.checkpoint_name,
                    "uses": info.uses,
                    "out_features": r.out_features,
                    "in_features": r.in_features,
                    "arrays": r.arrays,
                    "cells_used": r.cells_used,
                    "cells_total": r.cells_total,
                    "utilization": r.utilization,
                    "adcs": r.adcs,
                    "events_per_inference": m.events(vectors),
                })
            })
        })
        .collect();
    let cost = chip.cost(&[args.seq_len])?;
    if args.json {
        let report = serde_json::json!({
            "model": model.display().to_string(),
            "hardware": hardware.preset,
            "seq_len": args.seq_len,
            "layers": layers,
            "arrays": chip.layers().iter().map(|l| l.with_matrix(|m| m.report().arrays)).sum::<usize>(),
            "energy_pj_per_inference": cost.energy_pj.total_pj(),
            "energy_breakdown_pj": cost.energy_pj,
            "latency_ns": cost.latency_ns,
            "schedule": cost.schedule,
            "throughput_inferences_per_s": cost.throughput_inferences_per_s,
            "throughput_tokens_per_s": cost.throughput_tokens_per_s,
            "array_utilization": cost.array_utilization,
            "tops_per_w": cost.tops_per_w,
            "area_mm2": cost.area_mm2.total_mm2(),
            "area_breakdown_mm2": cost.area_mm2,
        });
        println!("{report}");
    } else {
        print_table(&layers, &cost, args.seq_len);
    }
    Ok(())
}

/// The aligned text form: layers, then energy and area by component.
fn print_table(layers: &[serde_json::Value], cost: &InferenceCost, seq_len: usize) {
    println!(
        "{:<24} {:>8} {:>12} {:>12} {:>5}  checkpoint tensor",
        "layer", "arrays", "cells used", "utilization", "uses"
    );
    for l in layers {
        let count = |key: &str| l[key].as_u64().unwrap_or_default();
        println!(
            "{:<24} {:>8} {:>12} {:>12.4} {:>5}  {}",
            l["name"].as_str().unwrap_or_default(),
            count("arrays"),
            count("cells_used"),
            l["utilization"].as_f64().unwrap_or_default(),
            count("uses"),
            l["checkpoint_name"].as_str().unwrap_or_default(),
        );
    }
    let (energy, area) = (cost.energy_pj.total_pj(), cost.area_mm2.total_mm2());
    println!(
        "\none inference of {seq_len} tokens: {:.2} µJ, {:.1} µs ({} schedule); chip area {area:.3} mm²",
        energy * 1e-6,
        cost.latency_ns * 1e-3,
        cost.schedule,
    );
    println!(
        "throughput {:.0} inferences/s ({:.0} tokens/s), array utilization {:.1} %, {:.3} TOPS/W",
        cost.throughput_inferences_per_s,
        cost.throughput_tokens_per_s,
        100.0 * cost.array_utilization,
        cost.tops_per_w
    );
    println!(
        "\n{:<14} {:>12} {:>7}   {:>10} {:>7}",
        "component", "energy µJ", "share", "area mm²", "share"
    );
    let energies = cost.energy_pj.components();
    let areas = cost.area_mm2.components();
    let mut names: Vec<&str> = energies.iter().map(|(n, _)| *n).collect();
    let more: Vec<&str> = areas
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !names.contains(n))
        .collect();
    names.extend(more);
    let find = |list: &[(&str, f64)], name: &str| {
        list.iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |(_, v)| *v)
    };
    for name in names {
        let (pj, mm2) = (find(&energies, name), find(&areas, name));
        println!(
            "{name:<14} {:>12.3} {:>6.1}%   {mm2:>10.3} {:>6.1}%",
            pj * 1e-6,
            100.0 * pj / energy,
            100.0 * mm2 / area
        );
    }
}
