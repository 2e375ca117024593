//! AdamW (Loshchilov & Hutter, ICLR 2019) as PyTorch's `torch.optim.AdamW` computes it, a
//! linear warm-up and decay of the learning rate, and clipping of the global gradient norm,
//! the recipe of Hugging Face's `Trainer`.

use rayon::prelude::*;

use super::params::Params;

/// AdamW's settings; defaults are PyTorch's (β₁ 0.9, β₂ 0.999, ε 1e-8).
#[derive(Debug, Clone, Copy)]
pub struct AdamWConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Decoupled decay λ: each step multiplies a decayed weight by (1 − lr·λ).
    pub weight_decay: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// AdamW's state: first and second moments of every tensor, and which tensors it updates.
pub struct AdamW {
    config: AdamWConfig,
    m: Params,
    v: Params,
    /// Per tensor: updated at all, and with weight decay. Like Hugging Face's `Trainer`,
    /// biases and LayerNorm weights are not decayed.
    trained: Vec<bool>,
    decayed: Vec<bool>,
    step: i32,
}

impl AdamW {
    /// `frozen(name)` says which tensors stay as they are.
    pub fn new(params: &Params, config: AdamWConfig, frozen: impl Fn(&str) -> bool) -> Self {
        let names = params.tensors.iter().map(|t| t.name.as_str());
        Self {
            config,
            m: params.zeros_like(),
            v: params.zeros_like(),
            trained: names.clone().map(|n| !frozen(n)).collect(),
            decayed: names
                .map(|n| !n.ends_with(".bias") && !n.contains("LayerNorm"))
                .collect(),
            step: 0,
        }
    }

    pub fn is_trained(&self, tensor: usize) -> bool {
        self.trained[tensor]
    }

    /// One update with learning rate `lr` from the gradients `grads`.
    pub fn step(&mut self, params: &mut Params, grads: &Params, lr: f32) {
        self.step += 1;
        let c = self.config;
        let bias1 = 1.0 - c.beta1.powi(self.step);
        let bias2 = 1.0 - c.beta2.powi(self.step);
        let tensors = params
            .tensors
            .par_iter_mut()
            .zip(&grads.tensors)
            .zip(self.m.tensors.par_iter_mut())
            .zip(self.v.tensors.par_iter_mut())
            .zip(self.trained.par_iter().zip(&self.decayed));
        tensors.for_each(|((((p, g), m), v), (&trained, &decayed))| {
            if !trained {
                return;
            }
            let decay = if decayed {
                1.0 - lr * c.weight_decay
            } else {
                1.0
            };
            let values = p
                .value
                .iter_mut()
                .zip(&g.value)
                .zip(&mut m.value)
                .zip(&mut v.value);
            for (((w, &g), m), v) in values {
                *w *= decay;
                *m = c.beta1 * *m + (1.0 - c.beta1) * g;
                *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
                let denominator = (*v / bias2).sqrt() + c.eps;
                *w -= lr * (*m / bias1) / denominator;
            }
        });
    }
}

/// Learning rate at step `step` (0-based) of `total`: rising linearly from 0 over `warmup`
/// steps to `peak`, then falling linearly to 0 at `total` (Hugging Face's
/// `get_linear_schedule_with_warmup`).
pub fn learning_rate(peak: f32, step: usize, warmup: usize, total: usize) -> f32 {
    if step < warmup {
        return peak * step as f32 / warmup as f32;
    }
    let rest = total.saturating_sub(warmup).max(1);
    peak * (total.saturating_sub(step) as f32 / rest as f32).max(0.0)
}

/// Scales the gradients of the trained tensors so that their global L2 norm is at most
/// `max_norm`; returns the norm before clipping.
pub fn clip_global_norm(
    grads: &mut Params,
    trained: impl Fn(usize) -> bool + Sync,
    max_norm: f64,
) -> f64 {
    let norm = grads
        .tensors
        .iter()
        .enumerate()
        .filter(|(i, _)| trained(*i))
        .map(|(_, t)| t.value.iter().map(|&g| (g as f64).powi(2)).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    if norm > max_norm {
        // PyTorch's clip_grad_norm_: factor max/(norm + 1e-6).
        let factor = (max_norm / (norm + 1e-6)) as f32;
        grads
            .tensors
            .par_iter_mut()
            .enumerate()
            .filter(|(i, _)| trained(*i))
            .for_each(|(_, t)| t.value.iter_mut().for_each(|g| *g *= factor));
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::params::Tensor;

    fn one(name: &str, values: Vec<f32>) -> Params {
        Params {
            tensors: vec![Tensor {
                name: name.into(),
                shape: vec![values.len()],
                value: values,
            }],
        }
    }

    #[test]
    fn first_adamw_step_moves_each_weight_by_lr_against_its_gradient_sign() {
        // With bias correction, step 1 has m̂ = g and v̂ = g², so the update is
        // lr·g/(|g| + ε) ≈ lr·sign(g), after the decay w·(1 − lr·λ).
        let mut p = one("w", vec![1.0, -2.0]);
        let g = one("w", vec![0.5, -4.0]);
        let config = AdamWConfig {
            weight_decay: 0.1,
            ..AdamWConfig::default()
        };
        let mut opt = AdamW::new(&p, config, |_| false);
        opt.step(&mut p, &g, 0.01);
        let expect = [1.0 * (1.0 - 0.001) - 0.01, -2.0 * (1.0 - 0.001) + 0.01];
        for (a, b) in p.tensors[0].value.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn frozen_tensors_and_undecayed_biases() {
        let mut p = one("x.bias", vec![1.0]);
        let g = one("x.bias", vec![1.0]);
        let mut frozen = AdamW::new(&p, AdamWConfig::default(), |_| true);
        frozen.step(&mut p, &g, 0.1);
        assert_eq!(p.tensors[0].value, vec![1.0]);
        let config = AdamWConfig {
            weight_decay: 0.5,
            ..AdamWConfig::default()
        };
        let mut opt = AdamW::new(&p, config, |_| false);
        opt.step(&mut p, &g, 0.1);
        // No decay on a bias: exactly 1 − 0.1·1/(1 + 1e-8).
        assert!((p.tensors[0].value[0] - 0.9).abs() < 1e-6);
    }

    #[test]
    fn schedule_rises_then_falls_to_zero() {
        let lr = |s| learning_rate(1.0, s, 10, 110);
        assert_eq!(lr(0), 0.0);
        assert_eq!(lr(5), 0.5);
        assert_eq!(lr(10), 1.0);
        assert_eq!(lr(60), 0.5);
        assert_eq!(lr(110), 0.0);
    }

    #[test]
    fn clipping_scales_to_the_maximum_norm() {
        let mut g = one("w", vec![3.0, 4.0]);
        let norm = clip_global_norm(&mut g, |_| true, 1.0);
        assert_eq!(norm, 5.0);
        let after: f32 = g.tensors[0].value.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((after - 1.0).abs() < 1e-5);
    }
}
