//! Two players on this machine, from the rendezvous to a message each way: `cargo run -p
//! rhp-client --example two_players`.
//!
//! It needs nothing else running: the real rendezvous server (`rhp-server`) is started in this
//! process on loopback. Alice hosts a session for two, Bob joins it, Alice starts it once Bob is
//! in; each prints the path it uses to the other (direct or through the server's relay), they
//! exchange a message each way, then Bob leaves and Alice sees him go. In a game, only
//! [`play`] is yours: the server is somewhere on the internet and each player runs one `play`.

use rhp_client::{Client, ClientError, Config, Event, Mesh, Path, PeerInfo};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// What each player saw, for the test that runs this example.
#[derive(Debug)]
pub struct Report {
    /// (player, peer, path in use: "direct ip:port" or "relay").
    pub paths: Vec<(String, String, String)>,
    /// (player, from, text) of every message received.
    pub received: Vec<(String, String, String)>,
    /// Alice saw Bob leave (`Event::PeerLeft`).
    pub alice_saw_bob_leave: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let report = run().await?;
    for (me, peer, path) in &report.paths {
        println!("{me}: path to {peer}: {path}");
    }
    for (me, from, text) in &report.received {
        println!("{me}: got {text:?} from {from}");
    }
    println!("Alice saw Bob leave: {}", report.alice_saw_bob_leave);
    Ok(())
}

/// The whole example: a server on loopback, then Alice and Bob in two tasks.
pub async fn run() -> Result<Report, Box<dyn std::error::Error + Send + Sync>> {
    let (server, alt_port) = start_server()?;
    let mut alice = Config::host(server, "Room1", "Alice", 2);
    let mut bob = Config::join(server, "Room1", "Bob");
    // The in-process server's second STUN port is not the default (server port + 1).
    alice.nat.alt_port = Some(alt_port);
    bob.nat.alt_port = Some(alt_port);
    let alice = tokio::spawn(play(alice, true));
    let bob = tokio::spawn(play(bob, false));
    let (alice, bob) = (alice.await??, bob.await??);
    let mut report = Report { paths: Vec::new(), received: Vec::new(), alice_saw_bob_leave: false };
    for seen in [alice, bob] {
        report.paths.extend(seen.paths.into_iter().map(|(peer, path)| (seen.me.clone(), peer, path)));
        report.received.extend(seen.received.into_iter().map(|(from, text)| (seen.me.clone(), from, text)));
        report.alice_saw_bob_leave |= seen.saw_leave;
    }
    Ok(report)
}

/// What one player saw.
struct Seen {
    me: String,
    paths: Vec<(String, String)>,
    received: Vec<(String, String)>,
    saw_leave: bool,
}

/// One player: the lobby, the peer phase, a message each way, the end.
async fn play(config: Config, is_host: bool) -> Result<Seen, ClientError> {
    let me = config.player.clone();
    let (client, control, mut events) =
        Client::bind(config, Some(SocketAddr::from(([127, 0, 0, 1], 0)))).await?;
    let run = tokio::spawn(client.run());
    // Lobby and peer phase: events until the mesh is ready (`Done`), or the run ended (the
    // channel closes; `run` then says why).
    while let Some(event) = events.recv().await {
        match event {
            Event::Players(players) if is_host && players.len() == 2 => control.start(),
            Event::Connected { peer, method, .. } => eprintln!("{me}: connected to {peer} ({method})"),
            Event::Done { .. } => break,
            _ => {}
        }
    }
    let mut mesh = run.await.map_err(|_| ClientError::Stopped)??;
    let paths = mesh.connected().iter().map(|p| (p.name.clone(), path_of(p))).collect();
    // One message to every peer, then the first message from each.
    let text = format!("hello from {me}");
    mesh.send_all(text.as_bytes()).await?;
    let mut received = Vec::new();
    while received.len() < mesh.connected().len() {
        let (from, data) = tokio::time::timeout(Duration::from_secs(5), mesh.recv())
            .await
            .map_err(|_| ClientError::Io(std::io::ErrorKind::TimedOut.into()))??;
        received.push((from, String::from_utf8_lossy(&data).into_owned()));
    }
    let saw_leave = if is_host { wait_for_leave(&mut mesh, &mut events).await? } else { false };
    // Tells the peers we leave, and gives the relay slot back.
    mesh.close().await?;
    Ok(Seen { me, paths, received, saw_leave })
}

/// The path in use to a peer, as text.
fn path_of(peer: &PeerInfo) -> String {
    match peer.path() {
        Some(Path::Direct(_, addr)) => format!("direct {addr}"),
        Some(Path::Relay) => "relay".to_owned(),
        None => "none".to_owned(),
    }
}

/// Keeps the mesh running (it answers peers and keeps them alive) until a peer leaves, at most
/// 5 s. Events after the peer phase come on the same channel as before.
async fn wait_for_leave(
    mesh: &mut Mesh,
    events: &mut tokio::sync::mpsc::Receiver<Event>,
) -> Result<bool, ClientError> {
    let end = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        tokio::select! {
            Some(event) = events.recv() => {
                if let Event::PeerLeft { peer, reason } = event {
                    eprintln!("{peer} is gone ({reason})");
                    return Ok(true);
                }
            }
            r = mesh.recv() => {
                let (from, data) = r?;
                eprintln!("late message from {from}: {}", String::from_utf8_lossy(&data));
            }
            () = tokio::time::sleep_until(end) => return Ok(false),
        }
    }
}

/// The real rendezvous server on loopback, on a thread of its own (its shell is a single-task
/// loop): its main port and its second STUN port (NAT classification compares the two). It runs
/// until the process ends.
fn start_server() -> std::io::Result<(SocketAddr, u16)> {
    let main = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let alt = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let (server, alt_port) = (main.local_addr()?, alt.local_addr()?.port());
    main.set_nonblocking(true)?;
    alt.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let (Ok(main), Ok(alt)) = (UdpSocket::from_std(main), UdpSocket::from_std(alt)) else { return };
            let engine = rhp_server::Engine::new(rhp_server::Config::default());
            let options = rhp_server::shell::ShellOptions::default();
            rhp_server::shell::run_with_alt(main, Some(alt), engine, std::future::pending(), options).await;
        });
    });
    Ok((server, alt_port))
}
