//! Sweep progress on stderr: a bar with rate and ETA on a terminal, plain log lines
//! otherwise (batch jobs, pipes), one per finished row.
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Progress of one sweep run.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    /// Rows finished in this run (the rate counts only these, not resumed ones).
    ran: usize,
    started: Instant,
}

impl Progress {
    /// `total` rows in this shard, `already` of them finished by an earlier run.
    pub fn new(total: usize, already: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            let style = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} rows, {per_sec}, ETA {eta} {wide_msg}",
            )
            .expect("valid progress template");
            bar.set_style(style);
            bar.set_position(already as u64);
            bar.reset_eta();
            bar
        });
        if bar.is_none() {
            eprintln!("sweep: {total} rows in this shard, {already} already done");
        }
        Progress {
            bar,
            total,
            done: already,
            ran: 0,
            started: Instant::now(),
        }
    }

    /// Records one finished row described by `label`.
    pub fn row_done(&mut self, label: &str) {
        self.done += 1;
        self.ran += 1;
        if let Some(bar) = &self.bar {
            bar.set_message(label.to_string());
            bar.inc(1);
            return;
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = self.ran as f64 / elapsed.max(1e-9);
        let eta = (self.total - self.done) as f64 / rate;
        eprintln!(
            "sweep: {}/{} ({:.1} %) {label}; {rate:.3} rows/s, ETA {}",
            self.done,
            self.total,
            100.0 * self.done as f64 / self.total.max(1) as f64,
            human_seconds(eta)
        );
    }

    /// Closes the bar (if any).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// `75 s`, `12 min`, `3.5 h`.
fn human_seconds(seconds: f64) -> String {
    if !seconds.is_finite() {
        "unknown".into()
    } else if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else if seconds < 7200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}
