//! Attention on write-enabled crossbars (`[attention] mode = "crossbar"`).
//!
//! Model (see [`crate::hardware::attention`] for the configuration). For every sequence,
//! encoder layer and head, the backend *writes* two matrices onto arrays with the chip's
//! mapping and then runs MVMs through them:
//!
//! * K_h (len × d) as a weight of out = len, in = d: each query row q gives the scores
//!   q·K_hᵀ (one MVM per token);
//! * V_hᵀ (d × len) as a weight of out = d, in = len: each probability row p gives p·V_h
//!   (one MVM per token).
//!
//! A write is a programming of fresh arrays through the device model with only
//! `attention.write_noise` switched on. Its random draws come from a per-write seed,
//! itself drawn from `StreamKey(seed, attention matrix id, tile = head, Purpose::Write,
//! index = sequence)`; the arrays of the matrix then draw from `(write seed, matrix id,
//! array, …)` as any programming does. The sequence index is the batch id plus the
//! sequence's place in the batch (its file-order example index), so results do not depend
//! on the number of threads. Attention matrix ids are `layer·8 + 6` (K) and `layer·8 + 7`
//! (V): the two slots of each layer that [`crate::hardware::LinearName::matrix_id`] leaves
//! free (kinds 6 and 7 are the pooler and classifier, which have no layer).
//!
//! Input and ADC ranges are dynamic: each written matrix calibrates on its own operands
//! before the MVMs (see the hardware module docs).
//!
//! Costs (closed form in [`head_cost`], the same quantities the writes and MVMs produce,
//! which [`CrossbarAttention::take_measured`] reports): every cell of the written tiles
//! (all slices, both cells of a differential pair, reference columns) is one cell write;
//! every written tile row is one row write (cells of a row are written in parallel); the
//! MVMs produce the usual tile events (ADC, DAC, array reads, S&H, shift-and-add, adder
//! tree, buffer bits), which the roll-up prices in those same components.

use std::sync::Mutex;

use crossbar::{DeviceConfig, Purpose, StreamKey};
use mapping::{MappedMatrix, MappingConfig};
use rand::RngCore;

use crate::energy::MatrixLayout;
use crate::hardware::AttentionConfig;
use crate::model::{HeadAt, HeadProducts};

/// Which operand a written matrix holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// K_h, for the scores Q_h·K_hᵀ.
    Key,
    /// V_hᵀ, for the context P·V_h.
    Value,
}

/// The random-stream matrix id of one layer's written K or V (see the module docs).
pub fn attention_matrix_id(layer: usize, operand: Operand) -> u32 {
    layer as u32 * 8
        + match operand {
            Operand::Key => 6,
            Operand::Value => 7,
        }
}

/// Events and writes of attention on crossbars.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttentionMeasured {
    /// Tile events of the MVMs (not of the range-finding pass).
    pub events: crossbar::EventCounts,
    /// Cells written (every slice and sign cell).
    pub cell_writes: u64,
    /// Array rows written.
    pub row_writes: u64,
}

/// The attention products of one encoder layer on write-enabled crossbars.
pub struct CrossbarAttention {
    layer: usize,
    mapping: MappingConfig,
    /// The device model of a write: `write_noise` as programming variation, nothing else.
    write_device: DeviceConfig,
    seed: u64,
    measured: Mutex<AttentionMeasured>,
    error: Mutex<Option<String>>,
}

impl CrossbarAttention {
    pub fn new(
        layer: usize,
        mapping: &MappingConfig,
        attention: &AttentionConfig,
        seed: u64,
    ) -> Self {
        Self {
            layer,
            mapping: mapping.clone(),
            write_device: DeviceConfig {
                programming: attention.write_noise.clone(),
                ..DeviceConfig::default()
            },
            seed,
            measured: Mutex::new(AttentionMeasured::default()),
            error: Mutex::new(None),
        }
    }

    /// Events and writes since the last call.
    pub fn take_measured(&self) -> AttentionMeasured {
        std::mem::take(&mut *self.measured.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The first error a product hit, if any (its output was NaN).
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Writes `weight` (out × in) for `operand` of head `at`, calibrates the ranges on
    /// `x` (tokens × in) and returns x·weightᵀ (tokens × out).
    fn write_and_multiply(
        &self,
        operand: Operand,
        at: HeadAt,
        weight: &[f32],
        (out, inp): (usize, usize),
        x: &[f32],
        result: &mut [f32],
    ) {
        let tokens = x.len() / inp;
        let matrix_id = attention_matrix_id(self.layer, operand);
        let key = StreamKey {
            seed: self.seed,
            matrix: matrix_id,
            tile: at.head as u32,
            purpose: Purpose::Write,
            index: at.sequence,
        };
        let write_seed = key.rng().next_u64();
        let run = || -> anyhow::Result<(Vec<f32>, crossbar::EventCounts, (u64, u64))> {
            let mut m = MappedMatrix::program(
                weight,
                out,
                inp,
                &self.mapping,
                &self.write_device,
                write_seed,
                matrix_id,
            )?;
            m.calibrate(x, tokens)?;
            let reads: Vec<u64> = (0..tokens as u64)
                .map(|p| (at.sequence << 16) | p)
                .collect();
            let (y, events) = m.forward(x, tokens, &reads)?;
            Ok((y, events, written(&m)))
        };
        match run() {
            Ok((y, events, (cells, rows))) => {
                result.copy_from_slice(&y);
                let mut measured = self.measured.lock().unwrap_or_else(|p| p.into_inner());
                measured.events += events;
                measured.cell_writes += cells;
                measured.row_writes += rows;
            }
            Err(e) => {
                result.fill(f32::NAN);
                let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert_with(|| {
                    format!(
                        "attention on crossbars, layer {} head {} ({operand:?}): {e}",
                        self.layer, at.head
                    )
                });
            }
        }
    }
}

impl HeadProducts for CrossbarAttention {
    fn scores(&self, at: HeadAt, q: &[f32], k: &[f32], out: &mut [f32]) {
        self.write_and_multiply(Operand::Key, at, k, (at.len, at.d), q, out);
    }

    fn context(&self, at: HeadAt, p: &[f32], v: &[f32], out: &mut [f32]) {
        let mut v_t = vec![0.0f32; v.len()];
        for (t, row) in v.chunks_exact(at.d).enumerate() {
            for (c, &value) in row.iter().enumerate() {
                v_t[c * at.len + t] = value;
            }
        }
        self.write_and_multiply(Operand::Value, at, &v_t, (at.d, at.len), p, out);
    }
}

/// Cells and rows a programming of `m` writes: every cell and row of its active tiles.
pub fn written(m: &MappedMatrix) -> (u64, u64) {
    m.tiles().iter().fold((0, 0), |(cells, rows), t| {
        (cells + (t.rows() * t.cols()) as u64, rows + t.rows() as u64)
    })
}

/// What one head of one layer costs on a sequence of `len` tokens (head size `d`).
#[derive(Clone, Debug)]
pub struct HeadCost {
    /// Tile events of the len score MVMs and the len context MVMs.
    pub events: crossbar::EventCounts,
    pub cell_writes: u64,
    pub row_writes: u64,
    /// The K and V matrices' layouts, one MVM per token each.
    pub layouts: [MatrixLayout; 2],
}

/// [`HeadCost`] in closed form: the mapping of a K and a V matrix of these shapes (their
/// values do not change any count).
pub fn head_cost(mapping: &MappingConfig, len: usize, d: usize) -> anyhow::Result<HeadCost> {
    let ideal = DeviceConfig::default();
    let shape = |out: usize, inp: usize| {
        MappedMatrix::program(&vec![1.0; out * inp], out, inp, mapping, &ideal, 0, 0)
    };
    let (k, v) = (shape(len, d)?, shape(d, len)?);
    let (k_cells, k_rows) = written(&k);
    let (v_cells, v_rows) = written(&v);
    Ok(HeadCost {
        events: k.events(len) + v.events(len),
        cell_writes: k_cells + v_cells,
        row_writes: k_rows + v_rows,
        layouts: [
            MatrixLayout::of("attention.key", &k, len as u64),
            MatrixLayout::of("attention.value", &v, len as u64),
        ],
    })
}
