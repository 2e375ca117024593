//! `crossbert presets` and `crossbert hardware --show`: the shipped hardware presets, and
//! the fully resolved configuration of a hardware file or preset.
use crate::hardware::{HardwareConfig, PRESETS};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PresetsArgs {}

pub fn run_presets(_args: PresetsArgs) -> anyhow::Result<()> {
    for (name, summary, _) in PRESETS {
        println!("{name:<12} {summary}");
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct HardwareArgs {
    /// Print the fully resolved configuration of this hardware TOML file; bare `--show`
    /// with `--preset NAME` prints the preset's.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub show: Option<Option<PathBuf>>,
    /// Print the fully resolved configuration of this preset (see `crossbert presets`).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
}

pub fn run_hardware(args: HardwareArgs) -> anyhow::Result<()> {
    let hw = match (args.show.flatten(), &args.preset) {
        (Some(path), None) => HardwareConfig::from_file(&path)?,
        (None, Some(name)) => HardwareConfig::preset(name)?,
        (Some(path), Some(name)) => anyhow::bail!(
            "hardware: expected a file or a preset, found both (--show {} and --preset {name})",
            path.display()
        ),
        (None, None) => {
            anyhow::bail!(
                "hardware: expected --show FILE or --preset NAME (or --show --preset NAME)"
            )
        }
    };
    print!("{}", hw.to_toml());
    Ok(())
}

/// `--preset NAME | --hardware FILE`: the chip an analog command runs on (flattened into
/// the commands that take one).
#[derive(Args, Debug, Clone)]
pub struct ChipArgs {
    /// Run the analog layers on this hardware preset (see `crossbert presets`).
    #[arg(long, conflicts_with = "hardware")]
    pub preset: Option<String>,
    /// Run the analog layers on the hardware described in this TOML file.
    #[arg(long)]
    pub hardware: Option<PathBuf>,
}

impl ChipArgs {
    /// The named hardware, or `None` when neither flag is given.
    pub fn resolve(&self) -> anyhow::Result<Option<HardwareConfig>> {
        Ok(match (&self.preset, &self.hardware) {
            (Some(name), _) => Some(HardwareConfig::preset(name)?),
            (None, Some(path)) => Some(HardwareConfig::from_file(path)?),
            (None, None) => None,
        })
    }
}
