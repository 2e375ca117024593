//! `crossbert bench --train`: training throughput, measured the way
//! `scripts/peers/torch_finetune.py` measures PyTorch's (same batches of the train split in
//! the seed's order, AdamW steps with dropout and clipping), so the two numbers compare.
//!
//! The first [`WARMUP_STEPS`] steps are not timed (first-touch allocations, caches); the rate
//! is training sentences per second of wall time over the remaining `--steps`.

use std::time::Instant;

use super::BenchArgs;
use crate::cli::finetune::prepare;
use crate::train::finetune::{Dataset, FinetuneOptions, Finetuner};

/// Untimed steps before the measurement (PyTorch's script skips as many).
const WARMUP_STEPS: usize = 5;

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let (Some(base), Some(data)) = (&args.model, &args.data) else {
        anyhow::bail!(
            "bench --train: expected --model DIR (the checkpoint to train) and --data DIR"
        );
    };
    let sentences = (args.steps + WARMUP_STEPS) * args.batch_size;
    let p = prepare(base, &args.task, data, args.max_len, Some(sentences), 0)?;
    if p.train.len() < sentences {
        anyhow::bail!(
            "bench --train: {} steps of {} need {sentences} training sentences, the split has {}",
            args.steps + WARMUP_STEPS,
            args.batch_size,
            p.train.len()
        );
    }
    let options = FinetuneOptions {
        epochs: 1,
        lr: 5e-5,
        batch_size: args.batch_size,
        warmup: 0.1,
        weight_decay: 0.01,
        seed: 0,
        freeze_embeddings: args.freeze_embeddings,
        freeze_layers: 0,
        max_grad_norm: 1.0,
        hidden_dropout: p.dropout.0,
        attention_dropout: p.dropout.1,
        distill: 0.0,
    };
    let mut tuner = Finetuner::new(p.config, p.params, options, p.train.len());
    let data = Dataset {
        encoded: &p.train_encoded,
        examples: &p.train,
    };
    let batches: Vec<Vec<usize>> = (0..sentences)
        .collect::<Vec<_>>()
        .chunks(args.batch_size)
        .map(<[usize]>::to_vec)
        .collect();
    let (warmup, timed) = batches.split_at(WARMUP_STEPS);
    for rows in warmup {
        tuner.step(&data, rows);
    }
    let start = Instant::now();
    for rows in timed {
        tuner.step(&data, rows);
    }
    let seconds = start.elapsed().as_secs_f64();
    let timed_rows = timed.iter().flatten();
    let tokens: usize = timed_rows
        .map(|&i| p.train_encoded[i].input_ids.len())
        .sum();
    let timed_sentences = timed.len() * args.batch_size;
    let report = serde_json::json!({
        "task": p.task.name(),
        "steps": timed.len(),
        "batch_size": args.batch_size,
        "sentences": timed_sentences,
        "tokens": tokens,
        "threads": rayon::current_num_threads(),
        "freeze_embeddings": args.freeze_embeddings,
        "seconds": seconds,
        "sentences_per_s": timed_sentences as f64 / seconds,
        "tokens_per_s": tokens as f64 / seconds,
        "peak_memory_mib": super::peak_memory_mib(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} train: {} steps of {} ({tokens} tokens) in {seconds:.2} s on {} threads: \
             {:.1} sentences/s, {:.0} tokens/s (first {WARMUP_STEPS} steps untimed)",
            p.task,
            timed.len(),
            args.batch_size,
            rayon::current_num_threads(),
            timed_sentences as f64 / seconds,
            tokens as f64 / seconds,
        );
    }
    Ok(())
}
