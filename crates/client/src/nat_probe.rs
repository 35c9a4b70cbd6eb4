//! `probe_nat`: NAT classification on its own (the `rabid-hole-punch nat` command), a small
//! tokio driver around the same sans-IO [`Classifier`](crate::classify) the engine runs while
//! joining.

use crate::classify::{Classifier, NatReport};
use crate::config::NatConfig;
use crate::error::ClientError;
use crate::outbox::{Outbox, SocketOp};
use crate::rng::Rng;
use rhp_io::SocketId;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;
use tokio::net::UdpSocket;

/// Classifies the NAT in front of `bind` (default: any port) with STUN Binding requests to
/// `server` and its alternate port. Waits at most `stun_rto × (stun_tries + 1)`.
pub async fn probe_nat(
    server: SocketAddr,
    nat: &NatConfig,
    bind: Option<SocketAddr>,
) -> Result<NatReport, ClientError> {
    let any = |port| match server {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
    };
    let main = UdpSocket::bind(bind.unwrap_or(any(0))).await?;
    let mut probe: Option<UdpSocket> = None;
    let mut out = Outbox::default();
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    let mut rng = Rng::new(seed);
    let now = Instant::now();
    let mut c = Classifier::new(server, crate::sockets::PROBE, nat, &mut rng, now, &mut out);
    c.opened(SocketId::MAIN, main.local_addr().ok().map(|a| a.port()), now, &mut out);
    let (mut buf_a, mut buf_b) = (vec![0u8; 2048], vec![0u8; 2048]);
    loop {
        // Socket requests first (the probe socket's sends follow its opening).
        while let Some(op) = out.sockets.pop_front() {
            match op {
                SocketOp::Open(id) => {
                    probe = UdpSocket::bind(any(0)).await.ok();
                    let port = probe.as_ref().and_then(|s| s.local_addr().ok()).map(|a| a.port());
                    c.opened(id, port, Instant::now(), &mut out);
                }
                SocketOp::Close(_) => probe = None,
            }
        }
        while let Some(t) = out.transmits.pop_front() {
            let socket = if t.via == SocketId::MAIN { Some(&main) } else { probe.as_ref() };
            if let Some(s) = socket {
                if let Err(e) = s.send_to(&t.data, t.to).await {
                    tracing::debug!(to = %t.to, error = %e, "STUN request not sent");
                }
            }
        }
        if let Some(report) = c.report() {
            return Ok(report.clone());
        }
        let Some(deadline) = c.poll_timeout() else {
            return Err(ClientError::InvalidConfig("the NAT probe stopped without a result".into()));
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        tokio::select! {
            r = main.recv_from(&mut buf_a) => {
                if let Ok((n, from)) = r {
                    c.handle_datagram(SocketId::MAIN, from, buf_a.get(..n).unwrap_or(&[]), &mut out);
                }
            }
            r = async { match &probe { Some(s) => s.recv_from(&mut buf_b).await, None => std::future::pending().await } } => {
                if let Ok((n, from)) = r {
                    c.handle_datagram(crate::sockets::PROBE, from, buf_b.get(..n).unwrap_or(&[]), &mut out);
                }
            }
            () = tokio::time::sleep_until(deadline) => c.handle_timeout(Instant::now(), &mut out),
        }
    }
}
