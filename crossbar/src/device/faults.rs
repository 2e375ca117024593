//! Stuck-at faults: cells that ignore programming and sit at one end of the range.
//!
//! A stuck cell is named by the conductance it is stuck at, because the literature's
//! "SA0/SA1" and "stuck-on/off" are used with both meanings:
//! * [`StuckAt::GMax`]: stuck at G_max (the low-resistance state, LRS, "stuck on");
//! * [`StuckAt::GMin`]: stuck at G_min (the high-resistance state, HRS, "stuck off").
//!
//! Rates are fractions of cells. Measured on a 4-Mb HfO₂ RRAM test chip, Chen et al. 2015
//! (IEEE Trans. Computers 64(1):180–190, "RRAM defect modeling and failure analysis based
//! on march test and a novel squeeze-search scheme") report 1.75 % and 9.04 % for the two
//! stuck states. Fault-tolerance papers cite them as 1.75 % stuck-at-0 and 9.04 %
//! stuck-at-1, where stuck-at-0 is the high-resistance state; [`StuckAtFaults::chen2015`]
//! follows that reading: 9.04 % stuck at G_max and 1.75 % at G_min. MNSIM's default is 0.1 % each
//! ([`StuckAtFaults::mnsim`]). Both defaults here are 0.
//!
//! Layouts ([`FaultLayout`]) keep the *expected fraction of stuck cells* equal to the rates,
//! and change only how faults cluster:
//! * `independent`: each cell on its own is stuck at G_max with probability p_max, else at
//!   G_min with probability p_min;
//! * `rows`: each whole row (word line) is stuck at G_max with probability p_max, else at
//!   G_min with probability p_min — every cell of a faulty row shares the fault;
//! * `columns`: the same per whole column (bit line).
//!
//! The fault map depends only on the rates, the layout, the array shape and the stream key
//! (purpose [`Purpose::StuckAt`](crate::Purpose::StuckAt)), never on the levels programmed,
//! so a fault-aware mapper can learn it before choosing levels.

use crate::error::ConfigError;
use crate::rng::StreamKey;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// Which end of the conductance range a faulty cell is stuck at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StuckAt {
    /// Stuck at G_max (LRS).
    GMax,
    /// Stuck at G_min (HRS).
    GMin,
}

impl StuckAt {
    /// Name used in exported fault maps: `g_max` or `g_min`.
    pub fn as_str(self) -> &'static str {
        match self {
            StuckAt::GMax => "g_max",
            StuckAt::GMin => "g_min",
        }
    }
}

/// How faults cluster; see the module docs for the exact meaning of the rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultLayout {
    #[default]
    Independent,
    Rows,
    Columns,
}

/// Stuck-at fault rates and layout. Default: no faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StuckAtFaults {
    /// Fraction of cells (or rows/columns) stuck at G_max, in [0, 1].
    pub rate_g_max: f64,
    /// Fraction of cells (or rows/columns) stuck at G_min, in [0, 1].
    pub rate_g_min: f64,
    /// Independent cells, whole rows or whole columns.
    pub layout: FaultLayout,
}

impl StuckAtFaults {
    /// Chen et al. 2015, measured on a ReRAM chip: 9.04 % at G_max, 1.75 % at G_min
    /// (independent cells).
    pub fn chen2015() -> Self {
        Self {
            rate_g_max: 0.0904,
            rate_g_min: 0.0175,
            layout: FaultLayout::Independent,
        }
    }

    /// MNSIM 2.0 default: 0.1 % at each end (independent cells).
    pub fn mnsim() -> Self {
        Self {
            rate_g_max: 0.001,
            rate_g_min: 0.001,
            layout: FaultLayout::Independent,
        }
    }

    pub fn is_none(&self) -> bool {
        self.rate_g_max == 0.0 && self.rate_g_min == 0.0
    }

    /// Rates in [0, 1] whose sum is at most 1.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        for (name, rate) in [
            ("rate_g_max", self.rate_g_max),
            ("rate_g_min", self.rate_g_min),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(ConfigError::new(
                    format!("{key}.{name}"),
                    "a fraction in [0, 1]",
                    rate,
                ));
            }
        }
        let total = self.rate_g_max + self.rate_g_min;
        if total > 1.0 {
            return Err(ConfigError::new(
                format!("{key}.rate_g_min"),
                format!(
                    "at most 1 − rate_g_max = {} (the two rates sum to more than 1)",
                    1.0 - self.rate_g_max
                ),
                self.rate_g_min,
            ));
        }
        Ok(())
    }

    /// The fault, if any, of one unit (cell, row or column) given a uniform draw u ∈ [0, 1).
    fn classify(&self, u: f64) -> Option<StuckAt> {
        if u < self.rate_g_max {
            Some(StuckAt::GMax)
        } else if u < self.rate_g_max + self.rate_g_min {
            Some(StuckAt::GMin)
        } else {
            None
        }
    }
}

/// One stuck cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckCell {
    pub row: u32,
    pub col: u32,
    pub kind: StuckAt,
}

/// Every stuck cell of one array, in row-major order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultMap {
    pub rows: usize,
    pub cols: usize,
    pub cells: Vec<StuckCell>,
}

impl FaultMap {
    /// The fault of cell (row, col), if it has one (binary search; the map is row-major).
    pub fn at(&self, row: usize, col: usize) -> Option<StuckAt> {
        let key = (row as u32, col as u32);
        self.cells
            .binary_search_by_key(&key, |c| (c.row, c.col))
            .ok()
            .map(|i| self.cells[i].kind)
    }

    /// Number of cells stuck at `kind`.
    pub fn count(&self, kind: StuckAt) -> usize {
        self.cells.iter().filter(|c| c.kind == kind).count()
    }

    /// Writes the map as CSV with header `row,col,kind` (kind `g_max` or `g_min`).
    pub fn write_csv<W: Write>(&self, mut out: W) -> io::Result<()> {
        writeln!(out, "row,col,kind")?;
        for c in &self.cells {
            writeln!(out, "{},{},{}", c.row, c.col, c.kind.as_str())?;
        }
        Ok(())
    }
}

/// Samples the fault map of a rows×cols array from `key` (its purpose is replaced by
/// [`Purpose::StuckAt`](crate::Purpose::StuckAt)).
pub fn sample_fault_map(cfg: &StuckAtFaults, rows: usize, cols: usize, key: StreamKey) -> FaultMap {
    let mut map = FaultMap {
        rows,
        cols,
        cells: Vec::new(),
    };
    if cfg.is_none() {
        return map;
    }
    let mut rng = key.with_purpose(crate::rng::Purpose::StuckAt).rng();
    match cfg.layout {
        FaultLayout::Independent => {
            for row in 0..rows {
                for col in 0..cols {
                    if let Some(kind) = cfg.classify(rng.random()) {
                        map.cells.push(stuck(row, col, kind));
                    }
                }
            }
        }
        FaultLayout::Rows => {
            let per_row: Vec<_> = (0..rows).map(|_| cfg.classify(rng.random())).collect();
            for (row, kind) in per_row.into_iter().enumerate() {
                if let Some(kind) = kind {
                    map.cells.extend((0..cols).map(|col| stuck(row, col, kind)));
                }
            }
        }
        FaultLayout::Columns => {
            let per_col: Vec<_> = (0..cols).map(|_| cfg.classify(rng.random())).collect();
            for row in 0..rows {
                for (col, kind) in per_col.iter().enumerate() {
                    if let Some(kind) = *kind {
                        map.cells.push(stuck(row, col, kind));
                    }
                }
            }
        }
    }
    map
}

fn stuck(row: usize, col: usize, kind: StuckAt) -> StuckCell {
    StuckCell {
        row: row as u32,
        col: col as u32,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Purpose;

    #[test]
    fn rates_outside_unit_interval_or_summing_above_one_are_rejected() {
        let mut f = StuckAtFaults {
            rate_g_max: 1.5,
            ..Default::default()
        };
        assert_eq!(
            f.validate("d.stuck_at").unwrap_err().key,
            "d.stuck_at.rate_g_max"
        );
        f.rate_g_max = 0.6;
        f.rate_g_min = -0.1;
        assert_eq!(
            f.validate("d.stuck_at").unwrap_err().key,
            "d.stuck_at.rate_g_min"
        );
        f.rate_g_min = 0.5;
        let err = f.validate("d.stuck_at").unwrap_err();
        assert_eq!(err.key, "d.stuck_at.rate_g_min");
        assert!(err.expected.contains("sum"));
        assert!(StuckAtFaults::chen2015().validate("d").is_ok());
    }

    #[test]
    fn csv_export_and_lookup() {
        let cfg = StuckAtFaults {
            rate_g_max: 0.2,
            rate_g_min: 0.2,
            layout: FaultLayout::Independent,
        };
        let key = StreamKey::new(5, 0, 0, Purpose::StuckAt);
        let map = sample_fault_map(&cfg, 8, 8, key);
        assert!(!map.cells.is_empty());
        let mut csv = Vec::new();
        map.write_csv(&mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("row,col,kind"));
        assert_eq!(lines.count(), map.cells.len());
        for c in &map.cells {
            assert_eq!(map.at(c.row as usize, c.col as usize), Some(c.kind));
        }
        let healthy = (0..8)
            .flat_map(|r| (0..8).map(move |c| (r, c)))
            .filter(|&(r, c)| map.at(r, c).is_none())
            .count();
        assert_eq!(healthy + map.cells.len(), 64);
    }
}
