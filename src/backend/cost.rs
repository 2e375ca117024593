//! Energy, latency and area of one inference on the modelled chip.
//!
//! What is counted, per sequence of L tokens:
//! * each analog linear: the mapping's closed-form events for L token vectors (one for the
//!   pooler and classifier, which see only [CLS]): ADC conversions, DAC row drives, cell
//!   reads, S&H samples, shift-and-adds, adder-tree additions, buffer bits. Conversions of
//!   an ideal ADC (resolution 0) have no hardware and are left out;
//! * the periphery of each encoder layer as [`PeripheryConfig::encoder_layer_ops`] gives it
//!   (score scaling and mask, softmax, GELU, residual adds, two LayerNorms), plus the
//!   embedding LayerNorm, the pooler's tanh, and one fp32 bias add per output of every
//!   linear (the bias is added digitally after the crossbar);
//! * linears left digital: one fp32 multiply and one fp32 add per multiply-accumulate,
//!   priced as periphery work;
//! * the attention products Q·Kᵀ and P·V at the periphery's attention precision
//!   ([`PeripheryConfig::encoder_attention_ops`]), priced as attention.
//!
//! Energy, event counts and latency are all linear in the number of token vectors, so the
//! figures for a set of sequences are computed once over all of them and divided by the
//! number of sequences: the mean per inference. Per token divides by the mean length.
//! Latency and area follow [`crate::energy::estimate`] (its assumptions are documented
//! there): every analog matrix runs its MVMs one after another in model order.

use serde::Serialize;

use super::AnalogModel;
use crate::energy::{
    self, area, latency, AreaBreakdown, EnergyBreakdown, MatrixLayout, TechnologyTable,
};
use crate::periphery::{EncoderLayerShape, OpCounts};

/// A linear layer computed digitally (its multiply-accumulates are counted).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DigitalLinearShape {
    pub name: String,
    pub in_features: usize,
    pub out_features: usize,
    /// True for encoder linears (one product per token), false for the pooler and the
    /// classifier (one per sequence).
    pub per_token: bool,
}

/// The cost of one mean inference over a set of sequences.
#[derive(Clone, Debug, Serialize)]
pub struct InferenceCost {
    /// Sequences averaged over.
    pub inferences: usize,
    pub tokens_per_inference: f64,
    /// Events of all the sequences together.
    pub events_total: energy::EventCounts,
    /// Energy of one mean inference, pJ, by component.
    pub energy_pj: EnergyBreakdown,
    /// `energy_pj` divided by the mean tokens per inference.
    pub energy_per_token_pj: EnergyBreakdown,
    /// Latency of one mean inference, ns.
    pub latency_ns: f64,
    /// Area of the arrays and their converters, mm².
    pub area_mm2: AreaBreakdown,
    /// Crossbar arrays the analog layers occupy.
    pub arrays: u64,
}

/// Converts the mapping's event counts into the energy roll-up's. DAC drives are recorded
/// under the bits one drive resolves (`min(dac_bits, input_bits)`).
pub fn energy_events(e: &crossbar::EventCounts, dac_bits: u8) -> energy::EventCounts {
    let mut out = energy::EventCounts {
        cell_reads: e.cell_reads,
        sample_hold_samples: e.sample_holds,
        shift_add_ops: e.shift_adds,
        adder_tree_ops: e.adder_tree_ops,
        buffer_bits: e.buffer_bits,
        ..Default::default()
    };
    for (&bits, &n) in &e.adc_conversions {
        // An ideal ADC (key 0) is a modelling device, not hardware: it costs nothing.
        if bits > 0 {
            *out.adc_conversions.entry(bits as u32).or_default() += n;
        }
    }
    if e.dac_drives > 0 {
        out.dac_drives.insert(dac_bits as u32, e.dac_drives);
    }
    out
}

/// See the module docs.
pub fn inference_cost(
    model: &AnalogModel,
    lengths: &[usize],
    tech: &TechnologyTable,
) -> anyhow::Result<InferenceCost> {
    if lengths.is_empty() {
        anyhow::bail!("cost per inference: expected at least one sequence, found none");
    }
    let sequences = lengths.len();
    let tokens: usize = lengths.iter().sum();
    let vectors = |per_token: bool| if per_token { tokens } else { sequences };
    let mapping = &model.hardware.mapping;
    let dac_bits = mapping.dac.dac_bits.min(mapping.input_bits);

    let mut events = energy::EventCounts::default();
    let mut layouts = Vec::new();
    for layer in model.layers() {
        let per_token = layer.name().contains('.');
        let n = vectors(per_token);
        layer.with_matrix(|m| {
            events += energy_events(&m.events(n), dac_bits);
            layouts.push(matrix_layout(layer.name(), m, n as u64));
        });
        events.periphery.fp32_add += (n * layer.with_matrix(|m| m.out_features())) as u64;
    }
    for d in &model.digital {
        let macs = (vectors(d.per_token) * d.in_features * d.out_features) as u64;
        events.periphery.fp32_mult += macs;
        events.periphery.fp32_add += macs + (vectors(d.per_token) * d.out_features) as u64;
    }
    let (periphery, attention) = digital_ops(model, lengths);
    events.periphery += periphery;
    events.attention += attention;

    let total = energy::energy(&events, tech)?;
    let per_inference = total.per(sequences as f64);
    let tokens_per_inference = tokens as f64 / sequences as f64;
    Ok(InferenceCost {
        inferences: sequences,
        tokens_per_inference,
        energy_per_token_pj: per_inference.per(tokens_per_inference),
        energy_pj: per_inference,
        events_total: events,
        latency_ns: latency(&layouts, 0, tech)?.total_ns / sequences as f64,
        area_mm2: area(&layouts, tech)?,
        arrays: layouts.iter().map(|l| l.arrays).sum(),
    })
}

/// How one analog matrix sits on the chip, running `mvms` MVMs.
pub fn matrix_layout(name: &str, m: &mapping::MappedMatrix, mvms: u64) -> MatrixLayout {
    let report = m.report();
    let adc = &m.config().adc;
    MatrixLayout {
        name: name.to_string(),
        arrays: report.arrays as u64,
        array_rows: report.array_rows as u32,
        array_cols: report.array_cols as u32,
        columns_per_adc: adc.columns_per_adc,
        adc_bits: adc.adc_bits as u32,
        cycles_per_mvm: report.input_cycles as u32,
        mvms,
    }
}

/// Periphery and attention operations of the sequences, outside the linear layers.
fn digital_ops(model: &AnalogModel, lengths: &[usize]) -> (OpCounts, OpCounts) {
    let c = &model.config;
    let p = &model.hardware.periphery;
    let mut periphery = OpCounts::default();
    let mut attention = OpCounts::default();
    let layers = c.num_hidden_layers as u64;
    for &seq in lengths {
        let shape = EncoderLayerShape {
            seq,
            hidden: c.hidden_size,
            heads: c.num_attention_heads,
            intermediate: c.intermediate_size,
        };
        periphery += p.encoder_layer_ops(&shape) * layers;
        periphery += p.layernorm.counts(c.hidden_size) * seq as u64;
        periphery.fp32_tanh += c.hidden_size as u64;
        attention += p.encoder_attention_ops(&shape) * layers;
    }
    (periphery, attention)
}
