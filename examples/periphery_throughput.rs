//! Throughput of each digital periphery implementation on the shapes of one MiniLM-L6-H384
//! layer at sequence length 128 (12 heads): softmax over 12·128 rows of 128 scores,
//! LayerNorm over 128 rows of 384, GELU over 128 rows of 1536, and the two attention
//! products per head (128×32 · 32×128 and 128×128 · 128×32).
//!
//! Run: `cargo run --release --example periphery_throughput`

use crossbert::periphery::{
    matmul_a_b, matmul_a_bt, AttentionPrecision, Base2Exp, FixedLayerNorm, Gelu, GeluLut, IntGelu,
    LayerNorm, LutExp, Softmax,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::time::Instant;

fn data(len: usize, sd: f32) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let d = Normal::new(0.0, sd).unwrap();
    (0..len).map(|_| d.sample(&mut rng)).collect()
}

/// Runs `f` on a fresh copy of `input` `reps` times; prints ns per element.
fn time(label: &str, input: &[f32], reps: usize, mut f: impl FnMut(&mut [f32])) {
    let mut buf = input.to_vec();
    let start = Instant::now();
    for _ in 0..reps {
        buf.copy_from_slice(input);
        f(&mut buf);
    }
    let ns = start.elapsed().as_nanos() as f64 / (reps * input.len()) as f64;
    println!("{label:<28} {ns:>7.2} ns/element");
}

fn main() {
    let reps = 20;
    let scores = data(12 * 128 * 128, 3.0);
    for sm in [
        Softmax::Float,
        Softmax::FixedLut(LutExp::default()),
        Softmax::Base2Shift(Base2Exp::default()),
    ] {
        let label = format!("softmax {}", kind(&sm));
        time(&label, &scores, reps, |b| {
            sm.apply(b, 128).unwrap();
        });
    }
    let hidden = data(128 * 384, 2.0);
    let (g, be) = (vec![1.0; 384], vec![0.0; 384]);
    for ln in [
        LayerNorm::Float,
        LayerNorm::FixedPoint(FixedLayerNorm::default()),
    ] {
        let label = format!("layernorm {}", kind(&ln));
        time(&label, &hidden, reps, |b| {
            ln.apply(b, 384, &g, &be, 1e-12).unwrap();
        });
    }
    let inter = data(128 * 1536, 2.0);
    for gelu in [
        Gelu::Erf,
        Gelu::Tanh,
        Gelu::Lut(GeluLut::default()),
        Gelu::IntPoly(IntGelu::default()),
    ] {
        let label = format!("gelu {}", kind(&gelu));
        time(&label, &inter, reps, |b| {
            gelu.apply(b, 1536).unwrap();
        });
    }
    let q = data(128 * 32, 1.0);
    let k = data(128 * 32, 1.0);
    let p = data(128 * 128, 0.1);
    let mut out_s = vec![0.0; 128 * 128];
    let mut out_c = vec![0.0; 128 * 32];
    for precision in [AttentionPrecision::Float32, AttentionPrecision::Int8] {
        let start = Instant::now();
        for _ in 0..reps * 12 {
            matmul_a_bt(&q, &k, (128, 128, 32), &mut out_s, precision).unwrap();
            matmul_a_b(&p, &q, (128, 32, 128), &mut out_c, precision).unwrap();
        }
        let ns = start.elapsed().as_nanos() as f64 / (reps * 12 * 2 * 128 * 128 * 32) as f64;
        println!(
            "{:<28} {ns:>7.2} ns/MAC",
            format!("attention {precision:?}")
        );
    }
}

fn kind(cfg: &impl serde::Serialize) -> String {
    serde_json::to_value(cfg).unwrap()["kind"]
        .as_str()
        .unwrap_or("")
        .to_string()
}
