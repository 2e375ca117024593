//! Loading the tensors of a Hugging Face checkpoint from safetensors files.
//!
//! A checkpoint directory holds either one `model.safetensors` or a sharded set described by
//! `model.safetensors.index.json` (tensor name → shard file). Each file is memory-mapped;
//! tensors are converted to `f32` on request (float32, float16 and bfloat16 are accepted, as
//! is float64), after checking the shape the config implies and that every value is finite.
//!
//! Tensor names are looked up both with and without the family's base prefix (`bert.`,
//! `roberta.`, …, [`Checkpoint::set_base_prefix`]), so checkpoints saved from
//! `BertForSequenceClassification` and from a bare `BertModel` both load. Tensors that
//! the model never asked for are listed by [`Checkpoint::unused_tensors`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata, SafeTensorError, SafeTensors, TensorInfo};

use super::matrix::Matrix;

/// File name of an unsharded checkpoint.
pub const SINGLE_FILE: &str = "model.safetensors";
/// File name of the index of a sharded checkpoint.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Why a checkpoint could not be read. Every variant names the file, and the tensor when
/// one is concerned.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{dir}: no checkpoint found: expected {SINGLE_FILE} or {INDEX_FILE}")]
    NotFound { dir: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: invalid checkpoint index: {message}")]
    Index { path: String, message: String },
    #[error("{path}: not a valid safetensors file: {message}")]
    Header { path: String, message: String },
    #[error("{path}: file is truncated: tensor `{tensor}` ends at data byte {needed}, but the file holds only {found} data bytes")]
    Truncated {
        path: String,
        tensor: String,
        needed: usize,
        found: usize,
    },
    #[error("tensor `{name}` not found in {files}")]
    MissingTensor { name: String, files: String },
    #[error("{index}: tensor `{name}` is mapped to {shard}, which does not contain it")]
    NotInShard {
        name: String,
        index: String,
        shard: String,
    },
    #[error(
        "{path}: tensor `{name}`: expected shape {expected:?} (from config.json), found {found:?}"
    )]
    Shape {
        name: String,
        path: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{path}: tensor `{name}`: expected dtype F32, F16, BF16 or F64, found {found}")]
    Dtype {
        name: String,
        path: String,
        found: String,
    },
    #[error(
        "{path}: tensor `{name}`: expected finite values, found {value} at flat index {index}"
    )]
    NonFinite {
        name: String,
        path: String,
        index: usize,
        value: f32,
    },
}

/// One memory-mapped safetensors file and its parsed header.
struct SafetensorsFile {
    path: PathBuf,
    mmap: Mmap,
    /// Offset of the data section (8 length bytes + JSON header).
    data_start: usize,
    metadata: Metadata,
}

impl SafetensorsFile {
    fn open(path: &Path) -> Result<Self, CheckpointError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| CheckpointError::Io {
            path: shown.clone(),
            source,
        })?;
        // SAFETY: the mapping is read-only; a checkpoint file changed by another process
        // while crossbert runs is outside what any loader can defend against.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|source| CheckpointError::Io {
            path: shown.clone(),
            source,
        })?;
        let (header_len, metadata) = match SafeTensors::read_metadata(&mmap) {
            Ok(ok) => ok,
            Err(SafeTensorError::MetadataIncompleteBuffer) => {
                return Err(describe_size_mismatch(&mmap, &shown))
            }
            Err(SafeTensorError::InvalidHeaderLength) => {
                return Err(CheckpointError::Header {
                    path: shown,
                    message: format!(
                        "expected a header of at most {} bytes (the file size minus 8), \
                         found a header length field of {}",
                        mmap.len().saturating_sub(8),
                        u64::from_le_bytes(mmap[..8].try_into().expect("8 bytes"))
                    ),
                })
            }
            Err(SafeTensorError::TensorInvalidInfo) => {
                return Err(CheckpointError::Header {
                    path: shown,
                    message: describe_bad_extent(&mmap),
                })
            }
            Err(e) => {
                return Err(CheckpointError::Header {
                    path: shown,
                    message: e.to_string(),
                })
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            mmap,
            data_start: 8 + header_len,
            metadata,
        })
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.metadata.info(name)
    }

    fn names(&self) -> Vec<String> {
        self.metadata.tensors().into_keys().collect()
    }
}

/// The header promises a different number of data bytes than the file holds: name the
/// first tensor that does not fit (truncation), or report trailing bytes.
fn describe_size_mismatch(buf: &[u8], path: &str) -> CheckpointError {
    let header_len = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes")) as usize;
    let found = buf.len() - 8 - header_len;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&buf[8..8 + header_len]).unwrap_or_default();
    let mut ends: Vec<(usize, String)> = header
        .iter()
        .filter(|(k, _)| k.as_str() != "__metadata__")
        .filter_map(|(k, v)| {
            let end = v.get("data_offsets")?.get(1)?.as_u64()? as usize;
            Some((end, k.clone()))
        })
        .collect();
    ends.sort();
    match ends.into_iter().find(|(end, _)| *end > found) {
        Some((needed, tensor)) => CheckpointError::Truncated {
            path: path.to_string(),
            tensor,
            needed,
            found,
        },
        None => CheckpointError::Header {
            path: path.to_string(),
            message: format!("{found} data bytes, more than the header describes"),
        },
    }
}

/// The header gives some tensor a byte range that does not fit its shape and dtype: name
/// the first such tensor with its expected and found sizes.
fn describe_bad_extent(buf: &[u8]) -> String {
    let header_len = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes")) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&buf[8..8 + header_len]).unwrap_or_default();
    header.remove("__metadata__");
    let generic = "a tensor's byte range does not match its shape and dtype".to_string();
    let Ok(tensors) = serde_json::from_value::<BTreeMap<String, TensorInfo>>(header.into()) else {
        return generic;
    };
    for (name, info) in tensors {
        let elements = info.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let bits = elements.and_then(|n| n.checked_mul(info.dtype.bitsize()));
        let expected = bits.map(|b| b.div_ceil(8));
        let (start, end) = info.data_offsets;
        let found = end.wrapping_sub(start);
        if expected != Some(found) {
            return format!(
                "tensor `{name}`: expected {} bytes for shape {:?} of {:?}, found data_offsets \
                 [{start}, {end}]",
                expected.map_or("an overflowing number of".into(), |b| b.to_string()),
                info.shape,
                info.dtype
            );
        }
    }
    generic
}

/// All tensors of one checkpoint directory, looked up by name.
pub struct Checkpoint {
    files: Vec<SafetensorsFile>,
    /// Tensor name → index into `files`.
    location: HashMap<String, usize>,
    /// Names handed out so far, to report the ones the model never used.
    used: Mutex<HashSet<String>>,
    /// The base model's prefix with its dot, `bert.` by default.
    base_prefix: String,
}

impl Checkpoint {
    /// Opens `dir/model.safetensors.index.json` (sharded) or else `dir/model.safetensors`.
    pub fn open(dir: &Path) -> Result<Self, CheckpointError> {
        let index = dir.join(INDEX_FILE);
        if index.is_file() {
            return Self::open_sharded(&index);
        }
        let single = dir.join(SINGLE_FILE);
        if single.is_file() {
            return Self::open_files(&[single]);
        }
        Err(CheckpointError::NotFound {
            dir: dir.display().to_string(),
        })
    }

    /// Opens a sharded checkpoint from its index file; checks that each tensor is in the
    /// shard the index names.
    pub fn open_sharded(index_path: &Path) -> Result<Self, CheckpointError> {
        let shown = index_path.display().to_string();
        let text = std::fs::read_to_string(index_path).map_err(|source| CheckpointError::Io {
            path: shown.clone(),
            source,
        })?;
        #[derive(serde::Deserialize)]
        struct Index {
            weight_map: BTreeMap<String, String>,
        }
        let index: Index = serde_json::from_str(&text).map_err(|e| CheckpointError::Index {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let dir = index_path.parent().unwrap_or(Path::new("."));
        let mut shards: Vec<String> = index.weight_map.values().cloned().collect();
        shards.sort();
        shards.dedup();
        let paths: Vec<PathBuf> = shards.iter().map(|s| dir.join(s)).collect();
        let checkpoint = Self::open_files(&paths)?;
        for (name, shard) in &index.weight_map {
            let file = &checkpoint.files[checkpoint.location.get(name).copied().unwrap_or(0)];
            if file.info(name).is_none() || !file.path.ends_with(shard) {
                return Err(CheckpointError::NotInShard {
                    name: name.clone(),
                    index: shown,
                    shard: dir.join(shard).display().to_string(),
                });
            }
        }
        Ok(checkpoint)
    }

    /// Opens one or more safetensors files as one checkpoint.
    pub fn open_files(paths: &[PathBuf]) -> Result<Self, CheckpointError> {
        let mut files = Vec::new();
        let mut location = HashMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = SafetensorsFile::open(path)?;
            for name in file.names() {
                location.insert(name, i);
            }
            files.push(file);
        }
        Ok(Self {
            files,
            location,
            used: Mutex::new(HashSet::new()),
            base_prefix: "bert.".into(),
        })
    }

    /// The file list, for error messages.
    fn file_list(&self) -> String {
        let names: Vec<String> = self
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        names.join(", ")
    }

    /// Resolves `name`, trying it with and without the `bert.` prefix.
    fn resolve(&self, name: &str) -> Result<(String, usize), CheckpointError> {
        let alternative = match name.strip_prefix(&self.base_prefix) {
            Some(bare) => bare.to_string(),
            None => format!("{}{name}", self.base_prefix),
        };
        for candidate in [name.to_string(), alternative] {
            if let Some(&file) = self.location.get(&candidate) {
                return Ok((candidate, file));
            }
        }
        Err(CheckpointError::MissingTensor {
            name: name.to_string(),
            files: self.file_list(),
        })
    }

    /// The base model's prefix, with its dot (`bert.` unless set): tensor names are found
    /// with and without it.
    pub fn set_base_prefix(&mut self, prefix: &str) {
        self.base_prefix = format!("{prefix}.");
    }

    /// Whether a tensor of that name (with or without the base prefix) exists.
    pub fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_ok()
    }

    /// Reads tensor `name` as `f32`, checking its shape against `shape` and that all values
    /// are finite.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, CheckpointError> {
        let (stored_name, file_index) = self.resolve(name)?;
        let file = &self.files[file_index];
        let path = file.path.display().to_string();
        let info = file.info(&stored_name).expect("name came from this file");
        if info.shape != shape {
            return Err(CheckpointError::Shape {
                name: stored_name,
                path,
                expected: shape.to_vec(),
                found: info.shape.clone(),
            });
        }
        let (start, end) = info.data_offsets;
        let bytes = &file.mmap[file.data_start + start..file.data_start + end];
        let values = decode(bytes, info.dtype).ok_or_else(|| CheckpointError::Dtype {
            name: stored_name.clone(),
            path: path.clone(),
            found: format!("{:?}", info.dtype),
        })?;
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(CheckpointError::NonFinite {
                name: stored_name,
                path,
                index,
                value,
            });
        }
        self.used.lock().expect("not poisoned").insert(stored_name);
        Ok(values)
    }

    /// Reads a 2-D tensor as a `rows × cols` row-major matrix.
    pub fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Matrix, CheckpointError> {
        Ok(Matrix::from_vec(
            rows,
            cols,
            self.tensor(name, &[rows, cols])?,
        ))
    }

    /// Tensors present in the files that were never read, sorted.
    pub fn unused_tensors(&self) -> Vec<String> {
        let used = self.used.lock().expect("not poisoned");
        let mut unused: Vec<String> = self
            .location
            .keys()
            .filter(|n| !used.contains(*n))
            .cloned()
            .collect();
        unused.sort();
        unused
    }
}

/// Little-endian bytes of a supported float dtype to `f32`; `None` for other dtypes.
fn decode(bytes: &[u8], dtype: Dtype) -> Option<Vec<f32>> {
    let values = match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => return None,
    };
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    /// Writes a safetensors file holding the given (name, dtype, shape, bytes) tensors.
    fn write(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
        let views: Vec<(String, TensorView<'_>)> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        safetensors::serialize_to_file(views, None, path).unwrap();
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn reads_f32_f16_bf16_with_and_without_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let f16: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
            .collect();
        let bf16: Vec<u8> = [0.25f32, 8.0]
            .iter()
            .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
            .collect();
        write(
            &dir.path().join(SINGLE_FILE),
            &[
                ("bert.a", Dtype::F32, vec![2], f32_bytes(&[1.0, 2.0])),
                ("b", Dtype::F16, vec![1, 2], f16),
                ("c", Dtype::BF16, vec![2], bf16),
                ("extra", Dtype::F32, vec![1], f32_bytes(&[0.0])),
            ],
        );
        let ck = Checkpoint::open(dir.path()).unwrap();
        assert_eq!(ck.tensor("a", &[2]).unwrap(), vec![1.0, 2.0]);
        assert_eq!(ck.tensor("bert.b", &[1, 2]).unwrap(), vec![1.5, -2.0]);
        assert_eq!(ck.tensor("c", &[2]).unwrap(), vec![0.25, 8.0]);
        assert_eq!(ck.unused_tensors(), vec!["extra".to_string()]);
    }

    #[test]
    fn bad_checkpoints_give_errors_naming_tensor_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SINGLE_FILE);
        write(
            &path,
            &[
                (
                    "w",
                    Dtype::F32,
                    vec![2, 2],
                    f32_bytes(&[1.0, 2.0, 3.0, 4.0]),
                ),
                ("n", Dtype::F32, vec![2], f32_bytes(&[1.0, f32::NAN])),
                ("i", Dtype::I32, vec![1], vec![0, 0, 0, 0]),
            ],
        );
        let ck = Checkpoint::open(dir.path()).unwrap();
        let msg = ck.tensor("w", &[2, 3]).unwrap_err().to_string();
        assert!(
            msg.contains("`w`") && msg.contains("[2, 3]") && msg.contains("[2, 2]"),
            "{msg}"
        );
        assert!(msg.contains(SINGLE_FILE), "{msg}");
        let msg = ck.tensor("missing", &[1]).unwrap_err().to_string();
        assert!(
            msg.contains("`missing`") && msg.contains(SINGLE_FILE),
            "{msg}"
        );
        let msg = ck.tensor("n", &[2]).unwrap_err().to_string();
        assert!(msg.contains("`n`") && msg.contains("NaN"), "{msg}");
        let msg = ck.tensor("i", &[1]).unwrap_err().to_string();
        assert!(msg.contains("`i`") && msg.contains("I32"), "{msg}");
        drop(ck);

        // Cut the file 3 bytes short: the last tensor in the data section no longer fits.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = Checkpoint::open(dir.path())
            .err()
            .expect("truncated file must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("truncated") && msg.contains(SINGLE_FILE),
            "{msg}"
        );
        assert!(matches!(err, CheckpointError::Truncated { .. }), "{msg}");

        std::fs::write(&path, b"\x05").unwrap();
        let msg = Checkpoint::open(dir.path()).err().unwrap().to_string();
        assert!(msg.contains("not a valid safetensors file"), "{msg}");
        std::fs::remove_file(&path).unwrap();
        let msg = Checkpoint::open(dir.path()).err().unwrap().to_string();
        assert!(msg.contains("no checkpoint found"), "{msg}");
    }

    #[test]
    fn sharded_index_is_checked_against_the_shards() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("s1.safetensors"),
            &[("a", Dtype::F32, vec![1], f32_bytes(&[1.0]))],
        );
        write(
            &dir.path().join("s2.safetensors"),
            &[("b", Dtype::F32, vec![1], f32_bytes(&[2.0]))],
        );
        let index = dir.path().join(INDEX_FILE);
        std::fs::write(
            &index,
            r#"{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}"#,
        )
        .unwrap();
        let ck = Checkpoint::open(dir.path()).unwrap();
        assert_eq!(ck.tensor("b", &[1]).unwrap(), vec![2.0]);
        drop(ck);
        std::fs::write(
            &index,
            r#"{"weight_map": {"a": "s2.safetensors", "b": "s2.safetensors"}}"#,
        )
        .unwrap();
        let msg = Checkpoint::open(dir.path()).err().unwrap().to_string();
        assert!(
            msg.contains("`a`") && msg.contains("s2.safetensors"),
            "{msg}"
        );
    }
}
