//! Process metrics read from `/proc/self` (Linux), with the standard
//! Prometheus client names. Anything unreadable is simply left out.

use std::fmt::Write;

/// Kernel clock ticks per second as procfs reports them (`USER_HZ`).
const USER_HZ: f64 = 100.0;

/// Appends the `process_*` families to `out`.
pub fn render(out: &mut String) {
    if let Some(rss) = status_kib("VmRSS:") {
        gauge(
            out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            rss * 1024.0,
        );
    }
    if let Some(vm) = status_kib("VmSize:") {
        gauge(
            out,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            vm * 1024.0,
        );
    }
    if let Some(stat) = self_stat() {
        let cpu = (stat.utime + stat.stime) / USER_HZ;
        let _ = writeln!(
            out,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds."
        );
        let _ = writeln!(out, "# TYPE process_cpu_seconds_total counter");
        let _ = writeln!(out, "process_cpu_seconds_total {cpu}");
        if let Some(btime) = boot_time() {
            let start = btime + stat.starttime / USER_HZ;
            gauge(
                out,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                start,
            );
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            out,
            "process_open_fds",
            "Number of open file descriptors.",
            dir.count() as f64,
        );
    }
    if let Some(max) = max_fds() {
        gauge(
            out,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            max,
        );
    }
}

fn gauge(out: &mut String, name: &str, help: &str, v: f64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {v}");
}

fn status_kib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

struct Stat {
    utime: f64,
    stime: f64,
    starttime: f64,
}

fn self_stat() -> Option<Stat> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime = field 14, stime = 15, starttime = 22.
    Some(Stat {
        utime: f.get(11)?.parse().ok()?,
        stime: f.get(12)?.parse().ok()?,
        starttime: f.get(19)?.parse().ok()?,
    })
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process() {
        let mut out = String::new();
        super::render(&mut out);
        if cfg!(target_os = "linux") {
            assert!(out.contains("process_resident_memory_bytes "), "{out}");
            assert!(out.contains("process_cpu_seconds_total "), "{out}");
            assert!(out.contains("process_open_fds "), "{out}");
            assert!(out.contains("process_start_time_seconds "), "{out}");
        }
    }
}
