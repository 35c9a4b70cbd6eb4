//! Black-box: the Godot 3 plugin's server phase, as PROTOCOL-NOTES describes it, against the real
//! server: ephemeral ports, `h:`/`c:` resent every 0.5 s until an answer, pings every 0.5 s, the
//! host's `s:` resent every 0.5 s, at most one datagram read per frame, never a `y:`, and the
//! socket closed once the start message is in. With 2, 3 and 12 players, 12-character names.

mod support;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::{Peer, Server};

const RESEND: Duration = Duration::from_millis(500);
/// The plugin reads one datagram per frame; 20 frames per second is slower than a real game,
/// which makes the test harder, not easier.
const FRAME: Duration = Duration::from_millis(50);
/// How long the host waits in the full lobby before starting.
const LOBBY_HOLD: Duration = Duration::from_millis(1200);

#[derive(Debug, PartialEq)]
enum State {
    Joining,
    Lobby,
    Starting,
    Done(String),
}

struct Godot {
    peer: Peer,
    name: String,
    host: bool,
    state: State,
    next_send: Instant,
    list: Vec<String>,
}

impl Godot {
    fn message(&self, session: &str, max: usize) -> String {
        match (&self.state, self.host) {
            (State::Joining, true) => format!("h:{session}:{}:{max}", self.name),
            (State::Joining, false) => format!("c:{session}:{}", self.name),
            (State::Lobby, _) => format!("p:{session}:{}", self.name),
            (State::Starting, _) => format!("s:{session}:{}", self.name),
            (State::Done(_), _) => unreachable!("closed"),
        }
    }

    /// One frame: resend if due, read at most one datagram.
    fn frame(&mut self, now: Instant, session: &str, max: usize) {
        if matches!(self.state, State::Done(_)) {
            return;
        }
        if now >= self.next_send {
            self.peer.send(&self.message(session, max));
            self.next_send = now + RESEND;
        }
        let mut buf = [0u8; 2048];
        let Ok(n) = self.peer.sock.recv(&mut buf) else { return };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if let Some(names) = text.strip_prefix("i:") {
            self.list = names.split(':').map(str::to_owned).collect();
            if self.state == State::Joining {
                self.state = State::Lobby;
            }
            if self.list.first() == Some(&self.name) {
                self.host = true;
            }
        } else if text.starts_with("s:") {
            self.state = State::Done(text);
        } else {
            panic!("{} got {text:?}", self.name);
        }
    }
}

fn godot_flow(n: usize) {
    let srv = Server::start(&[]);
    let session = "SessionNm1";
    let names: Vec<String> = (0..n).map(|i| format!("PlayerName{i:02}")).collect();
    assert!(names.iter().all(|s| s.len() == 12));
    let t0 = Instant::now();
    let mut players: Vec<Godot> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let peer = srv.peer();
            peer.sock.set_nonblocking(true).expect("nonblocking");
            Godot {
                peer,
                name: name.clone(),
                host: i == 0,
                state: State::Joining,
                // The host first, then one client per frame.
                next_send: t0 + FRAME * (i as u32 * 2),
                list: Vec::new(),
            }
        })
        .collect();
    let deadline = t0 + Duration::from_secs(20);
    let mut full_since: Option<Instant> = None;
    loop {
        let now = Instant::now();
        assert!(
            now < deadline,
            "flow not done in 20 s: {:?}",
            players.iter().map(|p| &p.state).collect::<Vec<_>>()
        );
        // The host starts 1.2 s after everyone is in its list (so the lobby sees a few pings).
        if players[0].state == State::Lobby && players[0].list.len() == n && full_since.is_none() {
            full_since = Some(now);
        }
        if players[0].state == State::Lobby && full_since.is_some_and(|t| now >= t + LOBBY_HOLD) {
            players[0].state = State::Starting;
            players[0].next_send = now;
        }
        for p in players.iter_mut() {
            p.frame(now, session, n);
        }
        if players.iter().all(|p| matches!(p.state, State::Done(_))) {
            break;
        }
        std::thread::sleep(FRAME);
    }
    // Every start message: own port, then every other player in join order (host first).
    let order: Vec<String> = players[0].list.clone();
    assert_eq!(order.first(), Some(&names[0]));
    let addr_of = |name: &str| -> SocketAddr {
        players.iter().find(|p| p.name == name).map(|p| p.peer.addr()).expect("known name")
    };
    for p in &players {
        let State::Done(msg) = &p.state else { unreachable!() };
        let others: Vec<String> = order
            .iter()
            .filter(|o| **o != p.name)
            .map(|o| format!("{o}:{}:{}", addr_of(o).ip(), addr_of(o).port()))
            .collect();
        assert_eq!(*msg, format!("s:{}:{}", p.peer.port(), others.join(";")), "{}", p.name);
    }
}

#[test]
fn godot_flow_with_2_players() {
    godot_flow(2);
}

#[test]
fn godot_flow_with_3_players() {
    godot_flow(3);
}

#[test]
fn godot_flow_with_12_players_and_12_character_names() {
    godot_flow(12);
}
