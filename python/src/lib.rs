//! `crossbert._crossbert`: the native half of the Python package `crossbert`.
//!
//! Thin bindings over the emulator's own library functions: [`crossbert::report::evaluate`]
//! (what `crossbert eval --json` prints), [`crossbert::cli::sweep::run_reporting`] (what
//! `crossbert sweep` runs), the hardware resolution and the sweep grid's dotted overrides
//! ([`crossbert::experiment::grid`]), and one [`mapping::MappedMatrix`] priced with the
//! hardware's technology table. Structured results cross the boundary as JSON (hardware as
//! the TOML `crossbert hardware` prints), which `crossbert/__init__.py` parses, so a dict
//! holds exactly what the command line prints. Every long call releases the GIL; every
//! Rust error becomes `crossbert.CrossbertError` (a `RuntimeError`) or, for bad arguments
//! and descriptions, `crossbert.CrossbertValueError` (also a `ValueError`), with the
//! command line's message (`{err:#}`).

use std::path::PathBuf;

use crossbert::energy::{energy, TechnologyTable};
use crossbert::experiment::grid::{apply_point, validate_axes, Axis, HardwarePoint};
use crossbert::experiment::{ScopeTarget, Shard};
use crossbert::hardware::{HardwareConfig, HardwareError};
use crossbert::report::EvalRequest;
use mapping::{MappedMatrix, MappingError};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Which exception class a Rust error becomes.
#[derive(Clone, Copy)]
enum Kind {
    /// `crossbert.CrossbertError(RuntimeError)`: the run failed.
    Runtime,
    /// `crossbert.CrossbertValueError(CrossbertError, ValueError)`: a bad argument,
    /// hardware description or shape.
    Value,
}

/// The Python exception of `kind` with `message` (classes live in `crossbert._errors`).
fn py_error(py: Python<'_>, kind: Kind, message: String) -> PyErr {
    let name = match kind {
        Kind::Runtime => "CrossbertError",
        Kind::Value => "CrossbertValueError",
    };
    let class = py
        .import("crossbert._errors")
        .and_then(|m| m.getattr(name))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match class {
        Ok(class) => PyErr::from_type(class, message),
        // Only when the package's Python half is missing (a bare native module).
        Err(_) => match kind {
            Kind::Runtime => pyo3::exceptions::PyRuntimeError::new_err(message),
            Kind::Value => pyo3::exceptions::PyValueError::new_err(message),
        },
    }
}

/// An anyhow error as the command line prints it (without its `error: `).
fn anyhow_error(py: Python<'_>, err: anyhow::Error) -> PyErr {
    py_error(py, Kind::Runtime, format!("{err:#}"))
}

fn hardware_error(py: Python<'_>, err: HardwareError) -> PyErr {
    let kind = match err {
        HardwareError::Io { .. } => Kind::Runtime,
        _ => Kind::Value,
    };
    py_error(py, kind, format!("{:#}", anyhow::Error::from(err)))
}

fn mapping_error(py: Python<'_>, err: MappingError) -> PyErr {
    let kind = match err {
        MappingError::NotCalibrated { .. } => Kind::Runtime,
        _ => Kind::Value,
    };
    py_error(py, kind, format!("{:#}", anyhow::Error::from(err)))
}

fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("plain data always serializes to JSON")
}

/// A hardware description given as `kind`: `preset` (a shipped preset name), `file` (a
/// hardware TOML file), `preset_or_file` (a file if it ends in `.toml`, else a preset, as a
/// sweep's `base`) or `json` (a dict such as `crossbert.hardware` returns, as JSON: read
/// exactly like a hardware file, over its `preset` if it names one).
fn resolve(kind: &str, value: &str) -> Result<HardwareConfig, HardwareError> {
    match kind {
        "preset" => HardwareConfig::preset(value),
        "file" => HardwareConfig::from_file(std::path::Path::new(value)),
        "preset_or_file" => HardwareConfig::preset_or_file(value),
        "json" => {
            let origin = "the hardware dict";
            let field = |message: String| HardwareError::Field {
                origin: origin.to_string(),
                key: "(top level)".to_string(),
                message,
            };
            let mut table = match serde_json::from_str::<toml::Value>(value) {
                Ok(toml::Value::Table(table)) => table,
                Ok(other) => return Err(field(format!("expected a table, found {other}"))),
                Err(e) => return Err(field(e.to_string())),
            };
            // `crossbert.hardware` of a file without a preset says `preset = "none"`.
            if table.get("preset").and_then(toml::Value::as_str) == Some("none") {
                table.remove("preset");
            }
            let text = toml::to_string(&table).map_err(|e| HardwareError::Syntax {
                origin: origin.to_string(),
                message: e.to_string(),
            })?;
            HardwareConfig::from_toml_str(&text, origin)
        }
        other => Err(HardwareError::Field {
            origin: "crossbert._crossbert".to_string(),
            key: "kind".to_string(),
            message: format!("expected preset, file, preset_or_file or json, found {other:?}"),
        }),
    }
}

/// The hardware with dotted-key `overrides` (a JSON object: key → value) applied the way a
/// sweep grid applies a point: every key must name a leaf of the resolved description and
/// keep its type (an integer is accepted for a float).
fn with_overrides(
    hardware: HardwareConfig,
    overrides: &str,
) -> Result<HardwareConfig, HardwareError> {
    let origin = format!("hardware {} with overrides", hardware.preset);
    let invalid = |mut error: crossbert::error::ConfigError| {
        // The grid's keys read `grid.KEY[i]`; here the key is the override's own.
        let key = error.key.strip_prefix("grid.").unwrap_or(&error.key);
        error.key = key.strip_suffix("[0]").unwrap_or(key).to_string();
        HardwareError::Invalid {
            origin: origin.clone(),
            error,
        }
    };
    let overrides: serde_json::Map<String, serde_json::Value> = serde_json::from_str(overrides)
        .map_err(|e| HardwareError::Syntax {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
    if overrides.is_empty() {
        return Ok(hardware);
    }
    let base = toml::Table::try_from(&hardware).expect("a resolved hardware config serializes");
    let mut settings = Vec::new();
    for (key, value) in overrides {
        let value: toml::Value = serde_json::from_value(value.clone()).map_err(|e| {
            invalid(crossbert::error::ConfigError::new(
                key.clone(),
                "a TOML value (number, string, boolean or list)",
                format!("{value} ({e})"),
            ))
        })?;
        settings.push((key, value));
    }
    let axes: Vec<Axis> = settings
        .iter()
        .map(|(key, value)| Axis {
            key: key.clone(),
            values: vec![value.clone()],
        })
        .collect();
    validate_axes(&base, &axes).map_err(invalid)?;
    let point = HardwarePoint {
        settings,
        scope: ScopeTarget::All,
    };
    let table = apply_point(&base, &point).map_err(invalid)?;
    HardwareConfig::from_table(table, &origin)
}

/// `crossbert.hardware`: the resolved description as TOML text.
#[pyfunction]
#[pyo3(signature = (kind, value, overrides = "{}"))]
fn hardware_toml(py: Python<'_>, kind: &str, value: &str, overrides: &str) -> PyResult<String> {
    resolve(kind, value)
        .and_then(|hw| with_overrides(hw, overrides))
        .map(|hw| hw.to_toml())
        .map_err(|e| hardware_error(py, e))
}

/// `crossbert.presets`: (name, summary) of the shipped presets.
#[pyfunction]
fn presets() -> Vec<(&'static str, &'static str)> {
    crossbert::hardware::PRESETS
        .iter()
        .map(|(name, summary, _)| (*name, *summary))
        .collect()
}

/// `crossbert.evaluate`: the report JSON and the logits (examples × labels).
#[pyfunction]
#[pyo3(signature = (model, task, data, hw_kind, hw_value, seed, limit, split, max_len, batch_size))]
#[allow(clippy::too_many_arguments)]
fn evaluate<'py>(
    py: Python<'py>,
    model: PathBuf,
    task: String,
    data: PathBuf,
    hw_kind: Option<&str>,
    hw_value: Option<&str>,
    seed: u64,
    limit: Option<usize>,
    split: String,
    max_len: usize,
    batch_size: usize,
) -> PyResult<(String, Bound<'py, PyArray2<f32>>)> {
    let hardware = match (hw_kind, hw_value) {
        (Some(kind), Some(value)) => Some(resolve(kind, value).map_err(|e| hardware_error(py, e))?),
        _ => None,
    };
    let request = EvalRequest {
        model,
        task,
        data,
        split,
        limit,
        max_len,
        batch_size,
        hardware,
        seed,
        progress: false,
    };
    let report = py
        .detach(|| crossbert::report::evaluate(&request))
        .map_err(|e| anyhow_error(py, e))?;
    let logits = &report.result.logits;
    let array = Array2::from_shape_vec((logits.rows(), logits.cols()), logits.as_slice().to_vec())
        .expect("logits are rows × cols");
    let json = serde_json::Value::Object(report.to_json()).to_string();
    Ok((json, array.into_pyarray(py)))
}

/// `crossbert.sweep`: (planned, skipped, ran, output path, shard).
#[pyfunction]
#[pyo3(signature = (spec, out, resume, shard, threads))]
fn sweep(
    py: Python<'_>,
    spec: PathBuf,
    out: Option<PathBuf>,
    resume: bool,
    shard: Option<&str>,
    threads: usize,
) -> PyResult<(usize, usize, usize, PathBuf, String)> {
    let shard = shard
        .map(|s| s.parse::<Shard>())
        .transpose()
        .map_err(|e| py_error(py, Kind::Value, e))?;
    let args = crossbert::cli::sweep::SweepArgs {
        spec,
        out,
        resume,
        shard,
        threads,
        models: Vec::new(),
        data: None,
        dry_run: false,
    };
    let run = py
        .detach(|| crossbert::cli::sweep::run_reporting(args, crossbert::cli::sweep::evaluator))
        .map_err(|e| anyhow_error(py, e))?
        .expect("not a dry run");
    let o = run.outcome;
    Ok((o.planned, o.skipped, o.ran, run.out, run.shard.to_string()))
}

/// `crossbert._synth`: a random-weight checkpoint for the architecture `config_json`.
#[pyfunction]
#[pyo3(signature = (out, config_json, seed, num_labels))]
fn synth(
    py: Python<'_>,
    out: PathBuf,
    config_json: &str,
    seed: u64,
    num_labels: usize,
) -> PyResult<(usize, usize, u64)> {
    let config: serde_json::Value = serde_json::from_str(config_json)
        .map_err(|e| py_error(py, Kind::Value, format!("config: {e}")))?;
    let options = crossbert::synth::SynthOptions {
        seed,
        dtype: crossbert::synth::StoredDtype::F32,
        num_labels,
        tokenizer: None,
    };
    let summary = py
        .detach(|| crossbert::synth::synthesize(&config, &options, &out))
        .map_err(|e| anyhow_error(py, e))?;
    Ok((summary.tensors, summary.parameters, summary.weight_bytes))
}

/// One weight matrix programmed onto crossbar arrays (`crossbert.program`).
#[pyclass(name = "MappedMatrix", module = "crossbert._crossbert")]
struct PyMapped {
    inner: MappedMatrix,
    hardware: HardwareConfig,
    tech: TechnologyTable,
    seed: u64,
    /// Read ids handed out so far: each forward pass reads new per-read noise.
    reads: u64,
}

/// The rows of a C-contiguous float32 matrix, copied (the GIL is released while they are
/// used, so the array must not be shared with Python meanwhile).
fn rows_of(py: Python<'_>, x: &PyReadonlyArray2<'_, f32>) -> PyResult<(Vec<f32>, usize, usize)> {
    let shape = x.shape();
    let (rows, cols) = (shape[0], shape[1]);
    let data = x
        .as_slice()
        .map_err(|e| {
            py_error(
                py,
                Kind::Value,
                format!("expected a C-contiguous array: {e}"),
            )
        })?
        .to_vec();
    Ok((data, rows, cols))
}

/// `crossbert.program`: `weight` (out × in, PyTorch Linear layout) on the hardware's
/// arrays, device draws of chip instance `seed`.
#[pyfunction]
#[pyo3(signature = (weight, hw_kind, hw_value, seed))]
fn program(
    py: Python<'_>,
    weight: PyReadonlyArray2<'_, f32>,
    hw_kind: &str,
    hw_value: &str,
    seed: u64,
) -> PyResult<PyMapped> {
    let hardware = resolve(hw_kind, hw_value).map_err(|e| hardware_error(py, e))?;
    let tech = hardware
        .energy
        .resolve("energy")
        .map_err(|e| py_error(py, Kind::Value, format!("{:#}", anyhow::Error::from(e))))?;
    let (w, out_features, in_features) = rows_of(py, &weight)?;
    let (cfg, device) = (&hardware.mapping, &hardware.device);
    let inner = py
        .detach(|| MappedMatrix::program(&w, out_features, in_features, cfg, device, seed, 0))
        .map_err(|e| py_error(py, Kind::Value, format!("{:#}", anyhow::Error::from(e))))?;
    Ok(PyMapped {
        inner,
        hardware,
        tech,
        seed,
        reads: 0,
    })
}

#[pymethods]
impl PyMapped {
    /// Calibrated input scale and ADC ranges from sample inputs `x` (tokens × in).
    fn calibrate(&mut self, py: Python<'_>, x: PyReadonlyArray2<'_, f32>) -> PyResult<()> {
        let (x, tokens, _) = rows_of(py, &x)?;
        let inner = &mut self.inner;
        py.detach(|| inner.calibrate(&x, tokens))
            .map_err(|e| mapping_error(py, e))
    }

    /// y = x·Wᵀ for `x` (tokens × in): (outputs, events JSON, energy-by-component JSON).
    /// Read ids `first_read, first_read + 1, …` (default: continue after the last pass).
    #[pyo3(signature = (x, first_read = None))]
    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f32>,
        first_read: Option<u64>,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, String, String)> {
        let (x, tokens, _) = rows_of(py, &x)?;
        let first = first_read.unwrap_or(self.reads);
        let reads = mapping::read_ids(first, tokens);
        let inner = &self.inner;
        let (y, events) = py
            .detach(|| inner.forward(&x, tokens, &reads))
            .map_err(|e| mapping_error(py, e))?;
        self.reads = self.reads.max(first + tokens as u64);
        let events = crossbert::energy::EventCounts::from(events);
        let breakdown = energy(&events, &self.tech)
            .map_err(|e| py_error(py, Kind::Value, format!("{:#}", anyhow::Error::from(e))))?;
        let by_component: serde_json::Map<String, serde_json::Value> = breakdown
            .components()
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect();
        let outputs = Array2::from_shape_vec((tokens, self.inner.out_features()), y)
            .expect("forward gives tokens × out");
        Ok((
            outputs.into_pyarray(py),
            json_text(&events.tiles),
            json_text(&by_component),
        ))
    }

    /// Arrays, cells, utilization, converters and events per token, as JSON.
    fn report(&self) -> String {
        let mut report = match serde_json::to_value(self.inner.report()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => unreachable!("a MappingReport serializes to an object"),
        };
        report.insert("hardware".into(), self.hardware.preset.clone().into());
        report.insert("seed".into(), self.seed.into());
        serde_json::Value::Object(report).to_string()
    }

    /// The resolved hardware description as TOML.
    fn hardware_toml(&self) -> String {
        self.hardware.to_toml()
    }

    #[getter]
    fn in_features(&self) -> usize {
        self.inner.in_features()
    }

    #[getter]
    fn out_features(&self) -> usize {
        self.inner.out_features()
    }
}

#[pymodule]
fn _crossbert(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hardware_toml, m)?)?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(synth, m)?)?;
    m.add_function(wrap_pyfunction!(program, m)?)?;
    m.add_class::<PyMapped>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
