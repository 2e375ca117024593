//! The seam between the model and the hardware that computes its weight products.
//!
//! Every fully connected layer (query, key, value, attention output, intermediate, output,
//! the head's two linears, and the embedding projection of ALBERT and ELECTRA) is a
//! [`Linear`]: `y = x·Wᵀ + b` for a batch of rows. Each has a [`LinearName`]: its
//! [`LinearKind`] (its role, the same in every family) and its stored layer, which is how
//! hardware descriptions select it and how its random streams are numbered.
//! The model never multiplies weights itself; it asks a [`LinearOp`] built once per layer by
//! a factory that sees the layer's [`LinearSpec`] (name, position, raw float weights). The
//! digital engine's factory is [`digital_linear`]; an analog backend supplies a factory that
//! programs each weight onto crossbars and returns its own `LinearOp`.

use super::matrix::{matmul_transposed, Matrix};

use std::fmt;

/// Which role a linear layer plays; every family has the same roles under its own tensor
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinearKind {
    Query,
    Key,
    Value,
    /// `attention.output.dense`, the projection after the heads are concatenated.
    AttentionOutput,
    /// `intermediate.dense`, the first feed-forward layer (hidden → intermediate).
    Intermediate,
    /// `output.dense`, the second feed-forward layer (intermediate → hidden).
    Output,
    /// The head's first linear, on each sequence's first token: BERT's and ALBERT's
    /// pooler, DistilBERT's `pre_classifier`, RoBERTa's and ELECTRA's `classifier.dense`.
    Pooler,
    /// The head's last linear, producing the logits.
    Classifier,
    /// The projection from the embedding width to the hidden size (ALBERT, ELECTRA).
    EmbeddingProjection,
}

impl LinearKind {
    /// Every role, in stream-number order (see [`LinearName::matrix_id`]).
    pub const ALL: [LinearKind; 9] = [
        LinearKind::Query,
        LinearKind::Key,
        LinearKind::Value,
        LinearKind::AttentionOutput,
        LinearKind::Intermediate,
        LinearKind::Output,
        LinearKind::Pooler,
        LinearKind::Classifier,
        LinearKind::EmbeddingProjection,
    ];

    /// The six linears of an encoder layer, in the order a layer runs them.
    pub const ENCODER: [LinearKind; 6] = [
        LinearKind::Query,
        LinearKind::Key,
        LinearKind::Value,
        LinearKind::AttentionOutput,
        LinearKind::Intermediate,
        LinearKind::Output,
    ];

    /// How hardware descriptions and results name the role.
    pub fn name(self) -> &'static str {
        match self {
            LinearKind::Query => "query",
            LinearKind::Key => "key",
            LinearKind::Value => "value",
            LinearKind::AttentionOutput => "attention_output",
            LinearKind::Intermediate => "ffn_in",
            LinearKind::Output => "ffn_out",
            LinearKind::Pooler => "pooler",
            LinearKind::Classifier => "classifier",
            LinearKind::EmbeddingProjection => "embedding_projection",
        }
    }

    /// Parses a role name; `attn_out` is accepted for `attention_output`.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "attn_out" {
            return Some(LinearKind::AttentionOutput);
        }
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether this role belongs to an encoder layer (has a layer index).
    pub fn in_encoder(self) -> bool {
        Self::ENCODER.contains(&self)
    }

    /// Whether the linear runs once per token (all but the head's, which run once per
    /// sequence, on its first token).
    pub fn per_token(self) -> bool {
        !matches!(self, LinearKind::Pooler | LinearKind::Classifier)
    }
}

/// One linear of the model: its role and, inside the encoder, its stored layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinearName {
    /// Stored encoder layer (ALBERT's group); `None` outside the encoder.
    pub layer: Option<usize>,
    pub kind: LinearKind,
}

impl LinearName {
    pub fn encoder(layer: usize, kind: LinearKind) -> Self {
        Self {
            layer: Some(layer),
            kind,
        }
    }

    /// A linear outside the encoder (the head's, the embedding projection).
    pub fn head(kind: LinearKind) -> Self {
        Self { layer: None, kind }
    }

    /// A stable number per linear for the random streams: layer·8 + role for the six
    /// encoder roles (8 per layer, as when the head's two roles were counted too), and
    /// `u32::MAX − 8 + role` for the others, after every possible encoder layer.
    pub fn matrix_id(&self) -> u32 {
        let kind = LinearKind::ALL
            .iter()
            .position(|k| *k == self.kind)
            .expect("every kind is in ALL") as u32;
        match self.layer {
            Some(l) => l as u32 * 8 + kind,
            None => u32::MAX - 8 + kind,
        }
    }
}

impl fmt::Display for LinearName {
    /// `<layer>.<role>` inside the encoder, the role alone outside it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            Some(l) => write!(f, "{l}.{}", self.kind.name()),
            None => f.write_str(self.kind.name()),
        }
    }
}

/// What the model says about one of its linears: names, shape and how often it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearInfo {
    pub name: LinearName,
    /// Checkpoint name without `.weight`, e.g. `bert.encoder.layer.3.attention.self.query`.
    pub checkpoint_name: String,
    pub in_features: usize,
    pub out_features: usize,
    /// Times one forward pass applies it: 1, or for an ALBERT group the layers sharing it.
    pub uses: usize,
}

impl LinearInfo {
    /// Whether it runs once per token (else once per sequence).
    pub fn per_token(&self) -> bool {
        self.name.kind.per_token()
    }

    /// Multiply-accumulates of one forward pass over `tokens` tokens of `sequences`
    /// sequences, every use counted.
    pub fn macs(&self, tokens: usize, sequences: usize) -> u64 {
        let rows = if self.per_token() { tokens } else { sequences };
        (self.uses * rows * self.in_features * self.out_features) as u64
    }
}

/// Everything a backend needs to build one linear layer.
#[derive(Debug, Clone)]
pub struct LinearSpec {
    pub info: LinearInfo,
    /// The weight as stored by Hugging Face: `out_features × in_features`.
    pub weight: Matrix,
    /// One bias per output feature.
    pub bias: Vec<f32>,
}

impl LinearSpec {
    pub fn in_features(&self) -> usize {
        self.weight.cols()
    }

    pub fn out_features(&self) -> usize {
        self.weight.rows()
    }
}

/// Whose rows a forward pass computes: the identity of each sequence of the batch (by
/// convention its file-order example index) and its length. Hardware with per-read
/// randomness (read noise, ADC noise) keys its draws by [`BatchId::read_ids`], which depend
/// on the data only, so a token draws the same numbers whatever batch it is packed into
/// and however many threads run.
#[derive(Clone, Copy, Debug)]
pub struct BatchId<'a> {
    /// Identity of each sequence, below 2^46.
    pub examples: &'a [u64],
    /// Tokens of each sequence.
    pub lengths: &'a [usize],
}

impl BatchId<'_> {
    /// Identity of sequence `i` of the batch.
    pub fn sequence(&self, i: usize) -> u64 {
        self.examples[i]
    }

    /// One read id per row of a forward pass over `rows` rows: example·2^16 + position.
    /// Token rows (the sum of the lengths) are numbered by their position in their
    /// sequence; pooled rows (one per sequence: the pooler's input is each sequence's
    /// \[CLS\] token, the classifier's its pooled output) by position 0, the \[CLS\] token's.
    /// (When every sequence has one token the two readings agree.)
    pub fn read_ids(&self, rows: usize) -> Vec<u64> {
        let id = |example: u64, position: usize| (example << 16) | position as u64;
        if rows == self.examples.len() {
            return self.examples.iter().map(|&e| id(e, 0)).collect();
        }
        debug_assert_eq!(rows, self.lengths.iter().sum::<usize>(), "rows of a batch");
        self.examples
            .iter()
            .zip(self.lengths)
            .flat_map(|(&e, &len)| (0..len).map(move |p| id(e, p)))
            .collect()
    }
}

/// One linear layer's computation: maps `x` (tokens × in_features) to
/// `x·Wᵀ + b` (tokens × out_features), as computed by some hardware. `batch` identifies
/// the batch (see [`BatchId`]); exact hardware ignores it.
pub trait LinearOp: Send + Sync {
    fn forward(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix;
}

/// A shared op computes what it wraps (a backend may keep a handle to each layer's op to
/// calibrate it or read its counters).
impl<T: LinearOp + ?Sized> LinearOp for std::sync::Arc<T> {
    fn forward(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix {
        (**self).forward(x, batch)
    }
}

/// Builds the `LinearOp` of each layer from its spec. Called once per layer at load time.
pub type LinearFactory<'a> = dyn Fn(&LinearSpec) -> Box<dyn LinearOp> + 'a;

/// The exact `f32` computation on the CPU.
pub struct DigitalLinear {
    weight: Matrix,
    bias: Vec<f32>,
}

impl DigitalLinear {
    pub fn new(spec: &LinearSpec) -> Self {
        Self {
            weight: spec.weight.clone(),
            bias: spec.bias.clone(),
        }
    }
}

impl LinearOp for DigitalLinear {
    fn forward(&self, x: &Matrix, _batch: BatchId<'_>) -> Matrix {
        matmul_transposed(x, &self.weight, Some(&self.bias))
    }
}

/// The digital engine's factory: every layer becomes a [`DigitalLinear`].
pub fn digital_linear(spec: &LinearSpec) -> Box<dyn LinearOp> {
    Box::new(DigitalLinear::new(spec))
}

/// A linear layer of the model: what it is, and the op that computes it.
pub struct Linear {
    info: LinearInfo,
    op: Box<dyn LinearOp>,
}

impl Linear {
    /// Loads `{checkpoint_name}.weight` (`out × in`) and `.bias` as `info` describes them
    /// and hands them to `factory`.
    pub fn load(
        weights: &super::checkpoint::Checkpoint,
        info: LinearInfo,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, super::checkpoint::CheckpointError> {
        let (name, out) = (&info.checkpoint_name, info.out_features);
        let spec = LinearSpec {
            weight: weights.matrix(&format!("{name}.weight"), out, info.in_features)?,
            bias: weights.tensor(&format!("{name}.bias"), &[out])?,
            info,
        };
        Ok(Self {
            op: factory(&spec),
            info: spec.info,
        })
    }

    pub fn info(&self) -> &LinearInfo {
        &self.info
    }

    pub fn forward(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix {
        let name = &self.info.checkpoint_name;
        debug_assert_eq!(x.cols(), self.info.in_features, "{name}");
        let y = self.op.forward(x, batch);
        debug_assert_eq!(y.cols(), self.info.out_features, "{name}");
        y
    }
}
