//! The Prometheus process collector's series (`process_*`, the names every Prometheus client
//! library exports, so stock dashboards and alerts work) and `kezd_build_info`, read from
//! `/proc/self` at each scrape. Parsed here rather than through a crate: five numbers from
//! three files do not justify `procfs`'s size, and the Prometheus client crates bring a
//! registry kezd does not use. The files live in memory (procfs), so reading them does not
//! wait on a disk. Where `/proc` is missing (not Linux), only the build info is written.

use std::fmt::Write as _;
use std::fs;

/// Clock ticks per second of `/proc`'s times: USER_HZ, fixed at 100 in Linux's ABI whatever
/// the kernel's own tick rate.
const TICKS_PER_SECOND: f64 = 100.0;

/// Appends the process series and the build info.
pub fn render(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP kezd_build_info The running kezd's version.\n# TYPE kezd_build_info gauge\n\
         kezd_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let Some(sample) = Sample::read() else {
        return;
    };
    let series: [(&str, &str, &str, f64); 6] = [
        (
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            sample.cpu_seconds,
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            sample.resident_bytes,
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            sample.virtual_bytes,
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            sample.start_time_seconds,
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            sample.open_fds,
        ),
        (
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            sample.max_fds,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

/// One reading of the process's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    start_time_seconds: f64,
    open_fds: f64,
    max_fds: f64,
}

impl Sample {
    fn read() -> Option<Sample> {
        let stat = Stat::parse(&fs::read_to_string("/proc/self/stat").ok()?)?;
        let boot_time = boot_time(&fs::read_to_string("/proc/stat").ok()?)?;
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let limits = fs::read_to_string("/proc/self/limits").ok()?;
        Some(Sample {
            cpu_seconds: (stat.utime + stat.stime) / TICKS_PER_SECOND,
            resident_bytes: resident_kib(&status)? * 1024.0,
            virtual_bytes: stat.vsize,
            start_time_seconds: boot_time + stat.starttime / TICKS_PER_SECOND,
            open_fds: fs::read_dir("/proc/self/fd").ok()?.count() as f64,
            max_fds: max_open_files(&limits)?,
        })
    }
}

/// The fields of `/proc/self/stat` used here, in their units (ticks, bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    utime: f64,
    stime: f64,
    starttime: f64,
    vsize: f64,
}

impl Stat {
    /// Fields are counted after the command name, which is in parentheses and may itself
    /// hold spaces and parentheses: the last `)` ends it (proc(5)).
    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Field 3 (state) is fields[0]; utime is field 14, stime 15, starttime 22, vsize 23.
        let field = |number: usize| fields.get(number - 3)?.parse::<f64>().ok();
        Some(Stat {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
            vsize: field(23)?,
        })
    }
}

/// `btime` of `/proc/stat`: the boot time in Unix seconds.
fn boot_time(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// `VmRSS` of `/proc/self/status`, in KiB.
fn resident_kib(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(f64::INFINITY),
        number => number.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_found_after_a_command_name_with_spaces() {
        let text = "4242 (kezd (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    9 0 12345 987654 300 18446744073709551615\n";
        assert_eq!(
            Stat::parse(text),
            Some(Stat {
                utime: 250.0,
                stime: 50.0,
                starttime: 12345.0,
                vsize: 987_654.0,
            })
        );
        assert_eq!(Stat::parse("4242 (kezd) S 1"), None);
    }

    #[test]
    fn status_stat_and_limits_lines_are_read() {
        assert_eq!(boot_time("cpu 1 2\nbtime 1700000000\n"), Some(1.7e9));
        assert_eq!(
            resident_kib("Name:\tkezd\nVmRSS:\t   10240 kB\n"),
            Some(10240.0)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024.0));
    }

    #[test]
    fn this_process_is_read_on_linux() {
        let mut out = String::new();
        render(&mut out);
        assert!(out.contains("kezd_build_info{version=\""), "{out}");
        if cfg!(target_os = "linux") {
            let sample = Sample::read().expect("/proc/self");
            assert!(
                sample.resident_bytes > 0.0 && sample.open_fds >= 3.0,
                "{sample:?}"
            );
            assert!(sample.start_time_seconds > 1.0e9, "{sample:?}");
        }
    }
}
