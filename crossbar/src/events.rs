//! Exact counts of the hardware events one or many MVMs cause.
//!
//! Counts are facts of the mapping (how many conversions, drives, reads happened); energies
//! are assumptions a technology table multiplies them by later. Every field counts single
//! events, never energy, and [`EventCounts`] adds up with `+` / `+=` so a tile's counts roll
//! up into a matrix's, a layer's and an inference's.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::{Add, AddAssign};

/// Events of the analog tiles and of the digital periphery that belongs to them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// ADC conversions, keyed by ADC resolution in bits. Key 0 counts conversions of an
    /// ideal (unquantized) ADC, which has no hardware energy of its own.
    pub adc_conversions: BTreeMap<u8, u64>,
    /// Row drives by a DAC, keyed by the bits one drive resolves (the DAC's resolution,
    /// at most the input's bits): one per active row per input cycle per input vector.
    pub dac_drives: BTreeMap<u8, u64>,
    /// Cell reads: one per active cell per input cycle per input vector.
    pub cell_reads: u64,
    /// Sample-and-hold samples: one per converted column per input cycle per vector.
    pub sample_holds: u64,
    /// Shift-and-add operations: each addition of a (shifted) digitized partial result into
    /// an accumulator, over input cycles, weight slices and the subtraction of the
    /// negative / reference column.
    pub shift_adds: u64,
    /// Adder-tree additions that reduce partial sums of arrays sharing output columns.
    pub adder_tree_ops: u64,
    /// Bits moved through on-chip buffers (inputs read, outputs written).
    pub buffer_bits: u64,
    /// Digital multiplies of array outputs by a per-array gain: a drift-compensation gain
    /// and/or a per-array weight scale (one multiply per output of an array when either is
    /// there; the two fold into one).
    pub array_gain_multiplies: u64,
    /// Digital multiply-adds of a digital offset correction: the sum of each token's input
    /// codes over each array's rows, and one multiply of that sum per output slice.
    pub offset_ops: u64,
}

impl EventCounts {
    /// Total ADC conversions at any resolution.
    pub fn total_adc_conversions(&self) -> u64 {
        self.adc_conversions.values().sum()
    }

    /// Total DAC row drives at any resolution.
    pub fn total_dac_drives(&self) -> u64 {
        self.dac_drives.values().sum()
    }

    /// Every count multiplied by `k` (e.g. per-token counts times tokens).
    pub fn scaled(&self, k: u64) -> EventCounts {
        EventCounts {
            adc_conversions: scaled(&self.adc_conversions, k),
            dac_drives: scaled(&self.dac_drives, k),
            cell_reads: self.cell_reads * k,
            sample_holds: self.sample_holds * k,
            shift_adds: self.shift_adds * k,
            adder_tree_ops: self.adder_tree_ops * k,
            buffer_bits: self.buffer_bits * k,
            array_gain_multiplies: self.array_gain_multiplies * k,
            offset_ops: self.offset_ops * k,
        }
    }
}

/// Counts by resolution, each times `k`.
fn scaled(by_bits: &BTreeMap<u8, u64>, k: u64) -> BTreeMap<u8, u64> {
    by_bits.iter().map(|(&bits, &n)| (bits, n * k)).collect()
}

/// Adds counts by resolution into `into`, merging equal resolutions.
fn merge(into: &mut BTreeMap<u8, u64>, from: &BTreeMap<u8, u64>) {
    for (&bits, &n) in from {
        *into.entry(bits).or_insert(0) += n;
    }
}

impl AddAssign<&EventCounts> for EventCounts {
    fn add_assign(&mut self, other: &EventCounts) {
        merge(&mut self.adc_conversions, &other.adc_conversions);
        merge(&mut self.dac_drives, &other.dac_drives);
        self.cell_reads += other.cell_reads;
        self.sample_holds += other.sample_holds;
        self.shift_adds += other.shift_adds;
        self.adder_tree_ops += other.adder_tree_ops;
        self.buffer_bits += other.buffer_bits;
        self.array_gain_multiplies += other.array_gain_multiplies;
        self.offset_ops += other.offset_ops;
    }
}

impl AddAssign for EventCounts {
    fn add_assign(&mut self, other: EventCounts) {
        *self += &other;
    }
}

impl Add for EventCounts {
    type Output = EventCounts;
    fn add(mut self, other: EventCounts) -> EventCounts {
        self += &other;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_merges_resolutions_and_sums_fields() {
        let mut a = EventCounts {
            dac_drives: BTreeMap::from([(1, 3)]),
            cell_reads: 5,
            ..Default::default()
        };
        a.adc_conversions.insert(8, 10);
        let mut b = EventCounts {
            dac_drives: BTreeMap::from([(1, 1), (4, 2)]),
            shift_adds: 2,
            ..Default::default()
        };
        b.adc_conversions.insert(8, 1);
        b.adc_conversions.insert(4, 7);
        let c = a.clone() + b;
        assert_eq!(c.adc_conversions[&8], 11);
        assert_eq!(c.adc_conversions[&4], 7);
        assert_eq!(c.dac_drives, BTreeMap::from([(1, 4), (4, 2)]));
        assert_eq!(c.total_dac_drives(), 6);
        assert_eq!(c.cell_reads, 5);
        assert_eq!(c.shift_adds, 2);
        assert_eq!(c.total_adc_conversions(), 18);
        assert_eq!(a.scaled(3).adc_conversions[&8], 30);
    }
}
