use super::*;
use mapping::MappingConfig;

#[test]
fn every_preset_resolves_and_validates() {
    for (name, _, _) in PRESETS {
        let hw = HardwareConfig::preset(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hw.preset, *name);
    }
}

#[test]
fn isaac_preset_has_the_isaac_numbers() {
    let hw = HardwareConfig::preset("isaac-32nm").unwrap();
    let m = &hw.mapping;
    assert_eq!((m.input_bits, m.dac.dac_bits, m.weight_bits), (8, 1, 8));
    assert_eq!(
        (m.cell.bits_per_cell, m.array_rows, m.array_cols),
        (2, 128, 128)
    );
    assert_eq!((m.adc.adc_bits, m.adc.ideal), (8, false));
    assert!(hw.device.is_ideal());
}

#[test]
fn a_file_overrides_its_preset_field_by_field() {
    let text = r#"
        preset = "reram-cmo"
        [mapping]
        adc = { adc_bits = 6 }
        [device]
        programming = { model = "relative", sigma = 0.3 }
    "#;
    let hw = HardwareConfig::from_toml_str(text, "test.toml").unwrap();
    assert_eq!(hw.preset, "reram-cmo");
    assert_eq!(hw.mapping.adc.adc_bits, 6);
    // untouched fields keep the preset's values: the ADC range, the CMO 1/f deviation
    assert_eq!(hw.mapping.adc.range, crossbar::AdcRange::Calibrated);
    assert_eq!(
        hw.device.accumulated_noise,
        crossbar::device::AccumulatedNoise::reram_cmo()
    );
    assert_eq!(
        hw.device.programming,
        crossbar::device::ProgrammingVariation::Relative { sigma: 0.3 }
    );
}

#[test]
fn unknown_presets_keys_and_impossible_values_name_what_is_wrong() {
    let err = HardwareConfig::preset("isaac-23nm")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("isaac-23nm") && err.contains("isaac-32nm"),
        "{err}"
    );

    let err =
        HardwareConfig::from_toml_str("preset = \"ideal\"\n[mapping]\nadc_bitz = 3", "f.toml")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("f.toml") && err.contains("mapping") && err.contains("adc_bitz"),
        "{err}"
    );

    let err = HardwareConfig::from_toml_str("[mapping]\nweight_bits = 0", "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("mapping.weight_bits"), "{err}");

    let text = "[device]\nprogramming = { model = \"relative\", sigma = -0.1 }";
    let err = HardwareConfig::from_toml_str(text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("device.programming.sigma"), "{err}");

    let text = "[mapping]\ncell = { bits_per_cell = 2, g_min_us = 90.0, g_max_us = 9.0 }";
    let err = HardwareConfig::from_toml_str(text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("mapping.cell.g_min_us"), "{err}");

    // A description from before the 1/f fits moved to the state at read time says where.
    let text = "[device]\nread_noise = { model = \"reram_cmo\" }";
    let err = HardwareConfig::from_toml_str(text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("device.read_noise.model") && err.contains("accumulated_noise"),
        "{err}"
    );

    let text = "[layers]\nanalog = [\"3.ffn_outt\"]";
    let err = HardwareConfig::from_toml_str(text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layers.analog") && err.contains("ffn_outt"),
        "{err}"
    );
}

#[test]
fn layer_overrides_merge_over_the_device_and_select_their_layers() {
    let text = r#"
        preset = "reram-cmo"
        [[layers.overrides]]
        target = "3.ffn_out"
        device = { stuck_at = { rate_g_max = 0.01 } }
    "#;
    let hw = HardwareConfig::from_toml_str(text, "t").unwrap();
    let hit = LinearName::encoder(3, LinearKind::Output);
    let miss = LinearName::encoder(2, LinearKind::Output);
    assert_eq!(hw.device_for(&hit).stuck_at.rate_g_max, 0.01);
    // the override keeps the rest of [device]
    assert_eq!(hw.device_for(&hit).programming, hw.device.programming);
    assert_eq!(hw.device_for(&miss), &hw.device);
}

#[test]
fn patterns_select_the_right_linears() {
    let p = |s: &str| LinearPattern::try_from(s.to_string()).unwrap();
    let v3 = LinearName::encoder(3, LinearKind::Value);
    let pooler = LinearName::head(LinearKind::Pooler);
    assert!(p("*.value").matches(&v3) && p("3.*").matches(&v3) && p("all").matches(&v3));
    assert!(!p("2.*").matches(&v3) && !p("*.key").matches(&v3));
    assert!(
        !p("*.*").matches(&pooler) && p("pooler").matches(&pooler) && p("all").matches(&pooler)
    );
    assert!(p("3.attn_out").matches(&LinearName::encoder(3, LinearKind::AttentionOutput)));
    let hw = HardwareConfig::preset("isaac-32nm").unwrap();
    assert!(hw.is_analog(&v3) && !hw.is_analog(&pooler));
}

#[test]
fn resolved_config_round_trips_through_toml() {
    for (name, _, _) in PRESETS {
        let hw = HardwareConfig::preset(name).unwrap();
        let again = HardwareConfig::from_toml_str(&hw.to_toml(), "round trip").unwrap();
        assert_eq!(hw, again, "{name}");
    }
}

#[test]
fn matrix_ids_are_distinct() {
    let mut ids: Vec<u32> = (0..48)
        .flat_map(|l| {
            LinearKind::ALL[..6]
                .iter()
                .map(move |k| LinearName::encoder(l, *k))
        })
        .chain([LinearKind::Pooler, LinearKind::Classifier].map(LinearName::head))
        .map(|n| n.matrix_id())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

#[test]
fn base_table_has_every_field_and_reads_back() {
    let table = HardwareConfig::base_table("isaac-32nm").unwrap();
    let adc = &table["mapping"]["adc"];
    assert_eq!(adc["adc_bits"].as_integer(), Some(8));
    assert_eq!(table["device"]["read_time_s"].as_float(), Some(1.0));
    let hw = HardwareConfig::from_table(table, "base").unwrap();
    assert_eq!(hw, HardwareConfig::preset("isaac-32nm").unwrap());
}

#[test]
fn attention_section_defaults_to_digital_and_round_trips() {
    let hw = HardwareConfig::preset("isaac-32nm").unwrap();
    assert_eq!(hw.attention, AttentionConfig::default());
    assert_eq!(hw.attention.mode, AttentionMode::Digital);
    assert!(hw.attention.reuse_across_layers);
    let text = "preset = \"isaac-32nm\"\n[attention]\nmode = \"crossbar\"\n\
                write_noise = { model = \"relative\", sigma = 0.05 }\nendurance_cycles = 1e9";
    let hw = HardwareConfig::from_toml_str(text, "t.toml").unwrap();
    assert_eq!(hw.attention.mode, AttentionMode::Crossbar);
    assert_eq!(hw.attention.endurance_cycles, Some(1e9));
    assert_eq!(hw.attention.writes_per_cell_per_inference(6), 6);
    // what `crossbert hardware --show` prints reads back to the same description
    let again = HardwareConfig::from_toml_str(&hw.to_toml(), "shown").unwrap();
    assert_eq!(hw, again);
}

#[test]
fn training_choices_are_optional_and_checked() {
    let hw = HardwareConfig::preset("isaac-32nm").unwrap();
    assert_eq!(
        hw.training,
        TrainingConfig::default(),
        "every choice derived"
    );
    let text =
        "preset = \"isaac-32nm\"\n[training]\nweight_noise = 0.05\nstuck_at_dropout = 0.01\n";
    let hw = HardwareConfig::from_toml_str(text, "t.toml").unwrap();
    assert_eq!(hw.training.weight_noise, Some(0.05));
    assert_eq!(hw.training.stuck_at_dropout, Some(0.01));
    let bad = [
        (
            "output_bits = 1",
            "training.output_bits: expected 0 (off) or 2–24 bits, found 1",
        ),
        (
            "weight_noise = -0.1",
            "training.weight_noise: expected a finite number ≥ 0, found -0.1",
        ),
        (
            "output_noise_proportional = inf",
            "training.output_noise_proportional: expected a finite number ≥ 0, found inf",
        ),
        (
            "stuck_at_dropout = 1.0",
            "training.stuck_at_dropout: expected a probability in [0, 1), found 1",
        ),
        (
            "weight_clip_sigmas = 0.0",
            "training.weight_clip_sigmas: expected a number of standard deviations > 0",
        ),
        ("noise = 0.1", "unknown field `noise`"),
    ];
    for (line, want) in bad {
        let text = format!("preset = \"isaac-32nm\"\n[training]\n{line}\n");
        let err = HardwareConfig::from_toml_str(&text, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{line}: {err}");
    }
}

/// isaac-32nm with 6-bit ADCs and 6-bit inputs on every FFN output, and stuck cells on
/// layer 3's FFN output only.
const MIXED: &str = r#"
    preset = "isaac-32nm"
    [[layers.overrides]]
    target = "*.ffn_out"
    mapping = { adc = { adc_bits = 6 }, input_bits = 6 }
    [[layers.overrides]]
    target = "3.ffn_out"
    device = { stuck_at = { rate_g_max = 0.01 } }
"#;

#[test]
fn layer_overrides_merge_a_mapping_over_the_top_level_one() {
    let hw = HardwareConfig::from_toml_str(MIXED, "t").unwrap();
    let out3 = LinearName::encoder(3, LinearKind::Output);
    let out2 = LinearName::encoder(2, LinearKind::Output);
    let in3 = LinearName::encoder(3, LinearKind::Intermediate);
    for name in [&out3, &out2] {
        let m = hw.mapping_for(name);
        assert_eq!((m.adc.adc_bits, m.input_bits), (6, 6), "{name}");
        // the rest of [mapping] is the preset's
        let rest = MappingConfig {
            adc: m.adc.clone(),
            input_bits: m.input_bits,
            ..hw.mapping.clone()
        };
        assert_eq!(m, &rest, "{name}");
        assert_eq!(m.adc.range, crossbar::AdcRange::Calibrated);
    }
    assert_eq!(hw.mapping_for(&in3), &hw.mapping);
    assert_eq!(hw.mapping.adc.adc_bits, 8);
    // a device-only override after a mapping-only one of the same linear: each applies
    assert_eq!(hw.device_for(&out3).stuck_at.rate_g_max, 0.01);
    assert_eq!(hw.device_for(&out2), &hw.device);
    assert_eq!(hw.mapping_for(&out3).adc.adc_bits, 6);
}

#[test]
fn the_last_override_that_sets_a_section_wins() {
    let text = format!(
        "{MIXED}\n[[layers.overrides]]\ntarget = \"3.*\"\nmapping = {{ adc = {{ adc_bits = 5 }} }}"
    );
    let hw = HardwareConfig::from_toml_str(&text, "t").unwrap();
    let out3 = LinearName::encoder(3, LinearKind::Output);
    // the later override's mapping replaces the earlier one whole (merged over [mapping],
    // not over the earlier override): input_bits is [mapping]'s again
    let m = hw.mapping_for(&out3);
    assert_eq!((m.adc.adc_bits, m.input_bits), (5, 8));
    assert_eq!(
        hw.mapping_for(&LinearName::encoder(2, LinearKind::Output))
            .adc
            .adc_bits,
        6
    );
    assert_eq!(hw.device_for(&out3).stuck_at.rate_g_max, 0.01);
}

#[test]
fn an_override_mapping_is_validated_naming_the_override_and_key() {
    let bad = [
        // (override's mapping, key, what the error must say)
        (
            "adc = { adc_bits = 0 }",
            "layers.overrides[0].mapping.adc.adc_bits",
            "1 to 24",
        ),
        // the ADC energy table of isaac-32nm spans 4–10 bits
        (
            "adc = { adc_bits = 3 }",
            "layers.overrides[0].mapping.adc.adc_bits",
            "3",
        ),
        (
            "weight_bits = 1",
            "layers.overrides[0].mapping.weight_bits",
            "2 to 24 bits",
        ),
        (
            "array_cols = 4",
            "layers.overrides[0].mapping.array_cols",
            "at least 8",
        ),
        (
            "adc = { adc_bitz = 6 }",
            "layers.overrides[0].mapping.adc",
            "adc_bitz",
        ),
        (
            "encoding = \"twos\"",
            "layers.overrides[0].mapping.encoding",
            "twos",
        ),
    ];
    for (mapping, key, want) in bad {
        let text = format!(
            "preset = \"isaac-32nm\"\n[[layers.overrides]]\ntarget = \"*.ffn_out\"\n\
             mapping = {{ {mapping} }}"
        );
        let err = HardwareConfig::from_toml_str(&text, "f.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(key) && err.contains(want) && err.contains("\"*.ffn_out\""),
            "{mapping}: {err}"
        );
    }
    // a device error names its override too
    let text = "[[layers.overrides]]\ntarget = \"2.key\"\n\
                device = { programming = { model = \"relative\", sigma = -1.0 } }";
    let err = HardwareConfig::from_toml_str(text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layers.overrides[0].device.programming.sigma") && err.contains("\"2.key\""),
        "{err}"
    );
}

#[test]
fn an_override_must_set_device_or_mapping() {
    let text = "[[layers.overrides]]\ntarget = \"2.key\"";
    let err = HardwareConfig::from_toml_str(text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layers.overrides[0]")
            && err.contains("`device` and `mapping`")
            && err.contains("\"2.key\""),
        "{err}"
    );
    let text = "[[layers.overrides]]\ntarget = \"2.key\"\nmapping = { input_bits = 6 }\nwhat = 1";
    let err = HardwareConfig::from_toml_str(text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layers.overrides[0]") && err.contains("what"),
        "{err}"
    );
}

#[test]
fn a_description_with_mapping_overrides_round_trips_through_toml() {
    let hw = HardwareConfig::from_toml_str(MIXED, "t").unwrap();
    let shown = hw.to_toml();
    let again = HardwareConfig::from_toml_str(&shown, "shown").unwrap();
    assert_eq!(hw, again);
    // the sweep's base table reads back too
    let table = toml::Table::try_from(&hw).unwrap();
    assert_eq!(HardwareConfig::from_table(table, "base").unwrap(), hw);
    // a description without mapping overrides writes none (its config_hash is unchanged)
    let device_only = HardwareConfig::from_toml_str(
        "[[layers.overrides]]\ntarget = \"3.ffn_out\"\ndevice = { stuck_at = { rate_g_max = 0.01 } }",
        "t",
    )
    .unwrap();
    assert!(
        !device_only.to_toml().contains("mapping = "),
        "{}",
        device_only.to_toml()
    );
    assert!(!device_only.to_toml().contains("overrides.mapping"));
}
