//! A client's configuration (`rhp_client::config`): names validated locally, the password redacted.

use rhp_client::config::*;
use rhp_client::ClientError;
use std::net::SocketAddr;

fn server() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 57775))
}

#[test]
fn validates_names_locally() {
    assert!(Config::host(server(), "Room1", "Alice", 4).validate().is_ok());
    assert!(Config::join(server(), "Room1", "Bob").with_password(Some("pw")).validate().is_ok());
    let shown = format!("{:?}", Config::join(server(), "Room1", "Bob").with_password(Some("TopSecret9")));
    assert!(!shown.contains("TopSecret9") && shown.contains("<redacted>"), "{shown}");
    for bad in [
        Config::host(server(), "", "Alice", 4),
        Config::host(server(), "Room 1", "Alice", 4),
        Config::host(server(), "Room1", "Alicealicealice", 4),
        Config::host(server(), "Room1", "Alice", 1),
        Config::host(server(), "Room1", "Alice", 13),
        Config::join(server(), "Room1", "Bob").with_password(Some("p-w")),
    ] {
        let err = bad.validate().unwrap_err();
        assert!(matches!(err, ClientError::InvalidConfig(_)), "{err}");
    }
}

#[test]
fn other_nodes_must_be_of_the_servers_family_and_few() {
    let server: std::net::SocketAddr = "203.0.113.5:4000".parse().unwrap();
    let ok = rhp_client::Config::join(server, "S", "Bob")
        .with_fallbacks(vec!["203.0.113.6:4000".parse().unwrap()]);
    assert!(ok.validate().is_ok());
    let v6 = rhp_client::Config::join(server, "S", "Bob")
        .with_fallbacks(vec!["[2001:db8::6]:4000".parse().unwrap()]);
    assert!(v6.validate().is_err());
    let itself = rhp_client::Config::join(server, "S", "Bob").with_fallbacks(vec![server]);
    assert!(itself.validate().is_err());
    let many: Vec<std::net::SocketAddr> =
        (1..=9).map(|i| format!("203.0.113.{}:4000", 10 + i).parse().unwrap()).collect();
    assert!(rhp_client::Config::join(server, "S", "Bob").with_fallbacks(many).validate().is_err());
}
