//! Energy, latency and area of one inference on the modelled chip.
//!
//! What is counted, per sequence of L tokens:
//! * each analog linear: the mapping's closed-form events for L token vectors (one for the
//!   head's two linears, which see only the first token), times its uses (an ALBERT group
//!   serves several layers from one set of arrays): ADC conversions, DAC row drives, cell
//!   reads, S&H samples, shift-and-adds, adder-tree additions, buffer bits. With
//!   `array.energy_model = "conductance"` its cell reads cost G·V_read²·activity·pulse at
//!   the matrix's mean conductance at read time instead of the table's figure. Conversions of
//!   an ideal ADC (resolution 0) have no hardware and are left out;
//! * the periphery of each encoder layer as [`PeripheryConfig::encoder_layer_ops`] gives it
//!   (score scaling and mask, softmax, GELU, residual adds, two LayerNorms), plus the
//!   embedding LayerNorm and the head's activation (the model's
//!   [`SequenceClassifier::digital_ops`]), and one fp32 bias add per output of every
//!   linear (the bias is added digitally after the crossbar);
//! * data movement ([`super::dataflow`]): the digital stages' eDRAM reads and writes, bus
//!   bits (every analog matrix's buffer traffic), router bits × routers crossed from a
//!   placement of the matrices on tiles;
//! * power × time: the IMA registers' busy power while their matrix computes, and the
//!   chip's leakage (`chip.leakage_mw_per_mm2` × area) over the time each inference
//!   occupies the chip (the inverse throughput);
//! * linears left digital: one fp32 multiply and one fp32 add per multiply-accumulate,
//!   priced as periphery work;
//! * the attention products Q·Kᵀ and P·V at the periphery's attention precision
//!   ([`PeripheryConfig::encoder_attention_ops`]), priced as attention; or, with
//!   `[attention] mode = "crossbar"`, per layer and head the closed-form cost of writing
//!   K_h and V_hᵀ and running one MVM per token through each
//!   ([`super::attention::head_cost`]): cell writes priced as `write`, the MVMs' tile
//!   events in the ADC, DAC, array, S&H, shift-and-add, adder-tree and buffer components
//!   like any analog matrix (their share is reported separately in
//!   [`CrossbarAttentionCost::energy_pj`]), row writes in the latency.
//!
//! Energy, event counts and latency are all linear in the number of token vectors, so the
//! figures for a set of sequences are computed once over all of them and divided by the
//! number of sequences: the mean per inference. Per token divides by the mean length.
//! Latency, throughput and utilization follow the chip's schedule ([`super::schedule`]),
//! MVM times and area [`crate::energy::estimate`] (its assumptions are documented there). The area includes the
//! attention arrays sized for the longest sequence evaluated (one set for all layers when
//! `reuse_across_layers`, else one per layer).

//!
//! [`PeripheryConfig::encoder_layer_ops`]: crate::periphery::PeripheryConfig::encoder_layer_ops
//! [`PeripheryConfig::encoder_attention_ops`]: crate::periphery::PeripheryConfig::encoder_attention_ops
//! [`SequenceClassifier::digital_ops`]: crate::model::SequenceClassifier::digital_ops
use serde::Serialize;

use super::attention::head_cost;
use super::dataflow::{traffic, Placement};
use super::schedule::timing;
use super::AnalogModel;
use crate::energy::technology::ArrayEnergyModel;
use crate::energy::{
    self, area, latency, AreaBreakdown, EnergyBreakdown, LatencyEstimate, MatrixLayout,
    TechnologyTable,
};
use crate::hardware::{AttentionMode, ChipConfig};
use crate::model::LinearInfo;
use crate::periphery::OpCounts;

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
    /// Latency of one mean inference under `schedule`, ns.
    pub latency_ns: f64,
    /// The chip's schedule (`serial` or `pipelined`, see [`super::schedule`]).
    pub schedule: &'static str,
    pub throughput_inferences_per_s: f64,
    pub throughput_tokens_per_s: f64,
    /// Busy array time over available array time, 0–1.
    pub array_utilization: f64,
    /// Operations of one mean inference: 2 per multiply-accumulate of every linear and of
    /// the attention products.
    pub operations_per_inference: f64,
    /// operations_per_inference / energy: tera-operations per second per watt.
    pub tops_per_w: f64,
    /// Area of the chip, mm² (arrays, converters, and the IMA, tile and chip blocks).
    pub area_mm2: AreaBreakdown,
    /// Crossbar arrays the analog layers (and crossbar attention) occupy.
    pub arrays: u64,
    /// Writes and endurance of attention on crossbars; `None` when attention is digital.
    pub attention: Option<CrossbarAttentionCost>,
    /// One-hot reference reads of the drift compensation, all analog layers: once per chip
    /// instance and read time, not per inference (0 when compensation is off).
    pub drift_compensation_reads: u64,
}

/// What attention on write-enabled crossbars costs per inference.
#[derive(Clone, Debug, Serialize)]
pub struct CrossbarAttentionCost {
    /// Cells written per mean inference (all layers, heads, K and V, slices and signs).
    pub cell_writes_per_inference: f64,
    /// Array rows written per mean inference.
    pub row_writes_per_inference: f64,
    /// Writes of the busiest attention cell per inference.
    pub writes_per_cell_per_inference: u64,
    /// Writes a cell survives, cycles (`attention.endurance_cycles` or the energy table).
    pub endurance_cycles: f64,
    /// endurance_cycles / writes_per_cell_per_inference.
    pub inferences_to_endurance: f64,
    /// Arrays of the attention array set(s), sized for the longest sequence.
    pub arrays: u64,
    /// Energy of the attention arrays per mean inference, pJ: writes plus their MVMs'
    /// tile events (a part of the breakdown's write, ADC, DAC, … components).
    pub energy_pj: f64,
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
    // input vectors of a linear: per token or per sequence, times its uses
    let vectors = |l: &LinearInfo| l.uses * if l.per_token() { tokens } else { sequences };

    let mut events = energy::EventCounts::default();
    let mut layouts = Vec::new();
    let mut drift_compensation_reads = 0;
    let by_conductance = tech.array.energy_model == ArrayEnergyModel::Conductance;
    // the analog linears' cell reads, and the same weighted by G·V² of their matrix (mean
    // conductance, µS, and read voltage, V: each matrix's own)
    let (mut linear_reads, mut conductance_reads) = (0u64, 0.0f64);
    for layer in model.layers() {
        let n = vectors(layer.info());
        layer.with_matrix(|m| {
            let matrix_events = m.events(n);
            if by_conductance {
                let v = f64::from(m.config().dac.v_read_v);
                linear_reads += matrix_events.cell_reads;
                conductance_reads +=
                    matrix_events.cell_reads as f64 * m.mean_conductance_us() * v * v;
            }
            events.tiles += &matrix_events;
            layouts.push(MatrixLayout::of(layer.name(), m, n as u64));
            drift_compensation_reads += m.report().drift_compensation_reads;
        });
        events.periphery.fp32_add += (n * layer.with_matrix(|m| m.out_features())) as u64;
    }
    for d in &model.digital {
        let macs = d.macs(tokens, sequences);
        events.periphery.fp32_mult += macs;
        events.periphery.fp32_add += macs + (vectors(d) * d.out_features) as u64;
    }
    let p = &model.hardware.periphery;
    let (mut attention, mut periphery) = (OpCounts::default(), OpCounts::default());
    for &len in lengths {
        let ops = model.model.digital_ops(p, len);
        periphery += ops.periphery;
        attention += ops.attention;
    }
    events.periphery += periphery;
    let mut area_layouts = layouts.clone();
    let mut row_writes = 0;
    let crossbar = match model.hardware.attention.mode {
        AttentionMode::Digital => {
            events.attention += attention;
            None
        }
        AttentionMode::Crossbar => {
            let on_arrays = crossbar_attention(model, lengths)?;
            events += &on_arrays.events;
            layouts.extend(on_arrays.layouts);
            area_layouts.extend(on_arrays.array_set.iter().cloned());
            row_writes = on_arrays.row_writes;
            let writes_per_cell = model
                .hardware
                .attention
                .writes_per_cell_per_inference(model.config.num_hidden_layers);
            let endurance = model
                .hardware
                .attention
                .endurance_cycles
                .unwrap_or(tech.write.endurance_cycles.value);
            let n = sequences as f64;
            Some(CrossbarAttentionCost {
                cell_writes_per_inference: on_arrays.events.cell_writes as f64 / n,
                row_writes_per_inference: row_writes as f64 / n,
                writes_per_cell_per_inference: writes_per_cell,
                endurance_cycles: endurance,
                inferences_to_endurance: endurance / writes_per_cell as f64,
                arrays: on_arrays.array_set.iter().map(|l| l.arrays).sum(),
                energy_pj: energy::energy(&on_arrays.events, tech)?.total_pj() / n,
            })
        }
    };

    let placement = Placement::of(model);
    let moved = traffic(model, &placement, lengths);
    events.buffer_bits += moved.buffer_bits;
    events.router_bits += moved.router_bits;
    let busy = latency(&layouts, row_writes, tech)?;
    let area_mm2 = area(&area_layouts, &model.hardware.chip, tech)?;
    let arrays = area_layouts.iter().map(|l| l.arrays).sum();
    let timing = timing(model, lengths, &layouts, row_writes, arrays, tech);
    let mut total = energy::energy(&events, tech)?;
    if by_conductance {
        // the linears' arrays by G·V²·activity·pulse instead of the table; µS·V²·ns = fJ
        let joule =
            conductance_reads * tech.array.activity.value * tech.array.read_pulse_ns.value * 1e-3;
        total.array_pj += joule - linear_reads as f64 * tech.array.read_energy_per_cell_pj.value;
    }
    total.registers_pj = register_energy_pj(&layouts, &busy, &model.hardware.chip, tech);
    let n = sequences as f64;
    // the chip leaks for the time each inference occupies it; mW × ns = pJ
    let period_ns = n * 1e9 / timing.throughput_inferences_per_s;
    total.static_pj = tech.chip.leakage_mw_per_mm2.value * area_mm2.total_mm2() * period_ns;
    let per_inference = total.per(n);
    let tokens_per_inference = tokens as f64 / n;
    // 2 per multiply-accumulate of every linear (each use) and of Q·Kᵀ and P·V
    let ops = model.model.flops(lengths) as f64 / n;
    Ok(InferenceCost {
        inferences: sequences,
        tokens_per_inference,
        energy_per_token_pj: per_inference.per(tokens_per_inference),
        energy_pj: per_inference,
        events_total: events,
        latency_ns: timing.latency_ns,
        schedule: timing.schedule.name(),
        throughput_inferences_per_s: timing.throughput_inferences_per_s,
        throughput_tokens_per_s: timing.throughput_tokens_per_s,
        array_utilization: timing.array_utilization,
        operations_per_inference: ops,
        // operations per pJ are TOPS/W
        tops_per_w: ops / per_inference.total_pj(),
        area_mm2,
        arrays,
        attention: crossbar,
        drift_compensation_reads,
    })
}

/// Energy of the IMA input and output registers: their busy power while their IMAs
/// compute, each matrix's IMAs for its share of the latency, pJ.
fn register_energy_pj(
    layouts: &[MatrixLayout],
    timing: &LatencyEstimate,
    chip: &ChipConfig,
    tech: &TechnologyTable,
) -> f64 {
    let mw = tech.ima.input_register.power_mw.value + tech.ima.output_register.power_mw.value;
    layouts
        .iter()
        .zip(&timing.matrices_ns)
        .map(|(m, (_, ns))| chip.imas_for(m.arrays) as f64 * ns * mw)
        .sum()
}

/// Attention on crossbars over all sequences of `lengths`.
struct OnArrays {
    /// Tile events and cell writes.
    events: energy::EventCounts,
    row_writes: u64,
    /// One K and one V layout per distinct length, MVMs of all sequences of that length.
    layouts: Vec<MatrixLayout>,
    /// The chip's attention arrays: K and V of every head (of every layer unless reused)
    /// for the longest sequence.
    array_set: Vec<MatrixLayout>,
}

/// Closed-form cost of attention on crossbars: per distinct length, [`head_cost`] times
/// heads × layers × sequences of that length. The attention arrays use the top-level
/// `[mapping]` (layer overrides select linears, not attention products).
fn crossbar_attention(model: &AnalogModel, lengths: &[usize]) -> anyhow::Result<OnArrays> {
    let c = &model.config;
    let mapping = &model.hardware.mapping;
    let mut counts = std::collections::BTreeMap::<usize, u64>::new();
    for &len in lengths {
        *counts.entry(len).or_default() += 1;
    }
    let heads_layers = (c.num_attention_heads * c.num_hidden_layers) as u64;
    let mut out = OnArrays {
        events: energy::EventCounts::default(),
        row_writes: 0,
        layouts: Vec::new(),
        array_set: Vec::new(),
    };
    for (&len, &n) in &counts {
        let head = head_cost(mapping, len, c.head_size())?;
        let k = n * heads_layers;
        out.events.tiles += &head.events.scaled(k);
        out.events.cell_writes += head.cell_writes * k;
        out.row_writes += head.row_writes * k;
        for mut layout in head.layouts.clone() {
            layout.mvms *= k;
            out.layouts.push(layout);
        }
        out.array_set = head.layouts.to_vec(); // the last length is the longest
    }
    let sets = if model.hardware.attention.reuse_across_layers {
        1
    } else {
        c.num_hidden_layers as u64
    };
    for layout in &mut out.array_set {
        layout.arrays *= c.num_attention_heads as u64 * sets;
    }
    Ok(out)
}
