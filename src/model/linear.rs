//! The seam between the BERT model and the hardware that computes its weight products.
//!
//! Every fully connected layer of BERT (query, key, value, attention output, intermediate,
//! output, pooler, classifier) is a [`Linear`]: `y = x·Wᵀ + b` for a batch of token rows.
//! The model never multiplies weights itself; it asks a [`LinearOp`] built once per layer by
//! a factory that sees the layer's [`LinearSpec`] (name, position, raw float weights). The
//! digital engine's factory is [`digital_linear`]; an analog backend supplies a factory that
//! programs each weight onto crossbars and returns its own `LinearOp`.

use super::matrix::{matmul_transposed, Matrix};

/// Which of BERT's weight matrices a linear layer is.
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
    Pooler,
    Classifier,
}

/// Everything a backend needs to build one linear layer.
#[derive(Debug, Clone)]
pub struct LinearSpec {
    /// Checkpoint name without `.weight`, e.g. `bert.encoder.layer.3.attention.self.query`.
    pub name: String,
    /// Encoder layer index; `None` for the pooler and the classifier.
    pub layer: Option<usize>,
    pub kind: LinearKind,
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

/// A linear layer of the model: its name, its shape, and the op that computes it.
pub struct Linear {
    name: String,
    in_features: usize,
    out_features: usize,
    op: Box<dyn LinearOp>,
}

impl Linear {
    /// Loads `{name}.weight` (`out × in`) and `{name}.bias` and hands them to `factory`.
    pub fn load(
        weights: &super::checkpoint::Checkpoint,
        name: &str,
        layer: Option<usize>,
        kind: LinearKind,
        in_features: usize,
        out_features: usize,
        factory: &LinearFactory<'_>,
    ) -> Result<Self, super::checkpoint::CheckpointError> {
        let spec = LinearSpec {
            name: name.to_string(),
            layer,
            kind,
            weight: weights.matrix(&format!("{name}.weight"), out_features, in_features)?,
            bias: weights.tensor(&format!("{name}.bias"), &[out_features])?,
        };
        Ok(Self {
            name: spec.name.clone(),
            in_features,
            out_features,
            op: factory(&spec),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Multiply-accumulate operations for `tokens` rows (for FLOP counting: 2 FLOPs each).
    pub fn macs(&self, tokens: usize) -> u64 {
        (tokens * self.in_features * self.out_features) as u64
    }

    pub fn forward(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix {
        debug_assert_eq!(x.cols(), self.in_features, "{}", self.name);
        let y = self.op.forward(x, batch);
        debug_assert_eq!(y.cols(), self.out_features, "{}", self.name);
        y
    }
}
