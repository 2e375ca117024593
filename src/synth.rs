//! Synthetic checkpoints of any supported family: random weights in the Hugging Face
//! layout.
//!
//! No fine-tuned BERT-base or BERT-large ships with crossbert, yet scale studies (memory,
//! time per sequence, array counts) only need the *shapes* of such a model. This module
//! writes a `BertForSequenceClassification` checkpoint (or DistilBERT's, RoBERTa's,
//! ALBERT's, ELECTRA's: `model_type` in the config) that `crossbert eval` loads like any
//! other:
//!
//! - `config.json` with the architecture sizes, `num_labels` and `id2label`;
//! - `model.safetensors` with every tensor under its Hugging Face name (`bert.` prefix,
//!   `classifier.*`, or the family's names), drawn as Hugging Face initializes BERT: weights and embeddings
//!   N(0, 0.02²) (`initializer_range` 0.02), biases 0, LayerNorm γ = 1 and β = 0;
//! - tokenizer files: copied from a given directory, or a generated `vocab.txt` whose
//!   entries are the special tokens, single characters and their `##` continuations (so any
//!   lower-case ASCII word tokenizes), padded with `[unusedN]` up to `vocab_size`.
//!
//! Every tensor draws from its own [`StreamKey`] (seed, tensor number,
//! [`Draw::SyntheticWeights`]), so a checkpoint is a function of its seed and config
//! alone. Tensors are generated one at a time while the file is written, so even
//! BERT-large (1.3 GB in f32) needs only one tensor in memory.
//!
//! [`tensor_layout`] and [`write_safetensors`] are also used by the linear probe
//! ([`crate::probe`]) to write its checkpoints.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::draws::Draw;
use crossbar::rng::StreamKey;
use rand_distr::{Distribution, Normal};
use safetensors::tensor::{Dtype, View};
use serde_json::{json, Value};

use crate::model::family::Layout;
use crate::model::{Family, ModelConfig};

/// Standard deviation of Hugging Face's BERT weight initialization (`initializer_range`).
pub const INITIALIZER_RANGE: f32 = 0.02;

/// Storage precision of a written checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoredDtype {
    F32,
    F16,
}

impl StoredDtype {
    fn safetensors(self) -> Dtype {
        match self {
            StoredDtype::F32 => Dtype::F32,
            StoredDtype::F16 => Dtype::F16,
        }
    }

    fn bytes_per_value(self) -> usize {
        match self {
            StoredDtype::F32 => 4,
            StoredDtype::F16 => 2,
        }
    }

    /// Little-endian bytes of `values` in this precision.
    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        match self {
            StoredDtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            StoredDtype::F16 => values
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect(),
        }
    }
}

/// Named architecture sizes (the published shapes of each model family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelSize {
    /// BERT-base (Devlin et al. 2019): 12 layers, hidden 768, intermediate 3072, 12 heads.
    Base,
    /// BERT-large (Devlin et al. 2019): 24 layers, hidden 1024, intermediate 4096, 16 heads.
    Large,
    /// MiniLM-L6-H384 (Wang et al. 2020): 6 layers, hidden 384, intermediate 1536, 12 heads.
    Minilm,
}

impl ModelSize {
    /// `(layers, hidden, intermediate, heads)`.
    pub fn dims(self) -> (usize, usize, usize, usize) {
        match self {
            ModelSize::Base => (12, 768, 3072, 12),
            ModelSize::Large => (24, 1024, 4096, 16),
            ModelSize::Minilm => (6, 384, 1536, 12),
        }
    }

    /// A `config.json` object for this size with BERT's uncased vocabulary (30522 tokens),
    /// 512 positions and 2 token types.
    pub fn config_json(self) -> Value {
        let (layers, hidden, intermediate, heads) = self.dims();
        json!({
            "model_type": "bert",
            "vocab_size": 30522,
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "intermediate_size": intermediate,
            "hidden_act": "gelu",
            "max_position_embeddings": 512,
            "type_vocab_size": 2,
            "layer_norm_eps": 1e-12,
            "pad_token_id": 0,
            "initializer_range": INITIALIZER_RANGE,
        })
    }
}

/// How a tensor is initialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// N(0, [`INITIALIZER_RANGE`]²): weights and embeddings.
    Normal,
    Zeros,
    Ones,
}

/// One tensor of a `BertForSequenceClassification` checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// Hugging Face name, e.g. `bert.encoder.layer.0.attention.self.query.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl TensorSpec {
    /// Number of values.
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Every tensor of the `…ForSequenceClassification` model of `config`'s family with
/// `num_labels` outputs, under the family's Hugging Face names ([`Layout`]), in the order
/// its modules are declared.
pub fn tensor_layout(config: &ModelConfig, num_labels: usize) -> Vec<TensorSpec> {
    let layout: Layout = config.model_type.layout(config);
    let (e, h, inter) = (
        config.embedding_size(),
        config.hidden_size,
        config.intermediate_size,
    );
    let mut out = Vec::new();
    let tables = &layout.embeddings;
    let mut table = |name: &str, rows| {
        let name = format!("{name}.weight");
        add(&mut out, name, vec![rows, e], Init::Normal);
    };
    table(&tables.word, config.vocab_size);
    table(&tables.position, config.max_position_embeddings);
    if let Some(token_type) = &tables.token_type {
        table(token_type, config.type_vocab_size);
    }
    layer_norm(&mut out, &tables.layer_norm, e);
    if let Some(projection) = &layout.projection {
        linear(&mut out, projection, h, e);
    }
    for names in &layout.layers {
        for name in [
            &names.query,
            &names.key,
            &names.value,
            &names.attention_output,
        ] {
            linear(&mut out, name, h, h);
        }
        layer_norm(&mut out, &names.attention_layer_norm, h);
        linear(&mut out, &names.intermediate, inter, h);
        linear(&mut out, &names.output, h, inter);
        layer_norm(&mut out, &names.output_layer_norm, h);
    }
    linear(&mut out, &layout.head.dense, h, h);
    linear(&mut out, &layout.head.classifier, num_labels, h);
    out
}

fn add(out: &mut Vec<TensorSpec>, name: String, shape: Vec<usize>, init: Init) {
    out.push(TensorSpec { name, shape, init });
}

/// `{prefix}.weight` (`out × in`, as PyTorch stores it) and `{prefix}.bias`.
fn linear(out: &mut Vec<TensorSpec>, prefix: &str, out_features: usize, in_features: usize) {
    let weight = vec![out_features, in_features];
    add(out, format!("{prefix}.weight"), weight, Init::Normal);
    add(
        out,
        format!("{prefix}.bias"),
        vec![out_features],
        Init::Zeros,
    );
}

/// LayerNorm γ (`weight`, 1) and β (`bias`, 0).
fn layer_norm(out: &mut Vec<TensorSpec>, prefix: &str, width: usize) {
    add(out, format!("{prefix}.weight"), vec![width], Init::Ones);
    add(out, format!("{prefix}.bias"), vec![width], Init::Zeros);
}

/// A tensor whose bytes are produced only when the writer asks for them.
struct LazyTensor<F: Fn() -> Vec<f32>> {
    shape: Vec<usize>,
    dtype: StoredDtype,
    values: F,
}

impl<F: Fn() -> Vec<f32>> LazyTensor<F> {
    fn new(shape: Vec<usize>, dtype: StoredDtype, values: F) -> Self {
        Self {
            shape,
            dtype,
            values,
        }
    }
}

impl<F: Fn() -> Vec<f32>> View for LazyTensor<F> {
    fn dtype(&self) -> Dtype {
        self.dtype.safetensors()
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.dtype.encode(&(self.values)()))
    }

    fn data_len(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.bytes_per_value()
    }
}

/// Writes `tensors` to `path` through a temporary file renamed into place, so a failed or
/// interrupted write never leaves a partial `model.safetensors` behind.
pub fn write_safetensors<V: View>(path: &Path, tensors: Vec<(String, V)>) -> anyhow::Result<()> {
    let partial = partial_path(path);
    let written = safetensors::serialize_to_file(tensors, None, &partial)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", partial.display()))
        .and_then(|()| {
            std::fs::rename(&partial, path)
                .map_err(|e| anyhow::anyhow!("renaming to {}: {e}", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Writes text to `path` atomically (temporary file, then rename).
pub fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    let partial = partial_path(path);
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Random values of one tensor: the tensor's own stream, so the checkpoint does not
/// depend on the order tensors are written in.
fn init_values(spec: &TensorSpec, seed: u64, tensor_number: u32) -> Vec<f32> {
    match spec.init {
        Init::Zeros => vec![0.0; spec.elements()],
        Init::Ones => vec![1.0; spec.elements()],
        Init::Normal => {
            let mut rng =
                StreamKey::new(seed, tensor_number, 0, Draw::SyntheticWeights.into()).rng();
            let normal = Normal::new(0.0f32, INITIALIZER_RANGE).expect("positive std");
            (0..spec.elements())
                .map(|_| normal.sample(&mut rng))
                .collect()
        }
    }
}

/// What to synthesize.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub seed: u64,
    pub dtype: StoredDtype,
    pub num_labels: usize,
    /// Directory whose `tokenizer.json` / `vocab.txt` / `tokenizer_config.json` are copied;
    /// `None` generates a `vocab.txt`.
    pub tokenizer: Option<PathBuf>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSummary {
    pub tensors: usize,
    pub parameters: usize,
    /// Size of `model.safetensors` in bytes.
    pub weight_bytes: u64,
}

/// Most classes a synthesized classifier may have (its label names are written to
/// config.json; GLUE tasks have at most 3).
const MOST_LABELS: usize = 100_000;

/// Most parameters a synthesized checkpoint may have: 2 billion, 8 GB in f32. A typo in a
/// size would otherwise end in a failed allocation instead of an error.
const MOST_PARAMETERS: usize = 2_000_000_000;

/// Writes a random `…ForSequenceClassification` checkpoint for the architecture in `config`
/// (a `config.json` object; its `model_type` names the family, BERT when absent) into
/// `out`, with the family's own `config.json` keys.
pub fn synthesize(
    config: &Value,
    options: &SynthOptions,
    out: &Path,
) -> anyhow::Result<SynthSummary> {
    if !(1..=MOST_LABELS).contains(&options.num_labels) {
        anyhow::bail!(
            "num_labels (--num-labels): expected 1 to {MOST_LABELS}, found {}",
            options.num_labels
        );
    }
    let mut config = config.clone();
    let object = config
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("config: expected a JSON object"))?;
    let id2label: serde_json::Map<String, Value> = (0..options.num_labels)
        .map(|i| (i.to_string(), Value::from(format!("LABEL_{i}"))))
        .collect();
    let family = match object.get("model_type") {
        Some(Value::String(name)) => Family::parse(name).ok_or_else(|| {
            anyhow::anyhow!(
                "config: model_type: expected one of {}, found {name:?}",
                Family::ALL.map(Family::model_type).join(", ")
            )
        })?,
        _ => Family::Bert,
    };
    object.insert("architectures".into(), json!([family.architecture()]));
    object.insert("num_labels".into(), json!(options.num_labels));
    object.insert("id2label".into(), Value::Object(id2label));
    object.remove("label2id");
    object.remove("problem_type");
    family.native_keys(object);
    let text = serde_json::to_string_pretty(&config)?;
    // Validate exactly as the loader will, before writing anything.
    let parsed = ModelConfig::from_json(&text, "synthesized config.json")?;

    let layout = tensor_layout(&parsed, parsed.num_labels());
    // Saturating, so that absurd sizes give the error below rather than an overflow.
    let parameters = layout
        .iter()
        .map(|t| {
            t.shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .unwrap_or(usize::MAX)
        })
        .fold(0usize, usize::saturating_add);
    if parameters > MOST_PARAMETERS {
        anyhow::bail!(
            "synthesized config.json: expected at most {MOST_PARAMETERS} parameters (BERT-large \
             has 335 million), found {parameters} from its sizes"
        );
    }
    std::fs::create_dir_all(out).map_err(|e| anyhow::anyhow!("creating {}: {e}", out.display()))?;
    let tensors: Vec<(String, LazyTensor<_>)> = layout
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let seed = options.seed;
            let values = move || init_values(spec, seed, i as u32);
            (
                spec.name.clone(),
                LazyTensor::new(spec.shape.clone(), options.dtype, values),
            )
        })
        .collect();
    let weights = out.join(crate::model::checkpoint::SINGLE_FILE);
    write_safetensors(&weights, tensors)?;
    write_text(&out.join("config.json"), &text)?;
    match &options.tokenizer {
        Some(dir) => copy_tokenizer(dir, out)?,
        None => write_text(&out.join("vocab.txt"), &generated_vocab(parsed.vocab_size))?,
    }
    Ok(SynthSummary {
        tensors: layout.len(),
        parameters,
        weight_bytes: std::fs::metadata(&weights)?.len(),
    })
}

/// Tokenizer files a checkpoint directory may carry.
const TOKENIZER_FILES: [&str; 4] = [
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
];

/// Copies the tokenizer files present in `from` to `to`; at least `tokenizer.json` or
/// `vocab.txt` must exist.
pub fn copy_tokenizer(from: &Path, to: &Path) -> anyhow::Result<()> {
    if !from.join("tokenizer.json").is_file() && !from.join("vocab.txt").is_file() {
        anyhow::bail!(
            "{}: no tokenizer found: expected tokenizer.json or vocab.txt",
            from.display()
        );
    }
    for name in TOKENIZER_FILES {
        let src = from.join(name);
        if src.is_file() {
            std::fs::copy(&src, to.join(name))
                .map_err(|e| anyhow::anyhow!("copying {}: {e}", src.display()))?;
        }
    }
    Ok(())
}

/// A WordPiece vocabulary of exactly `size` entries (fewer only if `size` is below the
/// five special tokens): `[PAD]` (id 0, BERT's `pad_token_id`), `[UNK]`, `[CLS]`, `[SEP]`,
/// `[MASK]`, then every printable ASCII character and the `##` continuation of each
/// letter and digit, then `[unusedN]` fillers.
pub fn generated_vocab(size: usize) -> String {
    let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    let printable = (b'!'..=b'~').map(|c| (c as char).to_ascii_lowercase().to_string());
    let continuations = ('a'..='z').chain('0'..='9').map(|c| format!("##{c}"));
    let mut tokens: Vec<String> = specials.iter().map(|s| s.to_string()).collect();
    for t in printable.chain(continuations) {
        if !tokens.contains(&t) {
            tokens.push(t);
        }
    }
    let fillers = (0..).map(|i| format!("[unused{i}]"));
    let mut text = String::new();
    for token in tokens
        .into_iter()
        .chain(fillers)
        .take(size.max(specials.len()))
    {
        text.push_str(&token);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_counts_match_published_bert_base_parameters() {
        let config =
            ModelConfig::from_json(&ModelSize::Base.config_json().to_string(), "base").unwrap();
        let n: usize = tensor_layout(&config, 2)
            .iter()
            .map(TensorSpec::elements)
            .sum();
        // Hugging Face's bert-base-uncased BertModel has 109,482,240 parameters; the
        // classifier adds 768·2 + 2.
        assert_eq!(n, 109_482_240 + 768 * 2 + 2);
    }

    #[test]
    fn vocab_has_specials_first_and_exact_size() {
        let v = generated_vocab(200);
        let lines: Vec<&str> = v.lines().collect();
        assert_eq!(lines.len(), 200);
        assert_eq!(&lines[..5], &["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
        assert!(lines.contains(&"##z") && lines.contains(&"a") && lines.contains(&"[unused0]"));
        let unique: std::collections::HashSet<&&str> = lines.iter().collect();
        assert_eq!(unique.len(), lines.len(), "duplicate tokens");
    }

    #[test]
    fn normal_init_has_the_configured_spread() {
        let spec = TensorSpec {
            name: "w".into(),
            shape: vec![100, 100],
            init: Init::Normal,
        };
        let v = init_values(&spec, 3, 0);
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32).sqrt();
        // 10,000 draws, seed 3: the sample std of N(0, 0.02²) is within 3 % of 0.02
        // (its standard error is 0.02/√20000 ≈ 0.7 %), the mean within 5 standard errors.
        assert!((std - 0.02).abs() < 0.02 * 0.03, "std {std}");
        assert!(mean.abs() < 5.0 * 0.02 / 100.0, "mean {mean}");
        assert_eq!(v, init_values(&spec, 3, 0));
        assert_ne!(v, init_values(&spec, 4, 0));
        assert_ne!(v, init_values(&spec, 3, 1));
    }
}
