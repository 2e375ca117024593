//! crossbert's own random draws, beside the chip's physics: each a
//! [`Purpose::Application`] tag of the `crossbar` crate's stream keys, so that every draw,
//! physical or not, still derives from (seed, matrix, tile, purpose, index).

use crossbar::Purpose;

/// What a draw of crossbert (not of the device or converter models) is for. The numbers are
/// the stream tags; changing one changes every result that draws from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draw {
    /// Random weights of a synthetic checkpoint (`crossbert synth-checkpoint`); `matrix`
    /// numbers the tensor.
    SyntheticWeights = 7,
    /// Random token ids of benchmark sequences (`crossbert bench --scale`); `index` numbers
    /// the sequence.
    BenchmarkInputs = 8,
    /// A new classification head's initial weights (`crossbert finetune`); `matrix`
    /// numbers the tensor.
    HeadInit = 11,
    /// The order of the training examples (`crossbert finetune`); `index` is the epoch.
    TrainingOrder = 12,
    /// Dropout masks during training; `matrix` names the site, `index` the step.
    Dropout = 13,
    /// Weight noise injected during hardware-aware training; `matrix` numbers the
    /// tensor, `index` the step.
    TrainingNoise = 14,
    /// The training chip instances of chip-in-the-loop training: instance k's programming
    /// seed is drawn from (training seed, this tag, `index` k), so no training chip is one
    /// of the evaluation chips (seeds 0, 1, 2, …).
    TrainingChip = 15,
}

impl From<Draw> for Purpose {
    fn from(draw: Draw) -> Self {
        Purpose::Application(draw as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_draw_shares_a_tag_with_the_physics() {
        for draw in [
            Draw::SyntheticWeights,
            Draw::BenchmarkInputs,
            Draw::HeadInit,
            Draw::TrainingOrder,
            Draw::Dropout,
            Draw::TrainingNoise,
            Draw::TrainingChip,
        ] {
            assert!(
                !Purpose::PHYSICS_TAGS.contains(&(draw as u32)),
                "{draw:?} uses a physics tag"
            );
        }
    }
}
