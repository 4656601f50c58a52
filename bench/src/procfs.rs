//! What the kernel says about a server process: CPU time (`/proc/<pid>/stat`, utime + stime,
//! all threads), memory (`/proc/<pid>/status`, VmRSS and the high-water mark VmHWM) and the
//! bytes it wrote towards the disk (`/proc/<pid>/io`, `write_bytes`). Read
//! from the kezd process the bench started, so the figures are the server's alone, never the
//! load generator's, even though both share the machine's cores.

use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// CPU time used so far by a process, in seconds (user + system, every thread).
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may contain spaces: count fields from
    // the last ')'. After it come field 3 (state) onwards; utime and stime are fields 14, 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.len() < 13 {
        bail!("short /proc/{pid}/stat");
    }
    let utime: u64 = fields[11].parse().context("utime")?;
    let stime: u64 = fields[12].parse().context("stime")?;
    // Tick counts are far below 2^52, so the conversion is exact.
    Ok((utime + stime) as f64 / clock_ticks())
}

/// The kernel's clock tick rate (`getconf CLK_TCK`, 100 on every Linux we run on). Asked once
/// through getconf so no libc call (and no `unsafe`) is needed.
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    /// Resident set size now (VmRSS).
    pub rss_kib: u64,
    /// Peak resident set size since the process started (VmHWM).
    pub hwm_kib: u64,
}

/// Reads VmRSS and VmHWM.
pub fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("{name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// Bytes a process caused to be written to storage so far (`write_bytes` of `/proc/<pid>/io`:
/// counted when a page of a file turns dirty, so writeback the kernel does later counts too,
/// and a page written again before it was written out counts once).
pub fn disk_write_bytes(pid: u32) -> Result<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))
        .with_context(|| format!("reading /proc/{pid}/io"))?;
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("write_bytes in /proc/{pid}/io"))
}

/// The 1-minute load average, recorded with every figure because the machine is shared.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<f64>().ok());
    Some([parts.next()??, parts.next()??, parts.next()??])
}

/// CPU time and memory of a set of server processes at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Sum of every process's CPU seconds.
    pub cpu_seconds: f64,
    /// Sum of every process's bytes written towards the disk.
    pub disk_write_bytes: u64,
    /// Per process, in the order given.
    pub cpu_each: Vec<f64>,
    /// Per process, in the order given.
    pub memory: Vec<Memory>,
}

/// Takes a [`Snapshot`] of `pids`.
pub fn snapshot(pids: &[u32]) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    for &pid in pids {
        let cpu = cpu_seconds(pid)?;
        snap.cpu_seconds += cpu;
        snap.disk_write_bytes += disk_write_bytes(pid)?;
        snap.cpu_each.push(cpu);
        snap.memory.push(memory(pid)?);
    }
    Ok(snap)
}
