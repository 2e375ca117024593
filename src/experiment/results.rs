//! The results CSV: one row per work item, written so that no kill can corrupt it.
//!
//! Columns (DESIGN.md §5), in order:
//!
//! | column | meaning |
//! |---|---|
//! | `model`, `task`, `split`, `limit` | what ran (`limit` empty = whole split) |
//! | one per swept key, e.g. `adc.bits` | the point's hardware setting |
//! | `scope` | fault-injection target (`all` when unscoped) |
//! | `seed` | chip instance |
//! | `metric`, `value` | task metric name and its value on the emulated hardware |
//! | `digital_value`, `delta` | the digital (float) baseline and `value − digital_value` |
//! | `energy_pj_per_inference` | total energy of one inference, pJ |
//! | `energy_<component>_pj` | one column per component declared by the evaluator, pJ |
//! | `latency_ns`, `area_mm2`, `arrays` | latency of one inference, chip area, arrays used |
//! | evaluator extras | as declared by the evaluator |
//! | `seconds` | wall time of the row's evaluation |
//! | `version` | crossbert version (`CARGO_PKG_VERSION`) |
//! | `config_hash` | see [`crate::experiment::hash`] |
//! | `shard` | `I/N` of the run that wrote the row |
//!
//! The *key* of a row is every column before `metric`; the *point key* every column before
//! `seed`. Rows are written with one `write` call each, then flushed and fsync'd, so a kill
//! can at worst leave one incomplete last line. [`ResultsWriter::resume`] cuts such a line
//! off (saying so on stderr) and reports the finished keys; any other damage is an error,
//! never a silent rewrite.
use anyhow::{bail, Context};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Key columns that precede the swept keys.
pub const LEADING_KEY_COLUMNS: [&str; 4] = ["model", "task", "split", "limit"];

/// Column names the sweep itself writes; swept keys and evaluator extras may not use them.
pub const RESERVED_COLUMNS: [&str; 18] = [
    "model",
    "task",
    "split",
    "limit",
    "scope",
    "seed",
    "metric",
    "value",
    "digital_value",
    "delta",
    "energy_pj_per_inference",
    "latency_ns",
    "area_mm2",
    "arrays",
    "seconds",
    "version",
    "config_hash",
    "shard",
];

/// The full header for the given key columns, energy components and extra columns.
pub fn header(
    key_columns: &[String],
    energy_components: &[String],
    extra_columns: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut header: Vec<String> = key_columns.to_vec();
    header.extend(
        [
            "metric",
            "value",
            "digital_value",
            "delta",
            "energy_pj_per_inference",
        ]
        .map(String::from),
    );
    header.extend(energy_components.iter().map(|c| format!("energy_{c}_pj")));
    header.extend(["latency_ns", "area_mm2", "arrays"].map(String::from));
    for extra in extra_columns {
        if RESERVED_COLUMNS.contains(&extra.as_str()) {
            bail!("evaluator extra column {extra:?} clashes with a reserved results column");
        }
    }
    header.extend(extra_columns.iter().cloned());
    header.extend(["seconds", "version", "config_hash", "shard"].map(String::from));
    for (i, column) in header.iter().enumerate() {
        if header[..i].contains(column) {
            bail!("results column {column:?} would appear twice (check the evaluator's energy components and extra columns)");
        }
    }
    Ok(header)
}

/// Encodes one CSV record, `\n`-terminated.
fn encode(fields: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(fields)?;
    Ok(writer.into_inner().map_err(|e| e.into_error())?)
}

/// One parsed row and the 1-based line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    pub fields: Vec<String>,
}

/// A complete results file in memory.
#[derive(Debug, Clone)]
pub struct ResultsTable {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

impl ResultsTable {
    /// Reads a finished results file. A torn last line is an error here (only a resumed
    /// sweep may repair it).
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if let Some(tail) = torn_tail(&bytes) {
            bail!(
                "{}: the last line is incomplete ({} bytes without a final newline): the sweep \
                 writing it was interrupted; run `crossbert sweep --resume` on it to repair",
                path.display(),
                tail
            );
        }
        Self::parse(path, &bytes)
    }

    fn parse(path: &Path, bytes: &[u8]) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut records = reader.records();
        let header: Vec<String> = match records.next() {
            Some(record) => record
                .with_context(|| format!("{}: line 1 (header)", path.display()))?
                .iter()
                .map(String::from)
                .collect(),
            None => bail!("{}: empty file, expected a results header", path.display()),
        };
        let mut rows = Vec::new();
        for record in records {
            let record = record.with_context(|| format!("{}: unreadable CSV", path.display()))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != header.len() {
                bail!(
                    "{}: line {line}: expected {} fields as in the header, found {}",
                    path.display(),
                    header.len(),
                    record.len()
                );
            }
            rows.push(Row {
                line,
                fields: record.iter().map(String::from).collect(),
            });
        }
        Ok(ResultsTable {
            path: path.to_path_buf(),
            header,
            rows,
        })
    }

    /// Index of a column, or an error listing the columns there are.
    pub fn column(&self, name: &str) -> anyhow::Result<usize> {
        self.header.iter().position(|c| c == name).with_context(|| {
            format!(
                "{}: no column {name:?}; columns are: {}",
                self.path.display(),
                self.header.join(", ")
            )
        })
    }

    /// Number of key columns (all columns before `metric`).
    pub fn key_len(&self) -> anyhow::Result<usize> {
        self.column("metric")
    }

    /// Number of point-key columns (all columns before `seed`).
    pub fn point_key_len(&self) -> anyhow::Result<usize> {
        self.column("seed")
    }

    /// Fails if two rows share a key, naming both lines.
    pub fn check_unique_keys(&self) -> anyhow::Result<()> {
        let key_len = self.key_len()?;
        let mut seen: HashMap<&[String], u64> = HashMap::new();
        for row in &self.rows {
            if let Some(first) = seen.insert(&row.fields[..key_len], row.line) {
                bail!(
                    "{}: lines {first} and {} have the same key ({})",
                    self.path.display(),
                    row.line,
                    row.fields[..key_len].join(", ")
                );
            }
        }
        Ok(())
    }
}

/// Length of an incomplete last line, if the data does not end in a newline.
fn torn_tail(bytes: &[u8]) -> Option<usize> {
    match bytes.last() {
        None | Some(b'\n') => None,
        Some(_) => Some(bytes.len() - bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)),
    }
}

/// Explains how two headers differ.
pub fn header_difference(found: &[String], expected: &[String]) -> Option<String> {
    if found == expected {
        return None;
    }
    let missing: Vec<&str> = expected
        .iter()
        .filter(|c| !found.contains(c))
        .map(String::as_str)
        .collect();
    let unexpected: Vec<&str> = found
        .iter()
        .filter(|c| !expected.contains(c))
        .map(String::as_str)
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        let at = found
            .iter()
            .zip(expected)
            .position(|(f, e)| f != e)
            .unwrap_or(0);
        return Some(format!(
            "same columns in another order: column {} is {:?}, expected {:?}",
            at + 1,
            found[at],
            expected[at]
        ));
    }
    Some(format!(
        "missing columns [{}], unexpected columns [{}]",
        missing.join(", "),
        unexpected.join(", ")
    ))
}

/// Appends rows to a results file, one fsync'd write per row.
#[derive(Debug)]
pub struct ResultsWriter {
    file: File,
    path: PathBuf,
}

impl ResultsWriter {
    /// Creates a new results file with `header`; refuses to touch an existing file.
    pub fn create(path: &Path, header: &[String]) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                    "{} already exists: pass --resume to continue it, or choose another --out",
                    path.display()
                ),
                _ => anyhow::Error::new(e).context(format!("cannot create {}", path.display())),
            })?;
        let mut writer = ResultsWriter {
            file,
            path: path.to_path_buf(),
        };
        writer.append(header)?;
        Ok(writer)
    }

    /// Opens an existing results file to continue it: repairs a torn last line (saying so
    /// on stderr), checks the header equals `header` and that keys are unique, and returns
    /// the rows already there.
    pub fn resume(path: &Path, header: &[String]) -> anyhow::Result<(Self, Vec<Row>)> {
        let mut bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if let Some(tail) = torn_tail(&bytes) {
            let keep = bytes.len() - tail;
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {} to repair it", path.display()))?;
            file.set_len(keep as u64)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot truncate {}", path.display()))?;
            bytes.truncate(keep);
            eprintln!(
                "repaired {}: removed an incomplete last line ({tail} bytes after byte {keep}) \
                 left by an interrupted run; that row will be run again",
                path.display()
            );
        }
        if bytes.is_empty() {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot replace empty {}", path.display()))?;
            return Ok((Self::create(path, header)?, Vec::new()));
        }
        let table = ResultsTable::parse(path, &bytes)?;
        if let Some(difference) = header_difference(&table.header, header) {
            bail!(
                "cannot resume into {}: its header differs from this sweep's ({difference}); \
                 was it written by another spec or evaluator?",
                path.display()
            );
        }
        table.check_unique_keys()?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {} for appending", path.display()))?;
        let writer = ResultsWriter {
            file,
            path: path.to_path_buf(),
        };
        Ok((writer, table.rows))
    }

    /// Appends one record with a single write, then flushes it to disk.
    pub fn append(&mut self, fields: &[String]) -> anyhow::Result<()> {
        let line = encode(fields)?;
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot write to {}", self.path.display()))
    }
}

/// Writes a whole table to `path` through a temporary file and a rename, so that `path`
/// either keeps its old content or holds the complete new one.
pub fn write_atomically(
    path: &Path,
    header: &[String],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {}", dir.display()))?;
            dir.to_path_buf()
        }
        None => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.partial"));
    let mut bytes = encode(header)?;
    for row in rows {
        bytes.extend(encode(row)?);
    }
    let mut file =
        File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn torn_tail_measures_the_incomplete_line() {
        assert_eq!(torn_tail(b""), None);
        assert_eq!(torn_tail(b"a,b\n1,2\n"), None);
        assert_eq!(torn_tail(b"a,b\n1,"), Some(2));
        assert_eq!(torn_tail(b"a,"), Some(2));
    }

    #[test]
    fn header_differences_are_explained() {
        let expected = strings(&["a", "b", "c"]);
        assert_eq!(header_difference(&expected, &expected), None);
        let text = header_difference(&strings(&["a", "c", "b"]), &expected).unwrap();
        assert!(text.contains("column 2"), "{text}");
        let text = header_difference(&strings(&["a", "b", "d"]), &expected).unwrap();
        assert!(
            text.contains("missing columns [c]") && text.contains("[d]"),
            "{text}"
        );
    }

    #[test]
    fn header_rejects_clashing_columns() {
        let keys = strings(&["model", "seed"]);
        assert!(header(&keys, &strings(&["adc"]), &strings(&["seconds"])).is_err());
        assert!(header(&keys, &strings(&["adc", "adc"]), &[]).is_err());
    }
}
