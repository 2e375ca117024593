//! `crossbert merge`: join the shard files of one sweep into one results file.
//!
//! Every input must be a complete results file (a torn last line means its shard was
//! interrupted: resume it first) with the same header. No key may appear twice. Given the
//! plan (from `--spec`), every key of the sweep must be present and no other key; the
//! output is then written in work-list order, which makes it identical to an unsharded
//! run's file apart from the `seconds` and `shard` columns and the row order of a
//! multi-threaded run. Without a plan, rows keep input order. The output is written
//! through a temporary file and only when every check passes.
use super::plan::SweepPlan;
use super::results::{header_difference, write_atomically, ResultsTable};
use anyhow::{bail, Context};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a successful merge wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeReport {
    pub files: usize,
    pub rows: usize,
}

/// At most this many example keys per problem in an error message.
const EXAMPLES: usize = 10;

/// Merges `inputs` into `out`, checking them against `plan` when given.
pub fn merge_results(
    inputs: &[PathBuf],
    out: &Path,
    plan: Option<&SweepPlan>,
) -> anyhow::Result<MergeReport> {
    if inputs.is_empty() {
        bail!("merge: expected at least one input file, found none");
    }
    for input in inputs {
        if same_file(input, out) {
            bail!(
                "merge: --out {} is also an input; write the merge to a new file",
                out.display()
            );
        }
    }
    let tables = inputs
        .iter()
        .map(|p| ResultsTable::read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let header = &tables[0].header;
    for table in &tables[1..] {
        if let Some(difference) = header_difference(&table.header, header) {
            bail!(
                "merge: header of {} differs from {}: {difference}",
                table.path.display(),
                tables[0].path.display()
            );
        }
    }
    let key_len = tables[0].key_len()?;
    if let Some(plan) = plan {
        let expected = plan.key_columns();
        if header[..key_len] != expected[..] {
            bail!(
                "merge: key columns of the inputs ({}) are not the spec's ({})",
                header[..key_len].join(", "),
                expected.join(", ")
            );
        }
    }

    let mut origin: HashMap<&[String], (&Path, u64)> = HashMap::new();
    let mut problems = Problems::default();
    let mut rows = Vec::new();
    for table in &tables {
        for row in &table.rows {
            let key = &row.fields[..key_len];
            match origin.get(key) {
                Some((file, line)) => problems.duplicated.push(format!(
                    "{} ({}:{line} and {}:{})",
                    key.join(", "),
                    file.display(),
                    table.path.display(),
                    row.line
                )),
                None => {
                    origin.insert(key, (&table.path, row.line));
                    rows.push(row.fields.clone());
                }
            }
        }
    }
    if let Some(plan) = plan {
        let work_keys: Vec<Vec<String>> = plan.work().iter().map(|w| plan.key(w)).collect();
        let position: HashMap<&[String], usize> = work_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_slice(), i))
            .collect();
        for key in &work_keys {
            if !origin.contains_key(key.as_slice()) {
                problems.missing.push(key.join(", "));
            }
        }
        for (key, (file, line)) in &origin {
            if !position.contains_key(key) {
                problems
                    .unknown
                    .push(format!("{} ({}:{line})", key.join(", "), file.display()));
            }
        }
        rows.sort_by_key(|r| position.get(&r[..key_len]).copied().unwrap_or(usize::MAX));
    }
    problems.check()?;
    write_atomically(out, header, &rows)
        .with_context(|| format!("merge into {}", out.display()))?;
    Ok(MergeReport {
        files: tables.len(),
        rows: rows.len(),
    })
}

#[derive(Default)]
struct Problems {
    missing: Vec<String>,
    duplicated: Vec<String>,
    unknown: Vec<String>,
}

impl Problems {
    fn check(mut self) -> anyhow::Result<()> {
        self.unknown.sort();
        let mut message = String::new();
        for (what, list) in [
            ("missing from every input", &self.missing),
            ("present more than once", &self.duplicated),
            ("not part of the spec", &self.unknown),
        ] {
            if list.is_empty() {
                continue;
            }
            message.push_str(&format!("\n  {} rows {what}, e.g.:", list.len()));
            for example in list.iter().take(EXAMPLES) {
                message.push_str(&format!("\n    {example}"));
            }
        }
        if message.is_empty() {
            Ok(())
        } else {
            bail!("merge: the inputs do not form the sweep exactly once; nothing written:{message}")
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
