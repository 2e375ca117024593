//! The sweep's evaluator: BERT on the emulated chip ([`crate::backend`]), one job a chip
//! instance.
//!
//! A fault-injection job (a [`Scope`] with keys) keeps the base hardware's values of the
//! scoped keys everywhere and applies the point's values only to the linears of the scope's
//! target, as a `[[layers.overrides]]` entry of the hardware description. Only device
//! settings (`device.…`) can be scoped, since they are the ones a single layer can differ in.

use super::scope::{Scope, ScopeTarget};
use anyhow::{bail, Context};

/// The hardware table of a job: `point` (base + the point's overrides) with the scoped keys
/// moved from the whole chip into a layer override for `scope.target`.
pub fn scoped_hardware(
    point: &toml::Table,
    base: &toml::Table,
    scope: &Scope,
) -> anyhow::Result<toml::Table> {
    if scope.keys.is_empty() || scope.target == ScopeTarget::All {
        return Ok(point.clone());
    }
    let mut table = point.clone();
    let mut device = toml::Table::new();
    for key in &scope.keys {
        let Some(device_key) = key.strip_prefix("device.") else {
            bail!("scope.keys: expected device settings (`device.…`), found {key:?}");
        };
        let value = get(point, key).with_context(|| format!("scope key {key}"))?;
        let base_value = get(base, key).with_context(|| format!("scope key {key}"))?;
        set(&mut table, key, base_value.clone());
        set(&mut device, device_key, value.clone());
    }
    let mut entry = toml::Table::new();
    entry.insert("target".into(), scope.target.to_string().into());
    entry.insert("device".into(), device.into());
    let layers = table
        .entry("layers")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .context("hardware `layers` is not a table")?;
    let overrides = layers
        .entry("overrides")
        .or_insert_with(|| toml::Value::Array(Vec::new()))
        .as_array_mut()
        .context("hardware `layers.overrides` is not an array")?;
    overrides.push(entry.into());
    Ok(table)
}

fn get<'a>(table: &'a toml::Table, key: &str) -> anyhow::Result<&'a toml::Value> {
    let mut value = None;
    let mut cursor = table;
    for segment in key.split('.') {
        let v = cursor
            .get(segment)
            .with_context(|| format!("no key `{segment}`"))?;
        value = Some(v);
        if let Some(t) = v.as_table() {
            cursor = t;
        }
    }
    value.context("empty key")
}

fn set(table: &mut toml::Table, key: &str, value: toml::Value) {
    let segments: Vec<&str> = key.split('.').collect();
    let (leaf, parents) = segments.split_last().expect("split yields one segment");
    let mut cursor = table;
    for segment in parents {
        cursor = cursor
            .entry(segment.to_string())
            .or_insert_with(|| toml::Table::new().into())
            .as_table_mut()
            .expect("hardware tables nest tables");
    }
    cursor.insert(leaf.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{HardwareConfig, LinearKind, LinearName};

    #[test]
    fn scoped_keys_apply_only_inside_the_target() {
        let base = HardwareConfig::base_table("isaac-32nm").unwrap();
        let mut point = base.clone();
        set(&mut point, "device.stuck_at.rate_g_max", 0.05.into());
        set(&mut point, "mapping.adc.adc_bits", 6.into());
        let scope = Scope {
            target: ScopeTarget::parse("3.ffn_out", "test").unwrap(),
            keys: vec!["device.stuck_at.rate_g_max".into()],
        };
        let table = scoped_hardware(&point, &base, &scope).unwrap();
        let hw = HardwareConfig::from_table(table, "job").unwrap();
        assert_eq!(hw.device.stuck_at.rate_g_max, 0.0);
        assert_eq!(hw.mapping.adc.adc_bits, 6, "unscoped keys stay global");
        let inside = LinearName::encoder(3, LinearKind::Output);
        let outside = LinearName::encoder(2, LinearKind::Output);
        assert_eq!(hw.device_for(&inside).stuck_at.rate_g_max, 0.05);
        assert_eq!(hw.device_for(&outside).stuck_at.rate_g_max, 0.0);

        let bad = Scope {
            target: scope.target,
            keys: vec!["mapping.adc.adc_bits".into()],
        };
        let err = scoped_hardware(&point, &base, &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("scope.keys") && err.contains("mapping.adc.adc_bits"),
            "{err}"
        );
    }
}
