//! The `[grid]` of a spec: swept hardware keys, their values, and the points they expand to.
//!
//! Each grid entry is a dotted hardware key and either a list of values or a range:
//!
//! ```toml
//! [grid]
//! "adc.bits" = [4, 6, 8]                                     # explicit list
//! "device.programming.sigma" = { start = 0.0, stop = 0.1, step = 0.025 }  # stop included
//! "device.stuck_at.lrs_fraction" = { start = 1e-4, stop = 1e-1, num = 4, scale = "log" }
//! ```
//!
//! A range with `step` yields `start, start+step, …` up to `stop` inclusive (integers when
//! start and step are integers); a range with `num` yields `num` evenly spaced points on a
//! `linear` (default) or `log` scale. Unquoted dotted keys (`adc.bits = [...]`) are TOML
//! nested tables and mean the same thing. Points are the Cartesian product of the axes in
//! key order (sorted), the last axis varying fastest.
use super::scope::ScopeTarget;
use crate::error::ConfigError;

/// One swept hardware key and its values, in sweep order.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted path into the hardware table, e.g. `adc.bits`.
    pub key: String,
    pub values: Vec<toml::Value>,
}

/// One hardware point: a value for every axis (in axis order) and the fault-injection
/// target those settings are restricted to (see [`crate::experiment::scope`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HardwarePoint {
    pub settings: Vec<(String, toml::Value)>,
    pub scope: ScopeTarget,
}

/// Most values one range may expand to; a typo such as `step = 1e-9` fails instead of
/// silently queueing millions of runs.
const MAX_AXIS_POINTS: usize = 10_000;

/// Reads the `[grid]` table into axes, flattening nested tables into dotted keys.
pub fn parse_grid(grid: &toml::Table) -> Result<Vec<Axis>, ConfigError> {
    let mut axes = Vec::new();
    flatten_into(grid, "", &mut axes)?;
    axes.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(axes)
}

fn flatten_into(
    table: &toml::Table,
    prefix: &str,
    axes: &mut Vec<Axis>,
) -> Result<(), ConfigError> {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::Table(t) if !t.contains_key("start") => flatten_into(t, &key, axes)?,
            _ => axes.push(parse_axis(&key, value)?),
        }
    }
    Ok(())
}

/// One grid entry: a non-empty list or a range table.
pub fn parse_axis(key: &str, value: &toml::Value) -> Result<Axis, ConfigError> {
    let spec_key = format!("grid.{key}");
    let values =
        match value {
            toml::Value::Array(list) if list.is_empty() => {
                return Err(ConfigError::new(
                    spec_key,
                    "a non-empty list of values",
                    "[]",
                ))
            }
            toml::Value::Array(list) => list.clone(),
            toml::Value::Table(range) => expand_range(&spec_key, range)?,
            other => return Err(ConfigError::new(
                spec_key,
                "a list of values or a range table {start, stop, step} / {start, stop, num, scale}",
                describe(other),
            )),
        };
    Ok(Axis {
        key: key.to_string(),
        values,
    })
}

fn expand_range(key: &str, range: &toml::Table) -> Result<Vec<toml::Value>, ConfigError> {
    for field in range.keys() {
        if !["start", "stop", "step", "num", "scale"].contains(&field.as_str()) {
            return Err(ConfigError::new(
                format!("{key}.{field}"),
                "one of start, stop, step, num, scale",
                format!("unknown field {field:?}"),
            ));
        }
    }
    let number = |field: &str| -> Result<f64, ConfigError> {
        match range.get(field) {
            Some(toml::Value::Integer(i)) => Ok(*i as f64),
            Some(toml::Value::Float(x)) if x.is_finite() => Ok(*x),
            Some(other) => Err(ConfigError::new(
                format!("{key}.{field}"),
                "a finite number",
                describe(other),
            )),
            None => Err(ConfigError::new(
                format!("{key}.{field}"),
                "a number",
                "missing",
            )),
        }
    };
    let (start, stop) = (number("start")?, number("stop")?);
    match (range.contains_key("step"), range.contains_key("num")) {
        (true, false) => {
            let step = number("step")?;
            step_range(key, range, start, stop, step)
        }
        (false, true) => even_range(key, range, start, stop),
        _ => Err(ConfigError::new(
            key,
            "exactly one of `step` or `num` in the range",
            if range.contains_key("step") {
                "both"
            } else {
                "neither"
            },
        )),
    }
}

fn step_range(
    key: &str,
    range: &toml::Table,
    start: f64,
    stop: f64,
    step: f64,
) -> Result<Vec<toml::Value>, ConfigError> {
    if range.contains_key("scale") {
        return Err(ConfigError::new(
            format!("{key}.scale"),
            "`scale` only with `num` (a step range is linear)",
            "scale given with step",
        ));
    }
    if step == 0.0 || (stop - start) * step < 0.0 {
        return Err(ConfigError::new(
            format!("{key}.step"),
            format!("a non-zero step leading from start {start} towards stop {stop}"),
            step,
        ));
    }
    // Tolerate float rounding so that `stop` is included when it lies on the step grid.
    let count = ((stop - start) / step + 1e-9).floor() as usize + 1;
    check_count(key, count)?;
    let integers = [&range["start"], &range["step"]]
        .iter()
        .all(|v| v.is_integer());
    Ok((0..count)
        .map(|i| {
            if integers {
                toml::Value::Integer((start + i as f64 * step).round() as i64)
            } else {
                toml::Value::Float(round_decimal(start + i as f64 * step))
            }
        })
        .collect())
}

fn even_range(
    key: &str,
    range: &toml::Table,
    start: f64,
    stop: f64,
) -> Result<Vec<toml::Value>, ConfigError> {
    let num = match range.get("num") {
        Some(toml::Value::Integer(n)) if *n >= 1 => *n as usize,
        other => {
            return Err(ConfigError::new(
                format!("{key}.num"),
                "an integer >= 1",
                other.map_or("missing".into(), describe),
            ))
        }
    };
    check_count(key, num)?;
    let log = match range.get("scale").map(|s| s.as_str()) {
        None | Some(Some("linear")) => false,
        Some(Some("log")) => true,
        Some(_) => {
            return Err(ConfigError::new(
                format!("{key}.scale"),
                "\"linear\" or \"log\"",
                describe(&range["scale"]),
            ))
        }
    };
    if log && (start <= 0.0 || stop <= 0.0) {
        return Err(ConfigError::new(
            key,
            "start and stop > 0 for a log-spaced range",
            format!("start {start}, stop {stop}"),
        ));
    }
    let at = |i: usize| {
        let t = if num == 1 {
            0.0
        } else {
            i as f64 / (num - 1) as f64
        };
        if log {
            (start.ln() + t * (stop.ln() - start.ln())).exp()
        } else {
            start + t * (stop - start)
        }
    };
    Ok((0..num)
        .map(|i| toml::Value::Float(round_decimal(at(i))))
        .collect())
}

fn check_count(key: &str, count: usize) -> Result<(), ConfigError> {
    if count > MAX_AXIS_POINTS {
        return Err(ConfigError::new(
            key,
            format!("at most {MAX_AXIS_POINTS} values per axis"),
            format!("{count} values"),
        ));
    }
    Ok(())
}

/// Rounds to 12 significant digits, so that `0.1 + 2·0.1` is written as `0.3` in result
/// columns rather than `0.30000000000000004`; no hardware setting is specified finer.
fn round_decimal(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap_or(x)
}

/// A short description of a TOML value for error messages: its type and its text.
pub fn describe(value: &toml::Value) -> String {
    format!("{} {}", value.type_str(), value)
}

/// The Cartesian product of the axes and then the scope targets, targets fastest. No axes
/// give one point per target (the base hardware).
pub fn expand_points(axes: &[Axis], targets: &[ScopeTarget]) -> Vec<HardwarePoint> {
    let mut points = vec![HardwarePoint {
        settings: Vec::new(),
        scope: ScopeTarget::All,
    }];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|point| {
                axis.values.iter().map(move |value| {
                    let mut settings = point.settings.clone();
                    settings.push((axis.key.clone(), value.clone()));
                    HardwarePoint {
                        settings,
                        scope: ScopeTarget::All,
                    }
                })
            })
            .collect();
    }
    points
        .into_iter()
        .flat_map(|point| {
            targets.iter().map(move |scope| HardwarePoint {
                settings: point.settings.clone(),
                scope: scope.clone(),
            })
        })
        .collect()
}

/// Checks that every axis key exists in `base` and that every value has the base value's
/// type (an integer is accepted where the base holds a float).
pub fn validate_axes(base: &toml::Table, axes: &[Axis]) -> Result<(), ConfigError> {
    for axis in axes {
        let current = lookup(base, &axis.key)?;
        for (i, value) in axis.values.iter().enumerate() {
            coerce(&format!("grid.{}[{i}]", axis.key), current, value)?;
        }
    }
    Ok(())
}

/// The value at a dotted path, or an error naming the first missing segment and what exists.
fn lookup<'a>(base: &'a toml::Table, key: &str) -> Result<&'a toml::Value, ConfigError> {
    let mut table = base;
    let mut walked = String::new();
    let segments: Vec<&str> = key.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        let here = if walked.is_empty() {
            "the top level".to_string()
        } else {
            format!("`{walked}`")
        };
        let Some(value) = table.get(*segment) else {
            let known: Vec<&str> = table.keys().map(String::as_str).collect();
            return Err(ConfigError::new(
                format!("grid.{key}"),
                format!(
                    "a key of the base hardware; {here} has: {}",
                    known.join(", ")
                ),
                format!("no key `{segment}`"),
            ));
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(segment);
        if i + 1 == segments.len() {
            return Ok(value);
        }
        table = value.as_table().ok_or_else(|| {
            ConfigError::new(
                format!("grid.{key}"),
                format!("`{walked}` to be a table"),
                describe(value),
            )
        })?;
    }
    unreachable!("split always yields at least one segment")
}

/// The override as it will be stored: same type as `current`, or an error.
fn coerce(
    key: &str,
    current: &toml::Value,
    value: &toml::Value,
) -> Result<toml::Value, ConfigError> {
    use toml::Value::*;
    match (current, value) {
        (Float(_), Integer(i)) => Ok(Float(*i as f64)),
        (Table(_), _) => Err(ConfigError::new(
            key,
            "a leaf setting (this key is a whole table in the base hardware)",
            describe(value),
        )),
        (c, v) if c.same_type(v) => Ok(v.clone()),
        (c, v) => Err(ConfigError::new(
            key,
            format!("a {} (the type in the base hardware)", c.type_str()),
            describe(v),
        )),
    }
}

/// The base table with the point's overrides applied. Call [`validate_axes`] first; a key
/// that does not exist is reported the same way here.
pub fn apply_point(base: &toml::Table, point: &HardwarePoint) -> Result<toml::Table, ConfigError> {
    let mut table = base.clone();
    for (key, value) in &point.settings {
        let coerced = coerce(&format!("grid.{key}"), lookup(base, key)?, value)?;
        let mut cursor = &mut table;
        let segments: Vec<&str> = key.split('.').collect();
        let (leaf, parents) = segments.split_last().expect("non-empty key");
        for segment in parents {
            cursor = cursor
                .get_mut(*segment)
                .and_then(toml::Value::as_table_mut)
                .expect("lookup checked the path");
        }
        cursor.insert(leaf.to_string(), coerced);
    }
    Ok(table)
}

/// The text of a value in a results column: TOML's own spelling, without quotes for strings.
pub fn cell_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(x) => format!("{x}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn step_range_includes_stop_and_rounds() {
        let axis = parse_axis(
            "x",
            &toml::Value::Table(table("start = 0.0\nstop = 0.3\nstep = 0.1")),
        )
        .unwrap();
        let cells: Vec<String> = axis.values.iter().map(cell_text).collect();
        assert_eq!(cells, ["0", "0.1", "0.2", "0.3"]);
    }

    #[test]
    fn integer_step_range_stays_integer() {
        let axis = parse_axis(
            "b",
            &toml::Value::Table(table("start = 4\nstop = 8\nstep = 2")),
        )
        .unwrap();
        assert_eq!(
            axis.values,
            vec![
                toml::Value::Integer(4),
                toml::Value::Integer(6),
                toml::Value::Integer(8)
            ]
        );
    }

    #[test]
    fn log_range_is_geometric() {
        let axis = parse_axis(
            "f",
            &toml::Value::Table(table("start = 1e-4\nstop = 1e-1\nnum = 4\nscale = \"log\"")),
        )
        .unwrap();
        let cells: Vec<String> = axis.values.iter().map(cell_text).collect();
        assert_eq!(cells, ["0.0001", "0.001", "0.01", "0.1"]);
    }

    #[test]
    fn bad_ranges_name_the_key() {
        for (text, key) in [
            ("start = 0\nstop = 1\nstep = 0", "grid.x.step"),
            ("start = 0\nstop = 1\nstep = -1", "grid.x.step"),
            ("start = 0\nstop = 1", "grid.x"),
            (
                "start = 0\nstop = 1\nnum = 3\nscale = \"cubic\"",
                "grid.x.scale",
            ),
            ("start = 0\nstop = 1\nnum = 3\nscale = \"log\"", "grid.x"),
            ("start = 0\nstop = 1\nstep = 1\nsteps = 2", "grid.x.steps"),
            ("start = 0\nstop = 1e9\nstep = 1", "grid.x"),
        ] {
            let err = parse_axis("x", &toml::Value::Table(table(text))).unwrap_err();
            assert_eq!(err.key, key, "for range {text:?}");
        }
    }

    #[test]
    fn points_are_a_product_with_last_axis_fastest() {
        let axes = parse_grid(&table("a = [1, 2]\nb = [\"x\", \"y\", \"z\"]")).unwrap();
        let points = expand_points(&axes, &[ScopeTarget::All]);
        assert_eq!(points.len(), 6);
        assert_eq!(cell_text(&points[1].settings[1].1), "y");
        assert_eq!(cell_text(&points[3].settings[0].1), "2");
    }

    #[test]
    fn overrides_are_checked_and_applied() {
        let base = table("[adc]\nbits = 8\nrange = \"calibrated\"\n[device]\nsigma = 0.02");
        let axes = parse_grid(&table("adc.bits = [4]\n\"device.sigma\" = [0]")).unwrap();
        validate_axes(&base, &axes).unwrap();
        let hw = apply_point(&base, &expand_points(&axes, &[ScopeTarget::All])[0]).unwrap();
        assert_eq!(hw["adc"]["bits"].as_integer(), Some(4));
        assert_eq!(hw["device"]["sigma"].as_float(), Some(0.0));
        assert_eq!(hw["adc"]["range"].as_str(), Some("calibrated"));

        let missing = parse_grid(&table("\"adc.bitz\" = [4]")).unwrap();
        let err = validate_axes(&base, &missing).unwrap_err();
        assert_eq!(err.key, "grid.adc.bitz");
        assert!(err.expected.contains("bits"), "{err}");

        let wrong_type = parse_grid(&table("\"adc.bits\" = [4.5]")).unwrap();
        let err = validate_axes(&base, &wrong_type).unwrap_err();
        assert_eq!(err.key, "grid.adc.bits[0]");
        assert!(err.expected.contains("integer"), "{err}");
    }
}
