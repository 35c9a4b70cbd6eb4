//! Why a client gave up (`rhp_client::error`): every message is a sentence.

use rhp_client::error::*;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Duration;

#[test]
fn messages_are_sentences() {
    let e = ClientError::Server(ErrorCode::PasswordMismatch);
    assert_eq!(e.to_string(), "the server refused: wrong session password (error:password_mismatch)");
    assert_eq!(e.code(), "password_mismatch");
    let kicked = ClientError::Server(ErrorCode::KickedByHost).to_string();
    assert_eq!(kicked, "the server ended our place in the session: the host kicked this player out of the session (error:kicked_by_host)");
    let server: SocketAddr = "192.0.2.1:57775".parse().unwrap();
    let never = ClientError::ServerTimeout { server, waited: Duration::from_secs(15) }.to_string();
    assert!(never.contains("15 s") && never.contains("192.0.2.1:57775"), "{never}");
    let stopped = ClientError::ServerStopped { server, silent: Duration::from_secs(15) }.to_string();
    assert!(stopped.contains("stopped answering") && !stopped.contains("address right"), "{stopped}");
    assert!(ClientError::ServerUnreachable(server)
        .to_string()
        .contains("nothing is listening at 192.0.2.1:57775"));
    assert!(ClientError::HostNotConfirmed("Alice".into()).to_string().contains("Alice"));
}
