//! A progress bar on stderr, drawn only when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use clair_indexer::Progress;
use clair_types::Digest;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Layer reading progress: bytes read of all layer blobs.
pub struct Bar {
    bar: Option<ProgressBar>,
    layers: usize,
    done: AtomicUsize,
}

impl Bar {
    pub fn new(total_bytes: u64, layers: usize, quiet: bool) -> Bar {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar {
                bar: None,
                layers,
                done: AtomicUsize::new(0),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(format!("0/{layers} layers"));
        bar.set_length(total_bytes);
        Bar {
            bar: Some(bar),
            layers,
            done: AtomicUsize::new(0),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn bytes(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    fn layer_done(&self, _index: usize, _digest: &Digest, _cached: bool) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(b) = &self.bar {
            b.set_message(format!("{n}/{} layers", self.layers));
        }
    }
}
