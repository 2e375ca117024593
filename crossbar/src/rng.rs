//! Deterministic random streams.
//!
//! Every random draw in crossbert derives from a [`StreamKey`]: the chip-instance seed, the
//! matrix (a BERT linear layer, or any matrix a mapping study programs), the tile within it,
//! the physical purpose of the draw, and an index (for example which MVM a read-noise draw
//! belongs to). Streams are independent of thread scheduling because no stream is shared
//! between two pieces of work: each piece of work opens its own stream from its own key.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a random draw models. Part of the key (as its [`Purpose::tag`]), so two effects
/// never share a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Programming variation of each cell (once per chip instance).
    Programming,
    /// Stuck-at fault map (once per chip instance).
    StuckAt,
    /// Per-device drift / relaxation parameters (once per chip instance).
    Drift,
    /// Per-read noise of the devices (once per read; `index` is the read id, see
    /// `crate::tile`).
    ReadNoise,
    /// Write noise of cells written at inference time (attention on crossbars).
    Write,
    /// Choice of calibration examples.
    Calibration,
    /// The 1/f deviation accumulated until the read time (once per chip instance).
    AccumulatedNoise,
    /// Input-referred noise of the ADC (once per conversion; `index` is the read id).
    AdcNoise,
    /// A draw of software built on this crate (synthetic weights, training), numbered by
    /// it: any tag not in [`Purpose::PHYSICS_TAGS`].
    Application(u32),
}

impl Purpose {
    /// The tags of the purposes above `Application`, which an application's tags avoid.
    pub const PHYSICS_TAGS: [u32; 8] = [1, 2, 3, 4, 5, 6, 9, 10];

    /// The number the purpose enters its stream key as.
    pub const fn tag(self) -> u32 {
        match self {
            Purpose::Programming => 1,
            Purpose::StuckAt => 2,
            Purpose::Drift => 3,
            Purpose::ReadNoise => 4,
            Purpose::Write => 5,
            Purpose::Calibration => 6,
            Purpose::AccumulatedNoise => 9,
            Purpose::AdcNoise => 10,
            Purpose::Application(tag) => tag,
        }
    }
}

/// The identity of one random stream: (seed, matrix, tile, purpose, index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub seed: u64,
    pub matrix: u32,
    pub tile: u32,
    pub purpose: Purpose,
    pub index: u64,
}

impl StreamKey {
    pub fn new(seed: u64, matrix: u32, tile: u32, purpose: Purpose) -> Self {
        Self {
            seed,
            matrix,
            tile,
            purpose,
            index: 0,
        }
    }

    /// The same key for another index (e.g. the n-th MVM's read noise).
    pub fn with_index(self, index: u64) -> Self {
        Self { index, ..self }
    }

    /// The same key for another purpose.
    pub fn with_purpose(self, purpose: Purpose) -> Self {
        Self { purpose, ..self }
    }

    /// Opens the stream. ChaCha8 is fast and its streams for distinct 256-bit seeds are
    /// independent; the key's fields are mixed with SplitMix64 so that nearby keys (seed 1
    /// and seed 2) give unrelated seeds.
    pub fn rng(&self) -> ChaCha8Rng {
        let words = [
            self.seed,
            ((self.matrix as u64) << 32) | self.tile as u64,
            self.purpose.tag() as u64,
            self.index,
        ];
        let mut state = 0x243F_6A88_85A3_08D3u64; // digits of pi: any fixed start works
        let mut seed = [0u8; 32];
        for (chunk, word) in seed.chunks_exact_mut(8).zip(words) {
            state = splitmix64(state ^ splitmix64(word));
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        ChaCha8Rng::from_seed(seed)
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_key_same_stream_distinct_keys_differ() {
        let k = StreamKey::new(7, 3, 11, Purpose::Programming);
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = k.rng();
                move |_| r.random()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = k.rng();
                move |_| r.random()
            })
            .collect();
        assert_eq!(a, b);
        for other in [
            StreamKey::new(8, 3, 11, Purpose::Programming),
            StreamKey::new(7, 4, 11, Purpose::Programming),
            StreamKey::new(7, 3, 12, Purpose::Programming),
            k.with_purpose(Purpose::ReadNoise),
            k.with_index(1),
        ] {
            let c: u64 = other.rng().random();
            assert_ne!(a[0], c, "{other:?} collides with {k:?}");
        }
    }
}
