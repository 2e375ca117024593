//! Where operands move in one inference: eDRAM buffer, bus and router traffic.
//!
//! **Placement.** Analog matrices take IMAs in model order, each matrix IMAs of its own
//! (`⌈arrays / chip.arrays_per_ima⌉`); IMAs fill tiles in order (`chip.imas_per_tile`).
//! Tiles sit row-major on a square mesh `⌈√tiles⌉` wide. A matrix's *home* is its first
//! tile; the digital stage after a matrix runs on the home tile's digital units, and its
//! result stays there.
//!
//! **Router.** A transfer from tile a to tile b ≠ a crosses `hops(a, b) + 1` routers (the
//! Manhattan distance on the mesh, source and destination routers included); `router_bits`
//! counts bits × routers crossed. Per encoder layer and token: the layer input goes from
//! where it was made (the previous layer's FFN-output home; layer 0: the query's home) to
//! every tile of the query, key and value matrices; K and V go to the query's home, where
//! attention runs; the context to every tile of the attention output; the residual input to
//! the attention output's home (LayerNorm 1 runs there); its result to every tile of FFN-in
//! and, as the second residual, to FFN-out's home; FFN-in's GELU output to every tile of
//! FFN-out. (Layer 0's input starts at the embedding projection's home when the model has
//! an analog one; an ALBERT layer's matrices are its group's.) A matrix on several tiles sends each extra tile's share of its outputs
//! (`out_features / tiles`) to its home. Inputs to a matrix travel as input codes
//! (`input_bits` each, of the receiving matrix's own mapping: a layer override may give it
//! other input bits than `[mapping]`), everything else as 32-bit words. The pooler and classifier
//! receive the \[CLS\] vector the same way. Digital linears are local: no traffic.
//!
//! **eDRAM.** The mapping already counts each analog matrix's input reads and output
//! writes. Here every digital stage reads its operands from and writes its results to the
//! eDRAM buffer, 32-bit words: attention (digital products) reads Q and K, writes the
//! scores; softmax reads the scores and writes the probabilities; P·V reads them and V and
//! writes the context (with attention on crossbars only the softmax traffic remains, the
//! products' own I/O being counted with their arrays); each residual add and LayerNorm
//! reads two vectors and writes one; GELU reads and writes the intermediate vector; the
//! embeddings read a row of each table (three, or two without token types) and write one
//! vector per token, at the embedding width.
//!
//! **Bus.** Every bit an analog matrix reads from or writes to the eDRAM crosses the tile's
//! bus to its IMAs: the bus carries exactly the matrices' buffer traffic.

use std::collections::HashMap;

use super::AnalogModel;
use crate::hardware::{AttentionMode, LinearKind, LinearName};

/// Bits of a 32-bit word: digital operands and analog outputs.
const WORD_BITS: u64 = 32;

/// Traffic of a set of sequences, all summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// eDRAM bits read or written by the digital stages.
    pub buffer_bits: u64,
    /// Bits × routers crossed.
    pub router_bits: u64,
}

/// Where each analog matrix sits: its tiles, first to last.
pub struct Placement {
    tiles: HashMap<String, (u64, u64)>,
    /// Mesh width in tiles.
    width: u64,
}

impl Placement {
    /// Places the analog matrices of `model` (see the module docs).
    pub fn of(model: &AnalogModel) -> Placement {
        let chip = &model.hardware.chip;
        let per_tile = u64::from(chip.imas_per_tile);
        let mut tiles = HashMap::new();
        let mut next_ima = 0;
        for layer in model.layers() {
            let imas = chip.imas_for(layer.with_matrix(|m| m.layout().arrays() as u64));
            let first = next_ima / per_tile;
            next_ima += imas;
            tiles.insert(layer.name().to_string(), (first, (next_ima - 1) / per_tile));
        }
        let tiles_used = next_ima.div_ceil(per_tile);
        Placement {
            tiles,
            width: (tiles_used.max(1) as f64).sqrt().ceil() as u64,
        }
    }

    fn tiles_of(&self, name: &LinearName) -> Option<(u64, u64)> {
        self.tiles.get(&name.to_string()).copied()
    }

    /// Routers crossed from tile `a` to tile `b`.
    fn routers(&self, a: u64, b: u64) -> u64 {
        if a == b {
            return 0;
        }
        let (ax, ay, bx, by) = (
            a % self.width,
            a / self.width,
            b % self.width,
            b / self.width,
        );
        ax.abs_diff(bx) + ay.abs_diff(by) + 1
    }
}

/// Router and digital-operand eDRAM traffic of `lengths` sequences on `model`.
pub fn traffic(model: &AnalogModel, placement: &Placement, lengths: &[usize]) -> Traffic {
    let mut t = Traffic::default();
    for &len in lengths {
        t.buffer_bits += operand_words(model, len) * WORD_BITS;
        t.router_bits += routed_bits(model, placement, len);
    }
    t
}

/// 32-bit words the digital stages of one sequence read and write (see the module docs).
fn operand_words(model: &AnalogModel, len: usize) -> u64 {
    let c = &model.config;
    let (l, h, i) = (len as u64, c.hidden_size as u64, c.intermediate_size as u64);
    let scores = c.num_attention_heads as u64 * l * l;
    let softmax = 2 * scores;
    let products = match model.hardware.attention.mode {
        AttentionMode::Digital => 2 * l * h + scores /* Q·Kᵀ */ + scores + 2 * l * h, /* P·V */
        AttentionMode::Crossbar => 0,
    };
    let add_and_norm = 2 * 3 * l * h; // two of: read two vectors, write one
    let gelu = 2 * l * i;
    // read each table's row (word, position, token type if any), write the sum
    let tables = if c.model_type.has_token_types() { 3 } else { 2 };
    let embeddings = (tables + 1) * l * c.embedding_size() as u64;
    c.num_hidden_layers as u64 * (softmax + products + add_and_norm + gelu) + embeddings
}

/// Bits × routers of one sequence (see the module docs).
fn routed_bits(model: &AnalogModel, placement: &Placement, len: usize) -> u64 {
    let c = &model.config;
    let (h, i) = (c.hidden_size as u64, c.intermediate_size as u64);
    let tokens = len as u64;
    let at = |layer: Option<usize>, kind| placement.tiles_of(&LinearName { layer, kind });
    // bits of one input code of a matrix: its own mapping's (only analog matrices, which
    // have tiles, receive codes)
    let code_bits = |layer: Option<usize>, kind| {
        u64::from(
            model
                .hardware
                .mapping_for(&LinearName { layer, kind })
                .input_bits,
        )
    };
    let home = |tiles: Option<(u64, u64)>| tiles.map(|(first, _)| first);
    // `values` values from tile `from` to every tile of `to`, `width` bits each
    let send = |from: Option<u64>, to: Option<(u64, u64)>, values: u64, width: u64| match (from, to)
    {
        (Some(a), Some((first, last))) => {
            (first..=last).map(|b| placement.routers(a, b)).sum::<u64>() * values * width
        }
        _ => 0,
    };
    let mut bits = 0;
    let projection = at(None, LinearKind::EmbeddingProjection);
    let mut input = home(projection).or(home(at(Some(0), LinearKind::Query)));
    bits += gather_bits(placement, projection, tokens * h);
    for l in 0..c.num_hidden_layers {
        // the six encoder matrices of the stored layer that layer l runs, and the bits of
        // their input codes
        let stored = Some(c.stored_layer(l));
        let [q, k, v, ao, fi, fo]: [_; 6] =
            std::array::from_fn(|i| at(stored, LinearKind::ENCODER[i]));
        let [qb, kb, vb, aob, fib, fob]: [_; 6] =
            std::array::from_fn(|i| code_bits(stored, LinearKind::ENCODER[i]));
        let only_home = |m: Option<(u64, u64)>| m.map(|(first, _)| (first, first));
        for (m, b) in [(q, qb), (k, kb), (v, vb)] {
            bits += send(input, m, tokens * h, b);
        }
        bits += send(home(k), only_home(q), tokens * h, WORD_BITS);
        bits += send(home(v), only_home(q), tokens * h, WORD_BITS);
        bits += send(home(q), ao, tokens * h, aob);
        bits += send(input, only_home(ao), tokens * h, WORD_BITS);
        bits += send(home(ao), fi, tokens * h, fib);
        bits += send(home(ao), only_home(fo), tokens * h, WORD_BITS);
        bits += send(home(fi), fo, tokens * i, fob);
        for (m, outputs) in [(q, h), (k, h), (v, h), (ao, h), (fi, i), (fo, h)] {
            bits += gather_bits(placement, m, tokens * outputs);
        }
        input = home(fo).or(input);
    }
    let pooler = at(None, LinearKind::Pooler);
    bits += send(input, pooler, h, code_bits(None, LinearKind::Pooler));
    bits += gather_bits(placement, pooler, h);
    let classifier = at(None, LinearKind::Classifier);
    let classifier_bits = code_bits(None, LinearKind::Classifier);
    bits + send(home(pooler).or(input), classifier, h, classifier_bits)
}

/// A matrix on tiles `first..=last` sends each extra tile's share of its `outputs` values
/// (32-bit words) home.
fn gather_bits(placement: &Placement, tiles: Option<(u64, u64)>, outputs: u64) -> u64 {
    let Some((first, last)) = tiles else {
        return 0;
    };
    let share = outputs / (last - first + 1);
    (first + 1..=last)
        .map(|t| placement.routers(t, first) * share * WORD_BITS)
        .sum()
}
