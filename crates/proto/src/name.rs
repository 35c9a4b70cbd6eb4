//! The grammar of the protocol's fields: session names, player names, passwords, max players, and
//! the NAT descriptors of the `e:`/`n:` extension.
//!
//! All names are ASCII alphanumeric (`[A-Za-z0-9]`) and descriptors `[a-z0-9+-]`, which is also what
//! keeps them safe to embed in `:`/`;`-separated messages and in log lines.

/// Longest session name.
pub const SESSION_MAX: usize = 10;
/// Longest player name.
pub const PLAYER_MAX: usize = 12;
/// Longest password.
pub const PASSWORD_MAX: usize = 12;
/// Longest NAT descriptor (`e:`/`n:` extension).
pub const NAT_DESC_MAX: usize = 14;
/// Fewest players a session may be created for.
pub const MIN_PLAYERS: u8 = 2;
/// Most players a session may be created for.
pub const MAX_PLAYERS: u8 = 12;

fn alnum(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `[A-Za-z0-9]{1,10}`
pub fn is_session_name(s: &str) -> bool {
    alnum(s, SESSION_MAX)
}

/// `[A-Za-z0-9]{1,12}`
pub fn is_player_name(s: &str) -> bool {
    alnum(s, PLAYER_MAX)
}

/// `[A-Za-z0-9]{1,12}`
pub fn is_password(s: &str) -> bool {
    alnum(s, PASSWORD_MAX)
}

/// `[a-z0-9+-]{1,14}`: a NAT descriptor, opaque to the server.
pub fn is_nat_desc(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= NAT_DESC_MAX
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+' || b == b'-')
}

/// Parses the max-players field: `2`..`12` written without leading zeros or sign.
pub fn parse_max_players(s: &str) -> Option<u8> {
    match s {
        "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "10" | "11" | "12" => s.parse().ok(),
        _ => None,
    }
}
