//! The benchmarks the command line runs; each prints its figures and stops
//! by itself, bounded in count and time, with every request on loopback.
//!
//! # Layout
//! - [`delivery`]: `postback bench`, delivery speed in-process and through
//!   the REST API.
//! - [`floods`]: `postback bench-floods`, a server's memory and delivery
//!   speed under sign-in and connection floods.
//! - [`reports`]: `postback bench-reports`, report pages over a seeded
//!   history.
//! - [`records`]: `postback bench-records`, a CSV import, a mass post and
//!   the contacts list at scale.

pub mod delivery;
pub mod floods;
pub mod records;
pub mod reports;

use std::path::PathBuf;
use std::time::Duration;

/// The database a bench runs on: the one given, or a fresh SQLite file in
/// a temporary folder that goes when the bench ends.
pub(super) struct Scratch {
    pub(super) url: String,
    dir: Option<PathBuf>,
}

impl Scratch {
    pub(super) fn new(given: Option<&str>, file: &str) -> Scratch {
        match given {
            Some(url) => Scratch {
                url: url.to_string(),
                dir: None,
            },
            None => {
                let dir = std::env::temp_dir().join(engine::ids::new_id("postback-bench"));
                Scratch {
                    url: format!("sqlite://{}/{file}?mode=rwc", dir.display()),
                    dir: Some(dir),
                }
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// This process's peak resident memory so far in MiB, from Linux's
/// `/proc/self/status`; with `reset`, the peak then starts over from the
/// current size. None where there is no such file.
pub(super) fn peak_rss(reset: bool) -> Option<u64> {
    peak_rss_of("self", reset)
}

/// [`peak_rss`] of the process `/proc/<pid>` names (`self`, or a number).
pub(super) fn peak_rss_of(pid: &str, reset: bool) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    if reset {
        // "5" resets the peak (proc(5), /proc/pid/clear_refs).
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
    Some(kib / 1024)
}

/// p50, p90, p99 and the largest of `values`, in milliseconds.
pub(super) fn percentiles(values: &mut [f64]) -> String {
    if values.is_empty() {
        return "no samples".into();
    }
    values.sort_by(f64::total_cmp);
    let at = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    )
}

/// A duration in milliseconds.
pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
