//! Property tests: the safetensors loader and the GLUE TSV reader, fed generated and
//! mutated inputs, return `Ok` or an error and never panic. Bounded case counts keep this
//! to seconds; proptest's default seeding makes failures reproducible from the persisted
//! seed it prints.

use crossbert::glue::tasks::ALL_TASKS;
use crossbert::glue::{reader::parse_tsv, LabelMap, Split};
use crossbert::model::Checkpoint;
use proptest::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

/// A valid two-tensor file to mutate.
fn valid_file() -> Vec<u8> {
    let a: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let b: Vec<u8> = [half::f16::from_f32(0.5)]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let views = vec![
        (
            "w".to_string(),
            TensorView::new(Dtype::F32, vec![2, 2], &a).unwrap(),
        ),
        (
            "bert.b".to_string(),
            TensorView::new(Dtype::F16, vec![1], &b).unwrap(),
        ),
    ];
    safetensors::serialize(views, None).unwrap()
}

/// Opens `bytes` as a checkpoint and reads every tensor it could hold; any outcome but a
/// panic is acceptable.
fn load_all(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.safetensors"), bytes).unwrap();
    if let Ok(ck) = Checkpoint::open(dir.path()) {
        for (name, shape) in [("w", vec![2, 2]), ("b", vec![1]), ("w", vec![4])] {
            let _ = ck.tensor(name, &shape);
        }
        let _ = ck.unused_tensors();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_safetensors_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = valid_file();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        load_all(&bytes);
    }

    #[test]
    fn generated_headers_never_panic(
        header in r#"\{("[a-z.]{1,4}":\{"dtype":"(F32|F16|BF16|I64|F64|U8)","shape":\[[0-9]{1,2}(,[0-9]{1,2}){0,2}\],"data_offsets":\[[0-9]{1,3},[0-9]{1,3}\]\},?){0,3}\}"#,
        data_len in 0usize..200,
        length_delta in -3i64..3,
    ) {
        let len = (header.len() as i64 + length_delta).max(0) as u64;
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0x3f, data_len));
        load_all(&bytes);
    }

    #[test]
    fn tsv_reader_never_panics(
        text in r"(\u{feff})?([a-z0-9 .\x22]{0,8}(\t[a-z0-9 .\-]{0,5}){0,10}\r?\n){0,6}[a-z0-9\t]{0,6}",
        task_index in 0usize..10,
        dev in any::<bool>(),
    ) {
        let task = ALL_TASKS[task_index];
        let split = if dev { Split::Dev } else { Split::Train };
        let labels = if task.is_regression() {
            LabelMap::Regression
        } else {
            let names = task.label_names().iter().enumerate();
            LabelMap::Classes(names.map(|(i, s)| (s.to_string(), i)).collect())
        };
        let _ = parse_tsv(&text, "fuzz.tsv", task.layout(split), &labels);
    }
}
