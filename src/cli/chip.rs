//! `crossbert chip`: a hardware description's whole chip at peak: organisation, power,
//! area, throughput and efficiency (the figures accelerator papers report).

use clap::Args;

use super::hardware::ChipArgs;
use crate::energy::ChipPeak;

#[derive(Args, Debug)]
pub struct ChipPeakArgs {
    #[command(flatten)]
    pub chip: ChipArgs,
    /// Tiles on the chip; default the description's `chip.tiles` (required when it has none).
    #[arg(long, value_parser = super::at_least_one)]
    pub tiles: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ChipPeakArgs) -> anyhow::Result<()> {
    let Some(hardware) = args.chip.resolve()? else {
        anyhow::bail!(
            "expected --preset NAME or --hardware FILE (see `crossbert presets`), found neither"
        );
    };
    let tiles = match (args.tiles, hardware.chip.tiles) {
        (Some(t), _) => t as u64,
        (None, Some(t)) => u64::from(t),
        (None, None) => anyhow::bail!(
            "expected --tiles N: hardware {:?} has no chip.tiles (its chip is sized to the model; \
             `crossbert map` gives the model's)",
            hardware.preset
        ),
    };
    let peak = ChipPeak::new(&hardware, tiles)?;
    if args.json {
        println!("{}", serde_json::to_string(&peak)?);
        return Ok(());
    }
    println!(
        "{} tiles × {} IMAs × {} arrays of {}×{}: {} arrays, {} ADCs",
        peak.tiles,
        hardware.chip.imas_per_tile,
        hardware.chip.arrays_per_ima,
        peak.array_rows,
        peak.array_cols,
        peak.arrays,
        peak.adcs
    );
    println!(
        "one MVM of {} multiply-accumulates per array every {:.0} ns ({:.0} ns cycle)",
        peak.macs_per_array_mvm, peak.mvm_ns, peak.cycle_ns
    );
    println!("peak throughput  {:>10.2} TOPS", peak.tops);
    println!("power            {:>10.2} W", peak.power_w);
    println!("area             {:>10.2} mm²", peak.area_mm2);
    println!("power efficiency {:>10.1} GOPS/W", peak.gops_per_w);
    println!(
        "area efficiency  {:>10.1} GOPS/(s·mm²)",
        peak.gops_per_s_mm2
    );
    println!();
    println!(
        "{:<14} {:>10} {:>7}   {:>10} {:>7}",
        "component", "power W", "share", "area mm²", "share"
    );
    // power and area have the same component names
    for (name, mm2) in peak.area_breakdown_mm2.components() {
        let watts = peak.power_breakdown_w.get(name).copied().unwrap_or(0.0);
        println!(
            "{name:<14} {watts:>10.3} {:>6.1}%   {mm2:>10.3} {:>6.1}%",
            100.0 * watts / peak.power_w,
            100.0 * mm2 / peak.area_mm2
        );
    }
    Ok(())
}
