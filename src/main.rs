//! The `crossbert` command-line tool. Each subcommand lives in its own module under `cli/`.
use clap::Parser;

fn main() {
    let cli = crossbert::cli::Cli::parse();
    size_thread_pool_from_slurm();
    if let Err(err) = crossbert::cli::run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

/// Inside a Slurm job, one thread per CPU the job was given. rayon would otherwise start one
/// per CPU the node has and oversubscribe it (a shard given 1 CPU ran 3 threads at 175 %).
/// `RAYON_NUM_THREADS`, when set, still wins.
fn size_thread_pool_from_slurm() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let allocated = ["SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"]
        .iter()
        .find_map(|var| std::env::var(var).ok()?.parse::<usize>().ok())
        .filter(|&cpus| cpus > 0);
    if let Some(cpus) = allocated {
        // Fails only if the pool already exists, in which case it keeps its size.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(cpus)
            .build_global();
    }
}
