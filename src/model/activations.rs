//! The feed-forward activation a checkpoint names (`hidden_act`: GELU with erf, its tanh
//! form, or ReLU), computed with the exact functions of [`crate::periphery::exact`], the
//! one home of every exact non-linear function (softmax and LayerNorm included).

use crate::periphery::exact::{gelu_erf, gelu_tanh};
use crate::periphery::{Gelu, OpCounts, PeripheryConfig};
use serde::{Deserialize, Serialize};

/// The feed-forward activation named by `hidden_act` in a Hugging Face `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum HiddenAct {
    /// GELU with the exact Gaussian CDF, `x·Φ(x) = ½x(1 + erf(x/√2))` (Hugging Face "gelu").
    #[default]
    #[serde(rename = "gelu")]
    Gelu,
    /// GELU's tanh approximation `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`, named "gelu_new"
    /// (and "gelu_pytorch_tanh", the same function) in Hugging Face configs.
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluTanh,
    /// `max(0, x)`.
    #[serde(rename = "relu")]
    Relu,
}

impl HiddenAct {
    /// Operations on one row of `cols` values, as the periphery prices them: erf and tanh
    /// GELU as [`Gelu::Erf`] and [`Gelu::Tanh`], ReLU one compare per value.
    pub fn counts(self, cols: usize) -> OpCounts {
        match self {
            HiddenAct::Gelu => Gelu::Erf.counts(cols),
            HiddenAct::GeluTanh => Gelu::Tanh.counts(cols),
            HiddenAct::Relu => OpCounts {
                compare: cols as u64,
                ..Default::default()
            },
        }
    }

    /// Operations on one row of `cols` values as a periphery `p` computes this activation:
    /// the table and integer GELUs replace it, the float choices keep it (see
    /// [`crate::model::SequenceClassifier::set_periphery`]), so `gelu = "tanh"` on an erf
    /// checkpoint computes erf and is priced as erf.
    pub fn periphery_counts(self, p: &PeripheryConfig, cols: usize) -> OpCounts {
        match p.gelu {
            Gelu::Erf | Gelu::Tanh => self.counts(cols),
            ref approximation => approximation.counts(cols),
        }
    }

    /// Applies the activation in place to every value.
    ///
    /// On x86-64 CPUs with AVX2 the same code is compiled a second time for 8-wide vectors
    /// (the default target only guarantees 4-wide SSE2). The results are bit-identical:
    /// Rust never fuses a multiply and an add on its own, so only the vector width changes.
    pub fn apply(self, values: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { self.apply_avx2(values) };
            return;
        }
        self.apply_portable(values);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(self, values: &mut [f32]) {
        self.apply_portable(values);
    }

    #[inline(always)]
    fn apply_portable(self, values: &mut [f32]) {
        match self {
            HiddenAct::Gelu => values.iter_mut().for_each(|v| *v = gelu_erf(*v)),
            HiddenAct::GeluTanh => values.iter_mut().for_each(|v| *v = gelu_tanh(*v)),
            HiddenAct::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
    }
}
