//! Per-layer mappings (`[[layers.overrides]]` with a `mapping` table) on a tiny synthetic
//! BERT: the targeted linears are programmed, run and costed with their own mapping, every
//! other linear exactly as without the override; calibration, data movement and
//! `crossbert hardware --show` follow.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crossbert::backend::{AnalogModel, InferenceCost};
use crossbert::hardware::HardwareConfig;
use crossbert::model::PackedBatch;
use crossbert::tokenize::Encoded;

/// A tiny BERT (hidden 32, 2 heads, FFN 64) of `layers` layers.
fn tiny_bert(layers: usize) -> tempfile::TempDir {
    let config = serde_json::json!({"vocab_size": 120, "hidden_size": 32,
        "num_hidden_layers": layers, "num_attention_heads": 2, "intermediate_size": 64,
        "max_position_embeddings": 64, "hidden_act": "gelu"});
    common::tiny_checkpoint(config, 5)
}

/// isaac-32nm with `extra` appended.
fn hardware(extra: &str) -> HardwareConfig {
    HardwareConfig::from_toml_str(&format!("preset = \"isaac-32nm\"\n{extra}"), "t.toml").unwrap()
}

/// FFN outputs on 6-bit ADCs, 2-bit DACs and 1-bit cells (7 slices instead of 4).
const FFN_OUT: &str = "[[layers.overrides]]\ntarget = \"*.ffn_out\"\n\
    mapping = { adc = { adc_bits = 6 }, dac = { dac_bits = 2 }, cell = { bits_per_cell = 1 } }";

/// Three short sequences of token ids below the tiny vocabulary's 120.
fn examples() -> Vec<Encoded> {
    [
        [2u32, 17, 40, 3].as_slice(),
        &[2, 90, 11, 64, 5, 3],
        &[2, 33, 3],
    ]
    .iter()
    .map(|ids| Encoded {
        input_ids: ids.to_vec(),
        token_type_ids: vec![0; ids.len()],
    })
    .collect()
}

/// The chip of `hw` (seed 0) calibrated on [`examples`], after one forward pass over them:
/// its analog layers' names with their programmed mapping, layout and measured events.
fn run(dir: &Path, hw: &HardwareConfig) -> (AnalogModel, Vec<Programmed>) {
    let chip = AnalogModel::load(dir, hw, 0).unwrap();
    chip.calibrate(&examples()).unwrap();
    let mut batch = PackedBatch::default();
    for e in examples() {
        batch.push(&e.input_ids, &e.token_type_ids);
    }
    chip.model.forward(&batch).unwrap();
    chip.check().unwrap();
    let measured = chip.take_measured();
    let programmed = chip
        .layers()
        .iter()
        .zip(measured)
        .map(|(layer, (name, measured))| {
            let (adc_bits, layout) =
                layer.with_matrix(|m| (m.config().adc.adc_bits, m.layout().clone()));
            Programmed {
                name,
                adc_bits,
                layout,
                events: measured.events,
            }
        })
        .collect();
    (chip, programmed)
}

struct Programmed {
    name: String,
    adc_bits: u8,
    layout: mapping::tiling::Layout,
    events: crossbar::EventCounts,
}

fn cost(chip: &AnalogModel) -> InferenceCost {
    chip.cost(&[16]).unwrap()
}

#[test]
fn a_mapping_override_changes_exactly_its_linears() {
    let dir = tiny_bert(2);
    let (base_chip, base) = run(dir.path(), &hardware(""));
    let (mixed_chip, mixed) = run(dir.path(), &hardware(FFN_OUT));
    assert_eq!(base.len(), 12);
    let mut targeted = 0;
    for (b, m) in base.iter().zip(&mixed) {
        assert_eq!(b.name, m.name);
        if m.name.ends_with(".ffn_out") {
            targeted += 1;
            assert_eq!((b.adc_bits, m.adc_bits), (8, 6), "{}", m.name);
            // 1-bit cells: 7 slices × 2 columns per output instead of 4 × 2
            assert_eq!(m.layout.arrays(), 2 * b.layout.arrays(), "{}", m.name);
            // the forward pass converts at 6 bits only
            let keys: Vec<u8> = m.events.adc_conversions.keys().copied().collect();
            assert_eq!(keys, [6], "{}", m.name);
        } else {
            assert_eq!(m.adc_bits, 8, "{}", m.name);
            assert_eq!(m.layout, b.layout, "{}", m.name);
            assert_eq!(m.events, b.events, "{}", m.name);
        }
    }
    assert_eq!(targeted, 2);

    // the cost prices each matrix's conversions and drives at its own resolutions
    let sum = |chip: &AnalogModel, ffn_out: bool| {
        let mut events = crossbar::EventCounts::default();
        for l in chip.layers() {
            if l.name().ends_with(".ffn_out") == ffn_out {
                events += l.with_matrix(|m| m.events(16));
            }
        }
        events
    };
    let (others, targets) = (sum(&mixed_chip, false), sum(&mixed_chip, true));
    assert_eq!(others, sum(&base_chip, false), "the other linears' events");
    let e = cost(&mixed_chip).events_total.tiles;
    assert_eq!(
        e.adc_conversions,
        BTreeMap::from([
            (6, targets.adc_conversions[&6]),
            (8, others.adc_conversions[&8])
        ])
    );
    assert_eq!(
        e.dac_drives,
        BTreeMap::from([(1, others.dac_drives[&1]), (2, targets.dac_drives[&2])])
    );
    let base_cost = cost(&base_chip);
    assert_eq!(
        base_cost
            .events_total
            .tiles
            .dac_drives
            .keys()
            .collect::<Vec<_>>(),
        [&1]
    );
    assert!(cost(&mixed_chip).arrays > base_cost.arrays);
}

#[test]
fn input_codes_travel_at_the_receiving_matrix_own_width() {
    // One layer, one IMA per tile: FFN-in on tile 4, FFN-out on tile 5 of a mesh 3 wide, so
    // GELU's output crosses 2 routers per value (tests/chip.rs has the whole dataflow).
    let dir = tiny_bert(1);
    let spread = "[chip]\nimas_per_tile = 1\n";
    let six = "[[layers.overrides]]\ntarget = \"*.ffn_out\"\nmapping = { input_bits = 6 }";
    let routed = |extra: &str| {
        let chip = AnalogModel::load(dir.path(), &hardware(extra), 0).unwrap();
        cost(&chip).events_total.router_bits
    };
    let (tokens, intermediate) = (16, 64);
    let saved = routed(spread) - routed(&format!("{spread}{six}"));
    assert_eq!(saved, tokens * 2 * intermediate * (8 - 6));
}

#[test]
fn a_calibrating_override_makes_the_chip_calibrate() {
    let dir = tiny_bert(1);
    let dynamic = "[mapping]\ninput_scale = \"dynamic\"\nadc = { range = \"full_scale\" }\n";
    let calibrated = "[[layers.overrides]]\ntarget = \"0.value\"\n\
                      mapping = { input_scale = \"calibrated\" }";
    // nothing to calibrate: no examples needed
    let chip = AnalogModel::load(dir.path(), &hardware(dynamic), 0).unwrap();
    chip.calibrate(&[]).unwrap();
    // one layer's own mapping calibrates: the chip asks for examples
    let hw = hardware(&format!("{dynamic}{calibrated}"));
    let chip = AnalogModel::load(dir.path(), &hw, 0).unwrap();
    let err = chip.calibrate(&[]).unwrap_err().to_string();
    assert!(err.contains("calibration.examples"), "{err}");
    chip.calibrate(&examples()).unwrap();
}

#[test]
fn hardware_show_prints_a_mapping_override_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.toml");
    std::fs::write(&file, format!("preset = \"isaac-32nm\"\n{FFN_OUT}\n")).unwrap();
    let show = |path: &Path| {
        common::stdout_of(
            Command::new(env!("CARGO_BIN_EXE_crossbert"))
                .args(["hardware", "--show"])
                .arg(path),
        )
    };
    let shown = show(&file);
    let again = HardwareConfig::from_toml_str(&shown, "shown").unwrap();
    assert_eq!(again, HardwareConfig::from_file(&file).unwrap());
    let o = &again.layers.overrides[0];
    assert_eq!(o.mapping.as_ref().map(|m| m.adc.adc_bits), Some(6));
    assert!(
        o.device.is_none(),
        "a mapping-only override stays one:\n{shown}"
    );
    // the resolved form is a fixed point
    let resolved = dir.path().join("resolved.toml");
    std::fs::write(&resolved, &shown).unwrap();
    assert_eq!(show(&resolved), shown);
}

#[test]
fn conductance_array_energy_uses_each_matrix_read_voltage() {
    // per cell read G·V²·activity·pulse (activity ½, 10 ns: isaac-32nm), V each matrix's
    // own: 0.25 V on the FFN outputs, 0.5 V elsewhere (tests/chip.rs has the uniform case)
    let dir = tiny_bert(2);
    let hw = hardware(
        "[energy.overrides.array]\nenergy_model = \"conductance\"\n\
         [[layers.overrides]]\ntarget = \"*.ffn_out\"\nmapping = { dac = { v_read_v = 0.25 } }",
    );
    let chip = AnalogModel::load(dir.path(), &hw, 0).unwrap();
    let tokens = 16;
    let want_fj: f64 = chip
        .layers()
        .iter()
        .map(|l| {
            let v: f64 = if l.name().ends_with(".ffn_out") {
                0.25
            } else {
                0.5
            };
            l.with_matrix(|m| {
                m.events(tokens).cell_reads as f64 * m.mean_conductance_us() * v * v * 0.5 * 10.0
            })
        })
        .sum();
    let got = chip.cost(&[tokens]).unwrap().energy_pj.array_pj;
    assert!(
        (got - want_fj * 1e-3).abs() <= 1e-9 * got,
        "{got} vs {}",
        want_fj * 1e-3
    );
}
