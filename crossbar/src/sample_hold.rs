//! Sample-and-hold circuits between the columns and the ADCs.
//!
//! Each column's output of each input cycle is sampled once and held while a (possibly
//! time-shared, see `AdcConfig::columns_per_adc`) ADC converts it. The S&H is modelled as
//! ideal: the held value is the column current of that cycle, with no droop or charge
//! injection, so it only contributes events (≈10 nW each in ISAAC, ISCA 2016).

/// S&H samples of one tile MVM: one per converted column per cycle per input vector.
pub fn samples(vectors: usize, cycles: usize, columns: usize) -> u64 {
    (vectors * cycles * columns) as u64
}
