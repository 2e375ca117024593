//! The inner loops of a tile's MVM, apart from the physics they compute: [`crate::tile`]
//! says what is summed, converted and added, and in which order; these say how it runs fast.
//!
//! * [`popcount`]: tiles on exact levels ([`crate::bit_planes`]) under 1-bit drives.
//! * [`subset_sums`](mod@subset_sums): any conductances under 1-bit drives, by 4-row
//!   subset-sum tables.
//! * [`gemm`](mod@gemm): the float matrix product of every other drive.
//!
//! Each SIMD kernel is one portable body, `#[inline(always)]`, compiled again inside
//! `#[target_feature]` wrappers (AVX-512, AVX2, POPCNT) between which a dispatcher picks at
//! run time from the CPU's features. Every build performs the same additions in the same
//! order, so results do not depend on the CPU. They live apart from the tile so that a
//! kernel can be made faster without touching what it computes, which the tile's tests
//! check against its plain paths.

mod gemm;
mod popcount;
mod subset_sums;

pub(crate) use gemm::gemm;
pub(crate) use popcount::{levels_max_current, levels_mvm};
pub(crate) use subset_sums::{accumulate, accumulate_converted, subset_sums};
