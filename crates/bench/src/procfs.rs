//! What the kernel says about a process and a UDP socket: CPU time (utime+stime) and memory from
//! `/proc/PID/stat` and `/proc/PID/status`, and a socket's drop counter from `/proc/net/udp`.

use std::fs;
use std::net::SocketAddrV4;

/// CPU time used so far by process `pid` (user + system), in microseconds.
pub fn cpu_us(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing ')' do not.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 1_000_000 / ticks_per_second())
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// A `kB` field of `/proc/PID/status` (VmRSS, VmHWM, …), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    let kb: u64 = line[field.len() + 1..].split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// Datagrams the kernel dropped on the IPv4 UDP socket bound to exactly `addr` (receive buffer
/// full, mostly): the last column of `/proc/net/udp`.
pub fn udp_drops(addr: SocketAddrV4) -> Option<u64> {
    let table = fs::read_to_string("/proc/net/udp").ok()?;
    // The kernel prints the address as the in-memory u32 in hex, then the port.
    let want = format!("{:08X}:{:04X}", u32::from_ne_bytes(addr.ip().octets()), addr.port());
    let mut total = None;
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(1) == Some(&want.as_str()) {
            let drops: u64 = cols.last()?.parse().ok()?;
            *total.get_or_insert(0) += drops;
        }
    }
    total
}
