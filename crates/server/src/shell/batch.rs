//! Batched UDP I/O (Linux only): `recvmmsg` takes up to a batch of datagrams in one system call,
//! `sendmmsg` sends a batch (each to its own address) in one.
//!
//! Both sides own fixed storage (one slot per datagram, `slot_len` bytes each) allocated once, so a
//! warm loop allocates nothing. Every call is non-blocking (`MSG_DONTWAIT`): an empty socket or a
//! full send buffer is an [`io::ErrorKind::WouldBlock`] error for the caller's event loop.

use socket2::SockAddr;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams received by one [`RecvBatch::recv`].
pub struct RecvBatch {
    slot_len: usize,
    data: Vec<u8>,
    lens: Vec<usize>,
    froms: Vec<Option<SocketAddr>>,
    addrs: Vec<libc::sockaddr_storage>,
    iovecs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    count: usize,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch").field("slots", &self.lens.len()).field("count", &self.count).finish()
    }
}

impl RecvBatch {
    /// Room for `slots` datagrams of up to `slot_len` bytes each (longer ones are truncated).
    pub fn new(slots: usize, slot_len: usize) -> RecvBatch {
        let slots = slots.max(1);
        let slot_len = slot_len.max(1);
        RecvBatch {
            slot_len,
            data: vec![0; slots * slot_len],
            lens: vec![0; slots],
            froms: vec![None; slots],
            // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
            addrs: vec![unsafe { zeroed() }; slots],
            iovecs: Vec::with_capacity(slots),
            msgs: Vec::with_capacity(slots),
            count: 0,
        }
    }

    /// How many datagrams one call may return.
    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// Receives up to [`RecvBatch::capacity`] datagrams waiting on `fd` without blocking; returns
    /// how many (at least one) or `WouldBlock` when none is waiting.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.count = 0;
        let n = self.recv_raw(fd)?;
        for i in 0..n {
            self.froms[i] = to_socket_addr(&self.addrs[i], self.addr_len(i));
        }
        self.count = n;
        Ok(n)
    }

    /// Datagram `i` of the last [`RecvBatch::recv`]: its bytes (truncated to the slot length) and
    /// its source, if the kernel gave one in a family we know.
    pub fn get(&self, i: usize) -> Option<(&[u8], Option<SocketAddr>)> {
        if i >= self.count {
            return None;
        }
        let start = i * self.slot_len;
        let len = self.lens[i].min(self.slot_len);
        Some((&self.data[start..start + len], self.froms[i]))
    }

    fn addr_len(&self, i: usize) -> libc::socklen_t {
        self.msgs.get(i).map_or(0, |m| m.msg_hdr.msg_namelen)
    }

    fn recv_raw(&mut self, fd: RawFd) -> io::Result<usize> {
        let slots = self.lens.len();
        self.iovecs.clear();
        self.msgs.clear();
        let base = self.data.as_mut_ptr();
        for i in 0..slots {
            // SAFETY: i * slot_len + slot_len <= data.len(), so the pointer stays in the buffer.
            let ptr = unsafe { base.add(i * self.slot_len) };
            self.iovecs.push(libc::iovec { iov_base: ptr.cast(), iov_len: self.slot_len });
        }
        for i in 0..slots {
            // SAFETY: mmsghdr is plain old data; all-zero is a valid value, filled in below.
            let mut m: libc::mmsghdr = unsafe { zeroed() };
            m.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_hdr.msg_iov = &mut self.iovecs[i];
            m.msg_hdr.msg_iovlen = 1;
            self.msgs.push(m);
        }
        // SAFETY: msgs holds `slots` headers whose name and iovec pointers point into self.addrs,
        // self.iovecs and self.data, all alive and not otherwise borrowed during the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                slots as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(slots);
        for i in 0..n {
            self.lens[i] = self.msgs[i].msg_len as usize;
        }
        Ok(n)
    }
}

/// Datagrams queued for one [`SendBatch::send`].
pub struct SendBatch {
    slot_len: usize,
    data: Vec<u8>,
    lens: Vec<usize>,
    dests: Vec<Option<SockAddr>>,
    iovecs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    /// Queued datagrams are `first..len` (the ones before `first` went out already).
    first: usize,
    len: usize,
}

impl std::fmt::Debug for SendBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendBatch").field("slots", &self.lens.len()).field("queued", &self.len()).finish()
    }
}

impl SendBatch {
    /// Room for `slots` datagrams of up to `slot_len` bytes each.
    pub fn new(slots: usize, slot_len: usize) -> SendBatch {
        let slots = slots.max(1);
        let slot_len = slot_len.max(1);
        SendBatch {
            slot_len,
            data: vec![0; slots * slot_len],
            lens: vec![0; slots],
            dests: vec![None; slots],
            iovecs: Vec::with_capacity(slots),
            msgs: Vec::with_capacity(slots),
            first: 0,
            len: 0,
        }
    }

    /// Datagrams queued and not sent yet.
    pub fn len(&self) -> usize {
        self.len - self.first
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether another [`SendBatch::push`] would fail.
    pub fn is_full(&self) -> bool {
        self.len == self.lens.len()
    }

    /// Queues `data` for `to` (`None`: the socket's connected peer). Returns `false`, queueing
    /// nothing, when the batch is full or `data` is longer than a slot.
    pub fn push(&mut self, to: Option<SocketAddr>, data: &[u8]) -> bool {
        if self.is_full() || data.len() > self.slot_len {
            return false;
        }
        let i = self.len;
        let start = i * self.slot_len;
        self.data[start..start + data.len()].copy_from_slice(data);
        self.lens[i] = data.len();
        self.dests[i] = to.map(SockAddr::from);
        self.len += 1;
        true
    }

    /// The destination and bytes of the oldest queued datagram (for logging a failure).
    pub fn front(&self) -> Option<(Option<SocketAddr>, &[u8])> {
        if self.is_empty() {
            return None;
        }
        let i = self.first;
        let start = i * self.slot_len;
        Some((self.dests[i].as_ref().and_then(SockAddr::as_socket), &self.data[start..start + self.lens[i]]))
    }

    /// Drops the oldest queued datagram unsent (after the kernel refused it).
    pub fn skip_front(&mut self) {
        if !self.is_empty() {
            self.first += 1;
        }
        self.reset_if_drained();
    }

    /// Sends as many queued datagrams as the kernel takes without blocking, oldest first; returns
    /// how many went out, or the error of the oldest one (`WouldBlock` when the buffer is full).
    pub fn send(&mut self, fd: RawFd) -> io::Result<usize> {
        if self.is_empty() {
            return Ok(0);
        }
        self.iovecs.clear();
        self.msgs.clear();
        let base = self.data.as_mut_ptr();
        for i in self.first..self.len {
            // SAFETY: i * slot_len + lens[i] <= data.len(), so the pointer stays in the buffer.
            let ptr = unsafe { base.add(i * self.slot_len) };
            self.iovecs.push(libc::iovec { iov_base: ptr.cast(), iov_len: self.lens[i] });
        }
        for (k, i) in (self.first..self.len).enumerate() {
            // SAFETY: mmsghdr is plain old data; all-zero is a valid value, filled in below.
            let mut m: libc::mmsghdr = unsafe { zeroed() };
            if let Some(dest) = &self.dests[i] {
                m.msg_hdr.msg_name = dest.as_ptr() as *mut libc::c_void;
                m.msg_hdr.msg_namelen = dest.len();
            }
            m.msg_hdr.msg_iov = &mut self.iovecs[k];
            m.msg_hdr.msg_iovlen = 1;
            self.msgs.push(m);
        }
        let count = self.msgs.len();
        // SAFETY: msgs holds `count` headers whose pointers point into self.dests, self.iovecs and
        // self.data, all alive and unchanged during the call; the kernel only reads them.
        let n =
            unsafe { libc::sendmmsg(fd, self.msgs.as_mut_ptr(), count as libc::c_uint, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(count);
        self.first += n;
        self.reset_if_drained();
        Ok(n)
    }

    fn reset_if_drained(&mut self) {
        if self.first == self.len {
            self.first = 0;
            self.len = 0;
        }
    }
}

/// The socket address in `storage`, if its family is IPv4 or IPv6.
fn to_socket_addr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and
            // aligned enough for.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
