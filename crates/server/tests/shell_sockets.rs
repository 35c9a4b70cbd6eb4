//! The shell on real loopback sockets, in both of its modes (one datagram per system call, and
//! batched): a request on the main socket is answered from the main socket, a STUN Binding
//! request on the alternate socket from the alternate socket, and shutdown ends the loop.

use rhp_proto::stun::{parse_binding_response, write_binding_request};
use rhp_server::shell::{run_with_alt, ShellOptions};
use rhp_server::{Config, Engine};
use std::net::UdpSocket;
use std::time::Duration;

/// Sends `data` from `client` to `to` and returns the reply's bytes and source (5 s at most).
fn ask(client: &UdpSocket, to: std::net::SocketAddr, data: &[u8]) -> (Vec<u8>, std::net::SocketAddr) {
    client.send_to(data, to).expect("send");
    let mut buf = [0u8; 2048];
    let (n, from) = client.recv_from(&mut buf).expect("a reply within the timeout");
    (buf[..n].to_vec(), from)
}

fn serve_and_ask(io_batch: usize) {
    let main = UdpSocket::bind("127.0.0.1:0").expect("bind main");
    let alt = UdpSocket::bind("127.0.0.1:0").expect("bind alt");
    let (main_addr, alt_addr) = (main.local_addr().expect("main"), alt.local_addr().expect("alt"));
    main.set_nonblocking(true).expect("nonblocking");
    alt.set_nonblocking(true).expect("nonblocking");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let main = tokio::net::UdpSocket::from_std(main).expect("main");
            let alt = tokio::net::UdpSocket::from_std(alt).expect("alt");
            let engine = Engine::new(Config::original());
            let shutdown = async move {
                let _ = stopped.await;
            };
            run_with_alt(main, Some(alt), engine, shutdown, ShellOptions { io_batch }).await;
        });
    });
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    client.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let me = client.local_addr().expect("client");

    let (reply, from) = ask(&client, main_addr, b"h:Room:Alice:2");
    assert_eq!((reply.as_slice(), from), (&b"i:Alice"[..], main_addr), "io_batch {io_batch}");

    let mut stun = Vec::new();
    write_binding_request([5; 12], &mut stun);
    let (reply, from) = ask(&client, alt_addr, &stun);
    assert_eq!(from, alt_addr, "the alternate port answers from itself (io_batch {io_batch})");
    assert_eq!(parse_binding_response(&reply), Ok(([5; 12], me)));
    let (reply, from) = ask(&client, main_addr, &stun);
    assert_eq!(from, main_addr, "the main port answers from itself (io_batch {io_batch})");
    assert_eq!(parse_binding_response(&reply), Ok(([5; 12], me)));

    stop.send(()).expect("the loop is running");
    server.join().expect("the loop ended cleanly");
}

#[test]
fn one_datagram_per_system_call() {
    serve_and_ask(1);
}

#[test]
fn batched() {
    serve_and_ask(32);
}
