//! Black-box lobby cases through the real server: the host leaves before the start (the next
//! player becomes host and starts), and a kicked player. The leaving/kicking host is driven with
//! the library (`rhp_client`), the others are `rabid-hole-punch join` processes.

mod support;

use rhp_client::{Client, ClientError, Config, Control, Event};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;
use support::player::Player;
use support::Server;

/// Names connected to and names heard from, or the run's error.
type LibOutcome = Result<(Vec<String>, Vec<String>), String>;

/// A library player in its own thread and runtime: its command handle, its events, and at the
/// end the names it connected to and heard data from (or the error).
struct LibPlayer {
    control: Control,
    events: mpsc::Receiver<Event>,
    done: JoinHandle<LibOutcome>,
}

impl LibPlayer {
    fn spawn(config: Config) -> LibPlayer {
        let (ctl_tx, ctl_rx) = mpsc::channel();
        let (ev_tx, ev_rx) = mpsc::channel();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let bind = "127.0.0.1:0".parse().ok();
                let (client, control, mut events) =
                    Client::bind(config, bind).await.map_err(|e| e.to_string())?;
                let _ = ctl_tx.send(control);
                let mut run = tokio::spawn(client.run());
                let result = loop {
                    tokio::select! {
                        Some(ev) = events.recv() => { let _ = ev_tx.send(ev); }
                        r = &mut run => break r,
                    }
                };
                while let Ok(ev) = events.try_recv() {
                    let _ = ev_tx.send(ev);
                }
                let mut mesh = result
                    .map_err(|_| "run task failed".to_owned())?
                    .map_err(|e: ClientError| e.to_string())?;
                let connected: Vec<String> = mesh.connected().into_iter().map(|p| p.name).collect();
                let mut heard = Vec::new();
                for _ in 0..15 {
                    mesh.send_all(b"hello from lib").await.map_err(|e| e.to_string())?;
                    if let Ok(Ok((peer, _))) =
                        tokio::time::timeout(Duration::from_millis(200), mesh.recv()).await
                    {
                        if !heard.contains(&peer) {
                            heard.push(peer);
                        }
                    }
                }
                Ok((connected, heard))
            })
        });
        let control = ctl_rx.recv_timeout(Duration::from_secs(10)).expect("library client bound");
        LibPlayer { control, events: ev_rx, done }
    }

    /// Waits (bounded) for an event matching `pred`.
    fn wait_event(&self, within: Duration, pred: impl Fn(&Event) -> bool) -> Option<Event> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(std::time::Instant::now())?;
            match self.events.recv_timeout(left) {
                Ok(ev) if pred(&ev) => return Some(ev),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

#[test]
fn host_leaves_before_the_start_and_the_new_host_starts() {
    let server = Server::start(&[]);
    let alice = LibPlayer::spawn(Config::host(server.addr, "LeaveS", "LvAlice", 3));
    alice.wait_event(Duration::from_secs(10), |e| matches!(e, Event::Joined { .. })).expect("joined");
    let script = ["--send", "hi", "--expect", "1"];
    let mut bob =
        Player::join(server.addr, "LeaveS", "LvBob", &["--start-when", "2", "--send", "hi", "--expect", "1"]);
    assert!(bob.wait_stderr("in the session", Duration::from_secs(10)), "{}", bob.dump());
    let mut carol = Player::join(server.addr, "LeaveS", "LvCarol", &script);
    let three = |e: &Event| matches!(e, Event::Players(p) if p.len() == 3);
    alice.wait_event(Duration::from_secs(10), three).expect("three players");
    alice.control.exit();
    let outcome = alice.done.join().expect("thread");
    assert!(outcome.unwrap_err().contains("left the session"), "the exit is the leaving host's outcome");
    for p in [&mut bob, &mut carol] {
        assert_eq!(p.wait(Duration::from_secs(30)), Some(0), "{}", p.dump());
        assert_eq!(p.line_fields("punch-done").unwrap()[0].1, "1/1", "{}", p.dump());
        assert!(p.stdout().iter().any(|l| l.ends_with(": hi")), "{}", p.dump());
    }
    assert!(bob.stderr().iter().any(|l| l.contains("you are the host now")), "{}", bob.dump());
    assert!(bob.stderr().iter().any(|l| l.contains("session started (host LvBob)")), "{}", bob.dump());
    assert!(carol.stderr().iter().any(|l| l.contains("session started (host LvBob)")), "{}", carol.dump());
}

#[test]
fn a_kicked_player_is_told_and_the_rest_play_on() {
    let server = Server::start(&[]);
    let alice = LibPlayer::spawn(Config::host(server.addr, "KickS", "KkAlice", 3));
    alice.wait_event(Duration::from_secs(10), |e| matches!(e, Event::Joined { .. })).expect("joined");
    let mut bob = Player::join(server.addr, "KickS", "KkBob", &["--send", "hi", "--expect", "1"]);
    assert!(bob.wait_stderr("in the session", Duration::from_secs(10)), "{}", bob.dump());
    let mut carol = Player::join(server.addr, "KickS", "KkCarol", &[]);
    let three = |e: &Event| matches!(e, Event::Players(p) if p.len() == 3);
    alice.wait_event(Duration::from_secs(10), three).expect("three players");
    alice.control.kick("KkCarol");
    assert_eq!(carol.wait(Duration::from_secs(10)), Some(1), "{}", carol.dump());
    assert!(carol.stderr().iter().any(|l| l.contains("kicked")), "{}", carol.dump());
    let two = |e: &Event| matches!(e, Event::Players(p) if p.len() == 2);
    alice.wait_event(Duration::from_secs(10), two).expect("two players after the kick");
    alice.control.start();
    let (connected, heard) = alice.done.join().expect("thread").expect("alice's run");
    assert_eq!(connected, ["KkBob"]);
    assert_eq!(heard, ["KkBob"]);
    assert_eq!(bob.wait(Duration::from_secs(30)), Some(0), "{}", bob.dump());
    assert_eq!(bob.line_fields("punch-done").unwrap()[0].1, "1/1", "{}", bob.dump());
    assert!(bob.stdout().contains(&"KkAlice: hello from lib".to_owned()), "{}", bob.dump());
}
