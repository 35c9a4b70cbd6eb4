//! The application's handle on a running [`Client`](crate::Client): [`Control`] sends
//! [`Command`]s (start, exit, kick, unban) that the pump feeds to the engine.

use tokio::sync::mpsc;

/// A command from the application to a running [`Client`](crate::Client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Host: start the session.
    Start,
    /// Leave the session.
    Exit,
    /// Host: kick a player.
    Kick(String),
    /// Host: let a kicked player back.
    Unban(String),
}

/// Sends commands to a running [`Client`](crate::Client). Cheap to clone; commands after the server phase do
/// nothing.
#[derive(Debug, Clone)]
pub struct Control {
    pub(crate) tx: mpsc::Sender<Command>,
}

impl Control {
    /// Host: ask the server to start the session.
    pub fn start(&self) {
        let _ = self.tx.try_send(Command::Start);
    }

    /// Leave the session.
    pub fn exit(&self) {
        let _ = self.tx.try_send(Command::Exit);
    }

    /// Host: kick `player`.
    pub fn kick(&self, player: &str) {
        let _ = self.tx.try_send(Command::Kick(player.to_owned()));
    }

    /// Host: let `player`, kicked earlier, join again (our server only).
    pub fn unban(&self, player: &str) {
        let _ = self.tx.try_send(Command::Unban(player.to_owned()));
    }
}
