//! CPU time of the calling thread, shared by the examples that time one thread's work
//! (`#[path]`-included: a folder without main.rs is no example of its own).

use std::time::Duration;

/// CPU time of the calling thread (Linux: /proc/thread-self/schedstat, nanoseconds on CPU).
pub fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}
