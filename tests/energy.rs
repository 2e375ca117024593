//! Technology tables, the energy roll-up, and the latency and area estimates.

use crossbert::energy::{
    area, digital_energy_pj, energy, latency, AdcScaling, DacScaling, EnergyBreakdown, EventCounts,
    MatrixLayout, TechnologyConfig, TechnologyError, TechnologyTable,
};
use crossbert::hardware::ChipConfig;
use crossbert::periphery::{OpCounts, Softmax};
use std::collections::BTreeMap;

fn isaac() -> TechnologyTable {
    TechnologyTable::preset("isaac-32nm").unwrap()
}

fn overrides(text: &str) -> toml::Table {
    toml::from_str(text).unwrap()
}

fn invalid_key(e: TechnologyError) -> String {
    match e {
        TechnologyError::Invalid { error, .. } => error.key,
        other => panic!("expected a validation error, got {other}"),
    }
}

#[test]
fn preset_numbers_all_carry_source_and_node() {
    let t = isaac();
    assert_eq!(t.name, "isaac-32nm");
    for (key, n) in t.numbers() {
        assert!(n.source.len() > 20, "{key}: source {:?}", n.source);
        // device-level figures (writes, the read pulse) and the workload's activity belong
        // to no CMOS node; every circuit figure names one
        let no_node =
            key.starts_with("write.") || ["array.read_pulse_ns", "array.activity"].contains(&key);
        assert_eq!(n.node_nm.is_some(), !no_node, "{key}: node {:?}", n.node_nm);
    }
    assert_eq!(t.adc.table.node_nm, Some(32));
}

#[test]
fn unknown_preset_lists_the_known_ones() {
    let e = TechnologyTable::preset("isaac-28nm").unwrap_err();
    assert!(matches!(e, TechnologyError::UnknownPreset { .. }));
    assert!(e.to_string().contains("isaac-32nm"), "{e}");
}

#[test]
fn toml_round_trip_is_lossless() {
    let t = isaac();
    let text = t.to_toml_string().unwrap();
    let back = TechnologyTable::from_toml_str(&text, "round trip").unwrap();
    assert_eq!(back, t);
}

#[test]
fn overrides_replace_numbers_and_their_sources() {
    let t = TechnologyTable::preset_with(
        "isaac-32nm",
        &overrides(
            "[adc]\nscaling = \"walden\"\npower_mw = 3.0\n[dac.area_um2]\nvalue = 0.2\nsource = \"my layout\"",
        ),
    )
    .unwrap();
    assert_eq!(t.adc.scaling, AdcScaling::Walden);
    assert_eq!(t.adc.power_mw.value, 3.0);
    assert_eq!(t.adc.power_mw.source, crossbert::energy::sourced::UNSOURCED);
    assert_eq!((t.dac.area_um2.value, t.dac.area_um2.node_nm), (0.2, None));
    assert_eq!(t.adc.table, isaac().adc.table, "untouched parts stay");
}

#[test]
fn validation_errors_name_the_key() {
    let e = TechnologyTable::preset_with(
        "isaac-32nm",
        &overrides("[dac]\nenergy_per_1bit_drive_pj = -0.39"),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("dac.energy_per_1bit_drive_pj"),
        "{e}"
    );
    assert_eq!(invalid_key(e), "dac.energy_per_1bit_drive_pj");

    let e = TechnologyTable::preset_with(
        "isaac-32nm",
        &overrides("[adc.table]\nbits = []\nenergy_pj = []"),
    )
    .unwrap_err();
    assert_eq!(invalid_key(e), "adc.table");
    let e = TechnologyTable::preset_with("isaac-32nm", &overrides("[adc.table]\nbits = [4, 5]"))
        .unwrap_err();
    assert_eq!(invalid_key(e), "adc.table");
    let e = TechnologyTable::preset_with(
        "isaac-32nm",
        &overrides("[adc]\nscaling = \"schreier\"\nreference_bits = 12"),
    )
    .unwrap_err();
    assert_eq!(invalid_key(e), "adc.reference_bits");
    let e = TechnologyTable::preset_with(
        "isaac-32nm",
        &overrides("[adc.table]\nenergy_pj = [0.79, 0.99, -1.20, 1.42, 1.67, 1.97, 2.38]"),
    )
    .unwrap_err();
    assert_eq!(invalid_key(e), "adc.table.energy_pj[2]");
    let e = TechnologyTable::preset_with("isaac-32nm", &overrides("[array]\nread_cycle_ns = 0.0"))
        .unwrap_err();
    assert_eq!(invalid_key(e), "array.read_cycle_ns");

    // unknown keys are parse errors that name the key
    let e = TechnologyTable::preset_with("isaac-32nm", &overrides("[adc]\nbitz = 3")).unwrap_err();
    assert!(
        matches!(e, TechnologyError::Parse { .. }) && e.to_string().contains("bitz"),
        "{e}"
    );
    let text = isaac()
        .to_toml_string()
        .unwrap()
        .replace("[sample_hold", "[sample_holt");
    let e = TechnologyTable::from_toml_str(&text, "my.toml").unwrap_err();
    assert!(
        e.to_string().contains("my.toml") && e.to_string().contains("sample_holt"),
        "{e}"
    );
}

#[test]
fn adc_energy_under_each_scaling() {
    let mut t = isaac();
    let e = |t: &TechnologyTable, b| t.adc.energy_per_conversion_pj(b).unwrap();
    assert_eq!(e(&t, 8), 1.67);
    assert_eq!(e(&t, 4), 0.79);
    let err = t.adc.energy_per_conversion_pj(3).unwrap_err();
    assert_eq!(err.key, "adc.table.bits");
    assert!(err.expected.contains("4..=10"), "{err}");
    // a gap in the table is interpolated geometrically: 7 bits between 1.20 and 1.67
    t.adc.table.bits.remove(3);
    t.adc.table.energy_pj.remove(3);
    assert!((e(&t, 7) - (1.20f64 * 1.67).sqrt()).abs() < 1e-12);
    t.adc.scaling = AdcScaling::Walden;
    assert!((e(&t, 6) - 1.67 / 4.0).abs() < 1e-12);
    assert!((e(&t, 12) - 1.67 * 16.0).abs() < 1e-12);
    t.adc.scaling = AdcScaling::Schreier;
    assert!((e(&t, 9) - 1.67 * 4.0).abs() < 1e-12);
    t.adc.scaling = AdcScaling::NeurosimSar;
    // (0.538·8 + 4.375) µW × 9 ns = 78.1 fJ
    assert!((e(&t, 8) - 0.078111).abs() < 1e-9);
    // anchored at ISAAC's 2 mW and 1.28 GS/s: energy × rate is the power again
    t.adc.scaling = AdcScaling::WaldenPower;
    assert!((e(&t, 8) - 2.0 / 1.28).abs() < 1e-12);
    assert!((e(&t, 8) * t.adc.sample_rate_gsps.value - t.adc.power_mw.value).abs() < 1e-12);
    assert!((e(&t, 6) - 2.0 / 1.28 / 4.0).abs() < 1e-12);
}

#[test]
fn dac_energy_grows_with_bits_as_configured() {
    let mut t = isaac();
    let drives = |t: &TechnologyTable, bits: u8| {
        let tiles = crossbar::EventCounts {
            dac_drives: BTreeMap::from([(bits, 10)]),
            ..Default::default()
        };
        energy(&tiles.into(), t).unwrap().dac_pj
    };
    assert_eq!(t.dac.scaling, DacScaling::Linear);
    assert!((drives(&t, 4) - 10.0 * 4.0 * 0.39).abs() < 1e-9);
    t.dac.scaling = DacScaling::Exponential;
    assert!((drives(&t, 4) - 10.0 * 15.0 * 0.39).abs() < 1e-9);
    assert!((drives(&t, 1) - 10.0 * 0.39).abs() < 1e-9);
}

#[test]
fn array_read_energy_follows_from_isaac_power() {
    // 0.3 mW per 128×128 array over a 100 ns cycle, shared by 16384 cells
    let derived_pj = 0.3e-3 * 100e-9 / (128.0 * 128.0) * 1e12;
    let t = isaac();
    assert!((t.array.read_energy_per_cell_pj.value - derived_pj).abs() / derived_pj < 0.01);
    assert_eq!(t.array.read_cycle_ns.value, 100.0);
    // and the DAC: 3.9 µW × 100 ns = 0.39 pJ
    assert!((t.dac.energy_per_1bit_drive_pj.value - 3.9e-6 * 100e-9 * 1e12).abs() < 1e-9);
}

fn sample_events() -> EventCounts {
    EventCounts {
        tiles: crossbar::EventCounts {
            // an ideal ADC's conversions (resolution 0) have no hardware and cost nothing
            adc_conversions: BTreeMap::from([(0, 400), (8, 1000), (4, 10)]),
            dac_drives: BTreeMap::from([(1, 2000), (4, 10)]),
            cell_reads: 16384,
            sample_holds: 3000,
            shift_adds: 500,
            adder_tree_ops: 70,
            buffer_bits: 1000,
            array_gain_multiplies: 7,
            offset_ops: 5,
        },
        buffer_bits: 1560,
        router_bits: 512,
        periphery: OpCounts {
            fp32_exp: 10,
            int8_mult: 100,
            ..Default::default()
        },
        attention: OpCounts {
            fp32_mult: 4,
            fp32_add: 3,
            ..Default::default()
        },
        cell_writes: 11,
    }
}

#[test]
fn energy_components_equal_events_times_table_and_sum_to_total() {
    let b = energy(&sample_events(), &isaac()).unwrap();
    let close = |got: f64, want: f64| {
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{got} vs {want}"
        )
    };
    close(b.adc_pj, 1000.0 * 1.67 + 10.0 * 0.79);
    close(b.dac_pj, (2000.0 + 4.0 * 10.0) * 0.39);
    close(b.array_pj, 16384.0 * 0.00183);
    close(b.sample_hold_pj, 3000.0 * 0.001);
    close(b.shift_add_pj, 500.0 * 0.021);
    close(b.adder_tree_pj, 70.0 * 0.021);
    close(b.buffer_pj, 10.0 * 20.45);
    close(b.bus_pj, 1000.0 * 0.0152);
    close(b.router_pj, 2.0 * 20.74);
    // the tiles' gains (fp32 multiplies) and offset operations (multiply-adds) with the
    // periphery's own operations
    close(
        b.periphery_pj,
        10.0 * 36.8 + 100.0 * 0.2 + (7.0 + 5.0) * 3.7 + 5.0 * 0.9,
    );
    close(b.attention_pj, 4.0 * 3.7 + 3.0 * 0.9);
    close(b.write_pj, 11.0 * 3.0);
    let sum = b.adc_pj
        + b.dac_pj
        + b.array_pj
        + b.sample_hold_pj
        + b.shift_add_pj
        + b.adder_tree_pj
        + b.buffer_pj
        + b.bus_pj
        + b.router_pj
        + b.periphery_pj
        + b.attention_pj
        + b.write_pj;
    close(b.total_pj(), sum);
    // registers and leakage are power × time, which the inference cost adds
    assert_eq!((b.registers_pj, b.static_pj), (0.0, 0.0));
    assert!(
        b.components()
            .iter()
            .all(|(name, e)| *e > 0.0 || ["registers", "static"].contains(name)),
        "every event-priced component is exercised"
    );
    close(b.per(4.0).total_pj(), sum / 4.0);
    assert_eq!(EnergyBreakdown::default().total_pj(), 0.0);

    let mut out_of_table = sample_events();
    out_of_table.tiles.adc_conversions.insert(12, 1);
    assert_eq!(
        energy(&out_of_table, &isaac()).unwrap_err().key,
        "adc.table.bits"
    );
}

#[test]
fn periphery_energy_prices_each_kind() {
    let t = isaac();
    // one float softmax row of 128: 127 compares, 255 adds, 128 exp, 1 div, 128 mult
    let c = Softmax::Float.counts(128);
    let want = 127.0 * 0.1 + 255.0 * 0.9 + 128.0 * 36.8 + 20.3 + 128.0 * 3.7;
    assert!((digital_energy_pj(&c, &t) - want).abs() < 1e-9);
    // every kind has a price: one of each costs the sum of the digital column
    let names: Vec<&str> = c.fields().iter().map(|(n, _)| *n).collect();
    let priced: Vec<&str> = t.digital.prices().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, priced);
}

#[test]
fn event_counts_add_by_kind() {
    let a = sample_events();
    let s = a.clone() + a.clone();
    assert_eq!(s.tiles.adc_conversions[&8], 2000);
    assert_eq!(s.tiles.dac_drives[&4], 20);
    assert_eq!(s.total_buffer_bits(), 2 * 2560);
    assert_eq!(s.cell_writes, 22);
    assert_eq!(s.periphery.fp32_exp, 20);
    let b = energy(&s, &isaac()).unwrap().total_pj();
    let one = energy(&a, &isaac()).unwrap().total_pj();
    assert!((b - 2.0 * one).abs() < 1e-9 * b);
}

fn layout(columns_per_adc: u32, cycles: u32) -> MatrixLayout {
    MatrixLayout {
        name: "q".into(),
        arrays: 36,
        array_rows: 128,
        array_cols: 128,
        converted_cols: 128,
        columns_per_adc,
        adc_bits: 8,
        cycles_per_mvm: cycles,
        mvms: 128,
    }
}

#[test]
fn latency_follows_cycles_and_adc_sharing() {
    let t = isaac();
    // ISAAC: 128 columns per ADC at 1.28 GS/s convert in 100 ns, matching the 100 ns read:
    // 8 cycles × 100 ns + 100 ns pipeline fill = 900 ns per MVM, 128 MVMs
    let l = latency(&[layout(128, 8)], 0, &t).unwrap();
    assert!((l.total_ns - 128.0 * 900.0).abs() < 1e-6, "{l:?}");
    // 64 columns per ADC: 50 ns conversion hides under the read: 8 × 100 + 50
    let l = latency(&[layout(64, 8)], 0, &t).unwrap();
    assert!((l.total_ns - 128.0 * 850.0).abs() < 1e-6);
    // 512 columns per ADC on 128-column arrays: still only 128 samples per ADC
    let l = latency(&[layout(512, 1)], 0, &t).unwrap();
    assert!((l.total_ns - 128.0 * 200.0).abs() < 1e-6);
    // writes add their latency; matrices add up
    let l = latency(&[layout(128, 8), layout(128, 8)], 3, &t).unwrap();
    assert!((l.total_ns - (2.0 * 128.0 * 900.0 + 3.0 * 10.0)).abs() < 1e-6);
    assert_eq!(l.matrices_ns.len(), 2);
    let e = latency(&[layout(0, 8)], 0, &t).unwrap_err();
    assert_eq!(e.key, "layout[0].columns_per_adc");
}

#[test]
fn area_counts_arrays_and_converters() {
    let t = isaac();
    let mut one = layout(128, 8);
    one.arrays = 1;
    let chip = ChipConfig::default();
    let a = area(&[one.clone()], &chip, &t).unwrap();
    // µm²: array 25, one ADC 1200, 128 DACs × 0.166, 128 S&H × 0.039, 0.5 S+A × 60; one IMA's
    // registers (2100 + 770); one tile's output register 3200, eDRAM 83000, bus 90000,
    // digital units 900 and a quarter of a 151000 router (ISAAC Table I)
    let arrays_um2 = 25.0 + 1200.0 + 128.0 * 0.166 + 128.0 * 0.039 + 30.0;
    let blocks_um2 = 2100.0 + 770.0 + 3200.0 + 83000.0 + 90000.0 + 900.0 + 151000.0 / 4.0;
    let want_um2 = arrays_um2 + blocks_um2;
    assert!((a.total_mm2() - want_um2 * 1e-6).abs() < 1e-12, "{a:?}");
    // 32 columns per ADC on 256 columns → 8 ADCs; a 256×256 array has 4 reference areas
    one.columns_per_adc = 32;
    one.array_rows = 256;
    one.array_cols = 256;
    one.converted_cols = 256;
    let a = area(&[one.clone()], &chip, &t).unwrap();
    assert!((a.adc_mm2 - 8.0 * 1200.0e-6).abs() < 1e-12);
    assert!((a.arrays_mm2 - 4.0 * 25.0e-6).abs() < 1e-12);
    // An analog-difference readout converts the 128 column pairs: 4 ADCs, 128 S&H units.
    one.converted_cols = 128;
    let b = area(&[one], &chip, &t).unwrap();
    assert!((b.adc_mm2 - 4.0 * 1200.0e-6).abs() < 1e-12);
    assert!((b.sample_hold_mm2 - a.sample_hold_mm2 / 2.0).abs() < 1e-15);
    assert_eq!(b.arrays_mm2, a.arrays_mm2);
}

#[test]
fn adc_area_follows_resolution() {
    let t = isaac();
    // the table (Saberi-scaled ISAAC ADC), then ×2 per bit beyond its ends
    assert_eq!(t.adc.area_um2(8), 1200.0);
    assert_eq!(t.adc.area_um2(5), 476.91);
    assert!((t.adc.area_um2(12) - 3002.01 * 4.0).abs() < 1e-9);
    assert!((t.adc.area_um2(3) - 361.04 / 2.0).abs() < 1e-9);
    let mut six_bit = layout(128, 8);
    six_bit.adc_bits = 6;
    let a = area(&[six_bit], &ChipConfig::default(), &t).unwrap();
    assert!((a.adc_mm2 - 36.0 * 626.91e-6).abs() < 1e-12);
    let e = TechnologyTable::preset_with("isaac-32nm", &overrides("[adc.table]\narea_um2 = [1.0]"))
        .unwrap_err();
    assert_eq!(invalid_key(e), "adc.table");
}

#[test]
fn hardware_energy_section_resolves_preset_and_overrides() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Hardware {
        energy: TechnologyConfig,
    }
    let hw: Hardware = toml::from_str(
        "[energy]\npreset = \"isaac-32nm\"\n[energy.overrides.write]\nendurance_cycles = 1e6",
    )
    .unwrap();
    let t = hw.energy.resolve("energy").unwrap();
    assert_eq!(t.write.endurance_cycles.value, 1e6);
    // 1e6 cycles, 4 writes per inference → 250 000 inferences
    assert_eq!(t.write.inferences_to_wear_out(4.0), 250_000.0);
    assert_eq!(
        TechnologyConfig::default().resolve("energy").unwrap(),
        isaac()
    );

    let bad: Hardware =
        toml::from_str("[energy.overrides.buffer]\nrouter_energy_per_256bit_pj = -2").unwrap();
    let e = bad.energy.resolve("energy").unwrap_err();
    assert_eq!(
        invalid_key(e),
        "energy.overrides.buffer.router_energy_per_256bit_pj"
    );
    let bad: Hardware = toml::from_str("[energy]\npreset = \"nope\"").unwrap();
    assert!(bad
        .energy
        .resolve("energy")
        .unwrap_err()
        .to_string()
        .contains("isaac-32nm"));
}

#[test]
fn malformed_sourced_numbers_say_what_is_expected() {
    let cases = [
        ("[dac.area_um2]\nvalue = 0.2", "missing field `source`"),
        ("[dac]\narea_um2 = \"big\"", "expected a number, or { value"),
        (
            "[dac.area_um2]\nvalue = 0.2\nsource = \"x\"\nnode = 3",
            "unknown field `node`",
        ),
    ];
    for (o, want) in cases {
        let e = TechnologyTable::preset_with("isaac-32nm", &overrides(o)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(want) && msg.contains("dac.area_um2"), "{msg}");
    }
    let text = isaac()
        .to_toml_string()
        .unwrap()
        .replacen("value = 0.166", "valu = 0.166", 1);
    let msg = TechnologyTable::from_toml_str(&text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("f.toml") && msg.contains("line") && msg.contains("`valu`"),
        "{msg}"
    );
}
