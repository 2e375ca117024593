//! The whole model on a tiny synthesized checkpoint, against a plain `f64` re-implementation
//! of Hugging Face's BERT written here loop by loop: padded batch, additive attention mask
//! of the most negative f32, GELU with erf. Runs without ../shared.
//!
//! Weights come from a fixed formula (no random draws), so the test is reproducible.

use std::collections::BTreeMap;
use std::path::Path;

use crossbert::model::{digital_linear, load_classifier, PackedBatch};
use safetensors::tensor::{Dtype, TensorView};

const H: usize = 8;
const HEADS: usize = 2;
const INTER: usize = 16;
const LAYERS: usize = 2;
const VOCAB: usize = 20;
const MAX_POS: usize = 16;
const LABELS: usize = 3;

/// Deterministic pseudo-weights in (-0.5, 0.5), different for every tensor and index.
fn values(seed: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104_729) as f64 * 0.618_033_988_7).fract() - 0.5) as f32)
        .collect()
}

/// Every tensor of BertForSequenceClassification with the given shapes.
fn tensors() -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        (
            "bert.embeddings.word_embeddings.weight".into(),
            vec![VOCAB, H],
        ),
        (
            "bert.embeddings.position_embeddings.weight".into(),
            vec![MAX_POS, H],
        ),
        (
            "bert.embeddings.token_type_embeddings.weight".into(),
            vec![2, H],
        ),
        ("bert.embeddings.LayerNorm.weight".into(), vec![H]),
        ("bert.embeddings.LayerNorm.bias".into(), vec![H]),
        ("bert.pooler.dense.weight".into(), vec![H, H]),
        ("bert.pooler.dense.bias".into(), vec![H]),
        ("classifier.weight".into(), vec![LABELS, H]),
        ("classifier.bias".into(), vec![LABELS]),
    ];
    for l in 0..LAYERS {
        let p = format!("bert.encoder.layer.{l}");
        for (name, out, inp) in [
            ("attention.self.query", H, H),
            ("attention.self.key", H, H),
            ("attention.self.value", H, H),
            ("attention.output.dense", H, H),
            ("intermediate.dense", INTER, H),
            ("output.dense", H, INTER),
        ] {
            shapes.push((format!("{p}.{name}.weight"), vec![out, inp]));
            shapes.push((format!("{p}.{name}.bias"), vec![out]));
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            shapes.push((format!("{p}.{ln}.weight"), vec![H]));
            shapes.push((format!("{p}.{ln}.bias"), vec![H]));
        }
    }
    shapes
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape))| {
            let n = shape.iter().product();
            let mut v = values(i, n);
            if name.ends_with("LayerNorm.weight") {
                v.iter_mut().for_each(|x| *x += 1.0);
            }
            (name, (shape, v))
        })
        .collect()
}

fn write_checkpoint(dir: &Path, tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, dtype: Dtype) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, (s, v))| {
            let b = match dtype {
                Dtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                Dtype::BF16 => v
                    .iter()
                    .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
                    .collect(),
                _ => unreachable!(),
            };
            (n.clone(), s.clone(), b)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, b)| (n.clone(), TensorView::new(dtype, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    let config = format!(
        r#"{{"vocab_size": {VOCAB}, "hidden_size": {H}, "num_hidden_layers": {LAYERS},
            "num_attention_heads": {HEADS}, "intermediate_size": {INTER},
            "max_position_embeddings": {MAX_POS}, "layer_norm_eps": 1e-12,
            "id2label": {{"0": "a", "1": "b", "2": "c"}}}}"#
    );
    std::fs::write(dir.join("config.json"), config).unwrap();
}

/// The reference: Hugging Face's computation on a padded batch, in f64.
fn reference_logits(
    t: &BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    seqs: &[(Vec<u32>, Vec<u32>)],
) -> Vec<Vec<f64>> {
    let w = |name: &str| -> Vec<f64> { t[name].1.iter().map(|&x| x as f64).collect() };
    let linear = |x: &[Vec<f64>], name: &str, out: usize| -> Vec<Vec<f64>> {
        let (wt, b) = (w(&format!("{name}.weight")), w(&format!("{name}.bias")));
        x.iter()
            .map(|row| {
                (0..out)
                    .map(|o| {
                        b[o] + row
                            .iter()
                            .enumerate()
                            .map(|(i, v)| v * wt[o * row.len() + i])
                            .sum::<f64>()
                    })
                    .collect()
            })
            .collect()
    };
    let layer_norm = |x: &mut [Vec<f64>], name: &str| {
        let (g, b) = (w(&format!("{name}.weight")), w(&format!("{name}.bias")));
        for row in x.iter_mut() {
            let mean = row.iter().sum::<f64>() / H as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / H as f64;
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - mean) / (var + 1e-12).sqrt() * g[j] + b[j];
            }
        }
    };
    let max_len = seqs.iter().map(|s| s.0.len()).max().unwrap();
    let d = H / HEADS;
    seqs.iter()
        .map(|(ids, types)| {
            // Pad to the batch's longest sequence, as Hugging Face's padded batches do.
            let mask: Vec<f64> = (0..max_len)
                .map(|p| if p < ids.len() { 0.0 } else { f32::MIN as f64 })
                .collect();
            let (we, pe, te) = (
                w("bert.embeddings.word_embeddings.weight"),
                w("bert.embeddings.position_embeddings.weight"),
                w("bert.embeddings.token_type_embeddings.weight"),
            );
            let mut x: Vec<Vec<f64>> = (0..max_len)
                .map(|p| {
                    let (id, ty) = if p < ids.len() {
                        (ids[p] as usize, types[p] as usize)
                    } else {
                        (0, 0)
                    };
                    (0..H)
                        .map(|j| we[id * H + j] + te[ty * H + j] + pe[p * H + j])
                        .collect()
                })
                .collect();
            layer_norm(&mut x, "bert.embeddings.LayerNorm");
            for l in 0..LAYERS {
                let p = format!("bert.encoder.layer.{l}");
                let q = linear(&x, &format!("{p}.attention.self.query"), H);
                let k = linear(&x, &format!("{p}.attention.self.key"), H);
                let v = linear(&x, &format!("{p}.attention.self.value"), H);
                let mut ctx = vec![vec![0.0; H]; max_len];
                for h in 0..HEADS {
                    for i in 0..max_len {
                        let s: Vec<f64> = (0..max_len)
                            .map(|j| {
                                (0..d)
                                    .map(|c| q[i][h * d + c] * k[j][h * d + c])
                                    .sum::<f64>()
                                    / (d as f64).sqrt()
                                    + mask[j]
                            })
                            .collect();
                        let m = s.iter().cloned().fold(f64::MIN, f64::max);
                        let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
                        let z: f64 = e.iter().sum();
                        for c in 0..d {
                            ctx[i][h * d + c] =
                                (0..max_len).map(|j| e[j] / z * v[j][h * d + c]).sum();
                        }
                    }
                }
                let mut a = linear(&ctx, &format!("{p}.attention.output.dense"), H);
                a.iter_mut()
                    .zip(&x)
                    .for_each(|(r, s)| r.iter_mut().zip(s).for_each(|(u, v)| *u += v));
                layer_norm(&mut a, &format!("{p}.attention.output.LayerNorm"));
                let mut inter = linear(&a, &format!("{p}.intermediate.dense"), INTER);
                inter.iter_mut().flatten().for_each(|u| {
                    *u = 0.5 * *u * (1.0 + statrs::function::erf::erf(*u / 2f64.sqrt()))
                });
                let mut o = linear(&inter, &format!("{p}.output.dense"), H);
                o.iter_mut()
                    .zip(&a)
                    .for_each(|(r, s)| r.iter_mut().zip(s).for_each(|(u, v)| *u += v));
                layer_norm(&mut o, &format!("{p}.output.LayerNorm"));
                x = o;
            }
            let pooled: Vec<Vec<f64>> = linear(&x[..1], "bert.pooler.dense", H)
                .into_iter()
                .map(|r| r.into_iter().map(f64::tanh).collect())
                .collect();
            linear(&pooled, "classifier", LABELS).remove(0)
        })
        .collect()
}

fn sequences() -> Vec<(Vec<u32>, Vec<u32>)> {
    vec![
        (vec![2, 5, 9, 3], vec![0, 0, 0, 0]),
        (vec![2, 7, 3, 11, 12, 13, 3], vec![0, 0, 0, 1, 1, 1, 1]),
        (vec![2, 3], vec![0, 0]),
        (vec![2, 19, 18, 17, 16, 15, 14, 4, 3], vec![0; 9]),
    ]
}

#[test]
fn tiny_bert_matches_a_padded_f64_reference() {
    let dir = tempfile::tempdir().unwrap();
    let t = tensors();
    write_checkpoint(dir.path(), &t, Dtype::F32);
    let (config, model) = load_classifier(dir.path(), &digital_linear).unwrap();
    assert_eq!(config.num_labels(), LABELS);
    let mut batch = PackedBatch::default();
    for (ids, types) in sequences() {
        batch.push(&ids, &types);
    }
    let logits = model.forward(&batch).unwrap();
    let want = reference_logits(&t, &sequences());
    for (r, w) in want.iter().enumerate() {
        for (got, want) in logits.row(r).iter().zip(w) {
            // f32 compute vs f64 reference on O(1) values: agreement to ~1e-6 expected.
            assert!(
                (*got as f64 - want).abs() < 2e-5,
                "sequence {r}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn bf16_checkpoint_computes_with_the_bf16_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tensors();
    write_checkpoint(dir.path(), &t, Dtype::BF16);
    // The reference sees the same rounded weights the engine loads.
    for (_, v) in t.values_mut() {
        v.iter_mut()
            .for_each(|x| *x = half::bf16::from_f32(*x).to_f32());
    }
    let (_, model) = load_classifier(dir.path(), &digital_linear).unwrap();
    let mut batch = PackedBatch::default();
    let seqs = sequences();
    batch.push(&seqs[1].0, &seqs[1].1);
    let logits = model.forward(&batch).unwrap();
    let want = &reference_logits(&t, &seqs[1..2])[0];
    for (got, want) in logits.row(0).iter().zip(want) {
        assert!((*got as f64 - want).abs() < 2e-5, "{got} vs {want}");
    }
}

#[test]
fn missing_tensor_and_out_of_range_ids_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tensors();
    write_checkpoint(dir.path(), &t, Dtype::F32);
    let (_, model) = load_classifier(dir.path(), &digital_linear).unwrap();
    let mut batch = PackedBatch::default();
    batch.push(&[2, VOCAB as u32], &[0, 0]);
    let msg = model.forward(&batch).unwrap_err().to_string();
    assert!(
        msg.contains("token id 20") && msg.contains("vocab_size"),
        "{msg}"
    );

    t.remove("bert.encoder.layer.1.intermediate.dense.weight");
    write_checkpoint(dir.path(), &t, Dtype::F32);
    let msg = load_classifier(dir.path(), &digital_linear)
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("bert.encoder.layer.1.intermediate.dense.weight")
            && msg.contains("model.safetensors"),
        "{msg}"
    );
}
