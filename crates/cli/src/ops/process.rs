//! The process's figures (from /proc) and the kernel's receive drops on our sockets (SO_MEMINFO),
//! read at scrape time (Linux; elsewhere they are absent). A file that cannot be read or parsed gives `None`,
//! never an error: a scrape always answers.

use std::fs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

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

/// Datagrams the kernel dropped on our sockets (their receive queue was full).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelDrops {
    /// On the main socket.
    pub main: Option<u64>,
    /// On the alternate STUN socket.
    pub alt: Option<u64>,
}

/// Duplicates of our UDP sockets' descriptors, to ask the kernel for their drop counts (the
/// sockets themselves stay the loop's).
#[derive(Debug, Default)]
pub struct Sockets {
    /// The main socket.
    pub main: Option<OwnedFd>,
    /// The alternate socket.
    pub alt: Option<OwnedFd>,
}

impl Sockets {
    /// Duplicates of `main` and `alt` (a socket that cannot be duplicated is left out).
    pub fn of(main: BorrowedFd<'_>, alt: Option<BorrowedFd<'_>>) -> Sockets {
        Sockets { main: main.try_clone_to_owned().ok(), alt: alt.and_then(|a| a.try_clone_to_owned().ok()) }
    }

    /// The drops counted so far on each.
    pub fn drops(&self) -> KernelDrops {
        KernelDrops {
            main: self.main.as_ref().and_then(|fd| socket_drops(fd.as_fd())),
            alt: self.alt.as_ref().and_then(|fd| socket_drops(fd.as_fd())),
        }
    }
}

/// `SO_MEMINFO` (Linux 4.12+): the socket's memory figures, `SK_MEMINFO_DROPS` among them. Read
/// in O(1) per socket (unlike /proc/net/udp, which lists every UDP socket of the machine: slow
/// with thousands of them).
#[cfg(all(target_os = "linux", not(any(target_arch = "sparc64", target_arch = "sparc"))))]
const SO_MEMINFO: libc::c_int = 55;

#[cfg(all(target_os = "linux", not(any(target_arch = "sparc64", target_arch = "sparc"))))]
fn socket_drops(fd: BorrowedFd<'_>) -> Option<u64> {
    const VARS: usize = libc::SK_MEMINFO_DROPS as usize + 1;
    let mut info = [0u32; VARS];
    let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`, a valid array of that size, and
    // `fd` is a live descriptor we own a duplicate of.
    let rc = unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, SO_MEMINFO, info.as_mut_ptr().cast(), &mut len)
    };
    if rc != 0 || (len as usize) < std::mem::size_of_val(&info) {
        return None;
    }
    Some(u64::from(info[libc::SK_MEMINFO_DROPS as usize]))
}

#[cfg(not(all(target_os = "linux", not(any(target_arch = "sparc64", target_arch = "sparc")))))]
fn socket_drops(_fd: BorrowedFd<'_>) -> Option<u64> {
    None
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
