//! Digital operation counts by kind.
//!
//! Every periphery function returns how many operations of each kind it performed, so that
//! energy is charged per implementation: a float softmax spends exponentials and a divide, a
//! fixed-point one spends table lookups and integer multiplies. The kinds are those a
//! per-operation energy table (Horowitz, ISSCC 2014) prices; integer widths are the operand
//! widths the hardware needs, rounded up to 8, 16, 32 or 64 bits.

use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign, Mul};

/// Counts of digital operations by kind. Plain data: add them, scale them, price them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpCounts {
    /// 8-bit integer additions (and subtractions).
    pub int8_add: u64,
    /// 8-bit × 8-bit integer multiplications.
    pub int8_mult: u64,
    /// 16-bit integer additions.
    pub int16_add: u64,
    /// 16-bit × 16-bit integer multiplications.
    pub int16_mult: u64,
    /// 32-bit integer additions.
    pub int32_add: u64,
    /// 32-bit × 32-bit integer multiplications.
    pub int32_mult: u64,
    /// 64-bit integer additions (wide accumulators, e.g. a sum of squares).
    pub int64_add: u64,
    /// Integer divisions (up to 64-bit dividend), one quotient per operation.
    pub int_div: u64,
    /// Barrel shifts by a data-dependent or constant amount.
    pub shift: u64,
    /// Comparisons (max search, clipping, sign tests), integer or float.
    pub compare: u64,
    /// Reads of a small lookup table (≤ 1 KB).
    pub table_lookup: u64,
    /// fp32 additions (and subtractions).
    pub fp32_add: u64,
    /// fp32 multiplications.
    pub fp32_mult: u64,
    /// fp32 divisions.
    pub fp32_div: u64,
    /// fp32 exponentials.
    pub fp32_exp: u64,
    /// fp32 square roots.
    pub fp32_sqrt: u64,
    /// fp32 error functions.
    pub fp32_erf: u64,
    /// fp32 hyperbolic tangents.
    pub fp32_tanh: u64,
}

/// Integer operand width class of a value needing `bits` bits (sign included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntWidth {
    W8,
    W16,
    W32,
    W64,
}

impl IntWidth {
    /// The narrowest class holding `bits` bits.
    pub fn for_bits(bits: u32) -> IntWidth {
        match bits {
            0..=8 => IntWidth::W8,
            9..=16 => IntWidth::W16,
            17..=32 => IntWidth::W32,
            _ => IntWidth::W64,
        }
    }
}

impl OpCounts {
    /// `n` additions of `width`-wide integers.
    pub fn int_add(width: IntWidth, n: u64) -> OpCounts {
        let mut c = OpCounts::default();
        match width {
            IntWidth::W8 => c.int8_add = n,
            IntWidth::W16 => c.int16_add = n,
            IntWidth::W32 => c.int32_add = n,
            IntWidth::W64 => c.int64_add = n,
        }
        c
    }

    /// `n` multiplications of `width`-wide integers. There is no 64-bit multiplier class:
    /// operands of the periphery fit 32 bits (products may be 64 bits wide).
    pub fn int_mult(width: IntWidth, n: u64) -> OpCounts {
        let mut c = OpCounts::default();
        match width {
            IntWidth::W8 => c.int8_mult = n,
            IntWidth::W16 => c.int16_mult = n,
            IntWidth::W32 | IntWidth::W64 => c.int32_mult = n,
        }
        c
    }

    /// Total number of operations of all kinds (a sanity figure, not an energy).
    pub fn total(&self) -> u64 {
        self.fields().iter().map(|(_, n)| n).sum()
    }

    /// Every kind with its count, in declaration order; names match the serde field names.
    pub fn fields(&self) -> [(&'static str, u64); 18] {
        [
            ("int8_add", self.int8_add),
            ("int8_mult", self.int8_mult),
            ("int16_add", self.int16_add),
            ("int16_mult", self.int16_mult),
            ("int32_add", self.int32_add),
            ("int32_mult", self.int32_mult),
            ("int64_add", self.int64_add),
            ("int_div", self.int_div),
            ("shift", self.shift),
            ("compare", self.compare),
            ("table_lookup", self.table_lookup),
            ("fp32_add", self.fp32_add),
            ("fp32_mult", self.fp32_mult),
            ("fp32_div", self.fp32_div),
            ("fp32_exp", self.fp32_exp),
            ("fp32_sqrt", self.fp32_sqrt),
            ("fp32_erf", self.fp32_erf),
            ("fp32_tanh", self.fp32_tanh),
        ]
    }

    fn zip_with(self, o: OpCounts, f: impl Fn(u64, u64) -> u64) -> OpCounts {
        OpCounts {
            int8_add: f(self.int8_add, o.int8_add),
            int8_mult: f(self.int8_mult, o.int8_mult),
            int16_add: f(self.int16_add, o.int16_add),
            int16_mult: f(self.int16_mult, o.int16_mult),
            int32_add: f(self.int32_add, o.int32_add),
            int32_mult: f(self.int32_mult, o.int32_mult),
            int64_add: f(self.int64_add, o.int64_add),
            int_div: f(self.int_div, o.int_div),
            shift: f(self.shift, o.shift),
            compare: f(self.compare, o.compare),
            table_lookup: f(self.table_lookup, o.table_lookup),
            fp32_add: f(self.fp32_add, o.fp32_add),
            fp32_mult: f(self.fp32_mult, o.fp32_mult),
            fp32_div: f(self.fp32_div, o.fp32_div),
            fp32_exp: f(self.fp32_exp, o.fp32_exp),
            fp32_sqrt: f(self.fp32_sqrt, o.fp32_sqrt),
            fp32_erf: f(self.fp32_erf, o.fp32_erf),
            fp32_tanh: f(self.fp32_tanh, o.fp32_tanh),
        }
    }
}

impl Add for OpCounts {
    type Output = OpCounts;
    fn add(self, o: OpCounts) -> OpCounts {
        self.zip_with(o, |a, b| a + b)
    }
}

impl AddAssign for OpCounts {
    fn add_assign(&mut self, o: OpCounts) {
        *self = *self + o;
    }
}

/// `counts * n`: the same work repeated `n` times (e.g. per row → per matrix).
impl Mul<u64> for OpCounts {
    type Output = OpCounts;
    fn mul(self, n: u64) -> OpCounts {
        self.zip_with(OpCounts::default(), |a, _| a * n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_scale_are_per_kind() {
        let a = OpCounts {
            int8_add: 1,
            fp32_tanh: 2,
            ..Default::default()
        };
        let b = OpCounts {
            int8_add: 10,
            compare: 3,
            ..Default::default()
        };
        let mut s = a;
        s += b;
        assert_eq!(s, a + b);
        assert_eq!((s.int8_add, s.compare, s.fp32_tanh), (11, 3, 2));
        assert_eq!((s * 3).total(), 3 * s.total());
        assert_eq!(s.total(), 16);
    }

    #[test]
    fn field_names_are_the_serde_names() {
        let zero = serde_json::to_value(OpCounts::default()).unwrap();
        assert_eq!(
            zero.as_object().unwrap().len(),
            OpCounts::default().fields().len()
        );
        for (i, (name, _)) in OpCounts::default().fields().into_iter().enumerate() {
            // setting the serde field `name` must show up at position i of fields()
            let mut v = zero.clone();
            v[name] = serde_json::json!(i + 1);
            let c: OpCounts = serde_json::from_value(v).unwrap();
            assert_eq!(c.fields()[i], (name, i as u64 + 1));
            assert_eq!(c.total(), i as u64 + 1);
        }
    }

    #[test]
    fn width_classes_round_up() {
        assert_eq!(IntWidth::for_bits(8), IntWidth::W8);
        assert_eq!(IntWidth::for_bits(9), IntWidth::W16);
        assert_eq!(IntWidth::for_bits(17), IntWidth::W32);
        assert_eq!(IntWidth::for_bits(33), IntWidth::W64);
        assert_eq!(OpCounts::int_mult(IntWidth::W64, 2).int32_mult, 2);
        assert_eq!(OpCounts::int_add(IntWidth::W64, 2).int64_add, 2);
    }
}
