//! `crossbert synth-checkpoint`: a random-weight checkpoint of any family for scale studies.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::model::Family;
use crate::synth::{synthesize, ModelSize, StoredDtype, SynthOptions};

fn parse_family(name: &str) -> Result<Family, String> {
    Family::parse(name).ok_or_else(|| {
        let known = Family::ALL.map(Family::model_type).join(", ");
        format!("expected one of {known}, found {name:?}")
    })
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("architecture").required(true).args(["config", "size"])))]
pub struct SynthArgs {
    /// A Hugging Face `config.json` giving the architecture (sizes, activation, vocabulary).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A named architecture instead of --config: base (12×768×3072), large (24×1024×4096)
    /// or minilm (6×384×1536).
    #[arg(long, value_enum)]
    pub size: Option<ModelSize>,
    /// Model family: bert, distilbert, roberta, albert or electra (sets `model_type`; the
    /// family's defaults fill keys the config or size leaves out, e.g. ALBERT's and
    /// ELECTRA's `embedding_size` 128). Default: the config's `model_type`, else bert.
    #[arg(long, value_parser = parse_family)]
    pub family: Option<Family>,
    /// Output checkpoint directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Storage precision of model.safetensors.
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: StoredDtype,
    /// Number of classifier outputs (1 = regression).
    #[arg(long, value_parser = super::at_least_one, default_value_t = 2)]
    pub num_labels: usize,
    /// Copy tokenizer.json / vocab.txt from this directory instead of generating a vocab.txt.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
}

pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let mut config: serde_json::Value = match (&args.config, args.size) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        (None, Some(size)) => size.config_json(),
        (None, None) => anyhow::bail!("expected --config FILE or --size NAME, found neither"),
    };
    if let (Some(family), Some(object)) = (args.family, config.as_object_mut()) {
        object.insert("model_type".into(), family.model_type().into());
    }
    let options = SynthOptions {
        seed: args.seed,
        dtype: args.dtype,
        num_labels: args.num_labels,
        tokenizer: args.tokenizer.clone(),
    };
    let summary = synthesize(&config, &options, &args.out)?;
    println!(
        "wrote {}: {} tensors, {} parameters, model.safetensors {} bytes ({:?})",
        args.out.display(),
        summary.tensors,
        summary.parameters,
        summary.weight_bytes,
        args.dtype
    );
    Ok(())
}
