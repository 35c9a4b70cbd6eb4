//! Lines typed by the player, read on a plain OS thread so that nothing waits for them at exit.
//!
//! tokio's `stdin()` reads on its blocking pool, and a runtime waits for that pool when it shuts
//! down: a `host`/`join` that was done still hung until Enter or Ctrl-D, and the next thing typed
//! into the shell was swallowed. A detached thread that is blocked in `read` is simply ended with
//! the process.

use std::io::BufRead;
use tokio::sync::mpsc;

/// Lines buffered between the reader thread and the program (the thread waits when it is full).
const CAPACITY: usize = 64;

/// What the player typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// One line, without its line end.
    Line(String),
    /// End of input (Ctrl-D on a terminal, the end of a pipe) or a read error.
    End,
}

/// The player's input: [`Console::next`] gives each line, then [`Typed::End`] once and forever.
#[derive(Debug)]
pub struct Console {
    rx: mpsc::Receiver<Typed>,
    ended: bool,
}

impl Console {
    /// Starts the reader thread on stdin.
    pub fn stdin() -> Console {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let spawned = std::thread::Builder::new().name("stdin".into()).spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(Typed::Line(line)).is_err() {
                    return;
                }
            }
            let _ = tx.blocking_send(Typed::End);
        });
        // Without the thread there is no input: the same as an input that ended.
        Console { rx, ended: spawned.is_err() }
    }

    /// The next line, or [`Typed::End`] (at once, every time, once the input ended).
    pub async fn next(&mut self) -> Typed {
        if self.ended {
            return Typed::End;
        }
        match self.rx.recv().await {
            Some(Typed::Line(line)) => Typed::Line(line),
            Some(Typed::End) | None => {
                self.ended = true;
                Typed::End
            }
        }
    }

    /// True once the input ended.
    pub fn ended(&self) -> bool {
        self.ended
    }
}
