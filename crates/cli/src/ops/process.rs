//! The process's figures and the kernel's receive drops on our sockets, read from /proc at scrape
//! time (Linux; elsewhere they are absent). A file that cannot be read or parsed gives `None`,
//! never an error: a scrape always answers.

use std::fs;

/// What /proc says about this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size, in bytes.
    pub resident_bytes: u64,
    /// Virtual memory size, in bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<u64>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// Datagrams the kernel dropped on our sockets (`drops` in /proc/net/udp{,6}).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelDrops {
    /// On the main socket.
    pub main: Option<u64>,
    /// On the alternate STUN socket.
    pub alt: Option<u64>,
}

/// The inodes of our UDP sockets, to find them in /proc/net/udp.
#[derive(Debug, Clone, Copy, Default)]
pub struct SocketInodes {
    /// The main socket's.
    pub main: Option<u64>,
    /// The alternate socket's.
    pub alt: Option<u64>,
}

/// The inode of the socket behind file descriptor `fd` (`socket:[N]` in /proc/self/fd).
pub fn socket_inode(fd: i32) -> Option<u64> {
    let link = fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    let s = link.to_str()?;
    s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// The drops counted for each socket in `inodes`.
pub fn kernel_drops(inodes: SocketInodes) -> KernelDrops {
    let mut text = fs::read_to_string("/proc/self/net/udp").unwrap_or_default();
    text.push_str(&fs::read_to_string("/proc/self/net/udp6").unwrap_or_default());
    KernelDrops {
        main: inodes.main.and_then(|i| drops_of(&text, i)),
        alt: inodes.alt.and_then(|i| drops_of(&text, i)),
    }
}

/// The `drops` column (the last) of the /proc/net/udp line whose `inode` column (the 10th) is
/// `inode`.
pub fn drops_of(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(9)?.parse::<u64>().ok()? != inode {
            return None;
        }
        cols.last()?.parse().ok()
    })
}

/// This process's figures, if /proc/self can be read. `started` (seconds since the Unix epoch)
/// stands for the start time where /proc/stat is hidden (systemd's `ProcSubset=pid`).
pub fn process_stats(started: f64) -> Option<ProcessStats> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields count after it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Field n (1-based, as in proc(5)) is f[n - 3].
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let ticks = clock_ticks()? as f64;
    let page = page_size()?;
    let boot = fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse::<u64>().ok()));
    let open_fds = fs::read_dir("/proc/self/fd").ok()?.count().saturating_sub(1) as u64;
    Some(ProcessStats {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        resident_bytes: field(24)?.saturating_mul(page),
        virtual_bytes: field(23)?,
        open_fds,
        max_fds: max_open_files(),
        start_time_seconds: match boot {
            Some(boot) => boot as f64 + field(22)? as f64 / ticks,
            None => started,
        },
    })
}

/// The soft limit in /proc/self/limits' `Max open files` line.
fn max_open_files() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.get("Max open files".len()..)?.split_whitespace().next()?.parse().ok()
}

fn clock_ticks() -> Option<u64> {
    // SAFETY: sysconf only reads a system constant.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(v).ok().filter(|v| *v > 0)
}

fn page_size() -> Option<u64> {
    // SAFETY: sysconf only reads a system constant.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(v).ok().filter(|v| *v > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_found_by_inode() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
          1: 0100007F:E1AF 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
          2: 0100007F:E1B0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4243 2 0000000000000000 0\n";
        assert_eq!(drops_of(table, 4242), Some(17));
        assert_eq!(drops_of(table, 4243), Some(0));
        assert_eq!(drops_of(table, 1), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let p = process_stats(0.0).expect("/proc/self readable");
        assert!(p.resident_bytes > 0 && p.open_fds > 0 && p.start_time_seconds > 1.0e9, "{p:?}");
    }
}
