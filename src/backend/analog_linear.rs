//! One linear layer of the model on crossbars: a [`MappedMatrix`] programmed once per chip
//! instance, the bias added digitally after the ADCs and shift-and-add.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use crossbar::EventCounts;
use mapping::MappedMatrix;

use crate::model::{BatchId, LinearInfo, LinearOp, Matrix};

/// A programmed linear layer, with the events its forward passes caused.
///
/// `LinearOp::forward` cannot return an error (the digital product never fails), so a
/// mapping error (which a correctly built model cannot produce: shapes are fixed and
/// calibration happens before inference) is recorded here, the output is NaN, and the
/// backend reports the error after the run ([`AnalogLinear::error`]).
pub struct AnalogLinear {
    info: LinearInfo,
    /// `info.name` as text, `<layer>.<kind>`.
    name: String,
    bias: Vec<f32>,
    matrix: RwLock<MappedMatrix>,
    /// Forward passes still to calibrate on, set by the backend: one per use of the layer
    /// in a forward pass of the model.
    calibrating: AtomicUsize,
    /// The inputs of the calibrating passes so far: a layer shared by several layers of the
    /// model (ALBERT) calibrates on the inputs of every use, so its ranges cover them all.
    calibration_inputs: Mutex<Vec<f32>>,
    measured: Mutex<Measured>,
    error: Mutex<Option<String>>,
}

/// Events of every forward pass since the last reset.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub events: EventCounts,
    /// Token rows processed.
    pub tokens: u64,
}

impl AnalogLinear {
    pub fn new(info: LinearInfo, matrix: MappedMatrix, bias: Vec<f32>) -> Self {
        Self {
            name: info.name.to_string(),
            info,
            bias,
            matrix: RwLock::new(matrix),
            calibrating: AtomicUsize::new(0),
            calibration_inputs: Mutex::new(Vec::new()),
            measured: Mutex::new(Measured::default()),
            error: Mutex::new(None),
        }
    }

    /// The layer's name `<layer>.<kind>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the model says about this linear (its checkpoint name, how often it runs).
    pub fn info(&self) -> &LinearInfo {
        &self.info
    }

    /// Makes the next forward pass of the model first calibrate the ranges on this layer's
    /// input: on the inputs of all its uses so far, at each use.
    pub fn calibrate_on_next_forward(&self) {
        self.calibrating.store(self.info.uses, Ordering::SeqCst);
    }

    /// Read access to the programmed matrix (layout, report, closed-form events).
    pub fn with_matrix<T>(&self, f: impl FnOnce(&MappedMatrix) -> T) -> T {
        f(&self.matrix.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Events and tokens of the forward passes since the last [`AnalogLinear::take_measured`].
    pub fn take_measured(&self) -> Measured {
        std::mem::take(&mut *self.measured.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The first error a forward pass hit, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn fail(&self, what: impl std::fmt::Display) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert_with(|| format!("analog layer {}: {what}", self.name));
    }

    /// Calibrates on `x` and the inputs of the earlier uses of this calibrating pass.
    fn calibrate(&self, x: &Matrix, last_use: bool) {
        let mut inputs = self
            .calibration_inputs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        inputs.extend_from_slice(x.as_slice());
        let rows = inputs.len() / x.cols();
        let mut m = self.matrix.write().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = m.calibrate(&inputs, rows) {
            self.fail(format_args!("calibration: {e}"));
        }
        if last_use {
            *inputs = Vec::new();
        }
    }
}

impl LinearOp for AnalogLinear {
    fn forward(&self, x: &Matrix, batch: BatchId<'_>) -> Matrix {
        let calibrating = self
            .calibrating
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if let Ok(remaining) = calibrating {
            self.calibrate(x, remaining == 1);
        }
        let out = self.bias.len();
        let reads = batch.read_ids(x.rows());
        let result = self.with_matrix(|m| m.forward(x.as_slice(), x.rows(), &reads));
        match result {
            Ok((mut y, events)) => {
                for row in y.chunks_exact_mut(out) {
                    row.iter_mut().zip(&self.bias).for_each(|(v, b)| *v += b);
                }
                let mut measured = self.measured.lock().unwrap_or_else(|p| p.into_inner());
                measured.events += events;
                measured.tokens += x.rows() as u64;
                Matrix::from_vec(x.rows(), out, y)
            }
            Err(e) => {
                self.fail(e);
                Matrix::from_vec(x.rows(), out, vec![f32::NAN; x.rows() * out])
            }
        }
    }
}
