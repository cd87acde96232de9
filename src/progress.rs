//! Progress lines of long-running table functions (`ml_tune`'s trials,
//! `ml_train`'s iterations). They go to stderr unless the host installs a
//! sink: the Python package does, since notebooks show what Python writes to
//! `sys.stderr` but not what the process writes to its stderr.

use std::sync::{Arc, RwLock};

/// Where progress lines go instead of stderr.
pub type Sink = Arc<dyn Fn(&str) + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Sends progress lines to `sink` (`None`: to stderr again).
pub fn set_sink(sink: Option<Sink>) {
    if let Ok(mut current) = SINK.write() {
        *current = sink;
    }
}

/// Reports one line of progress.
pub fn report(line: &str) {
    let sink = SINK.read().ok().and_then(|s| s.clone());
    match sink {
        Some(sink) => sink(line),
        None => eprintln!("{line}"),
    }
}
