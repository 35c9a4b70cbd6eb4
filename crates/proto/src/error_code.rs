//! The server's fourteen error codes, each sent as `error:<code>`.

/// An error the server sends as `error:<code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Badly formatted request.
    InvalidRequest,
    /// A session with that name exists already.
    SessionExists,
    /// The session does not exist (or is no longer open to this request).
    SessionNonExistent,
    /// The password does not match the session's.
    PasswordMismatch,
    /// The host tried to start a session with one player only.
    OnlyOnePlayerInSession,
    /// The session is full.
    SessionFull,
    /// Another player in the session uses that name.
    PlayerNameInUse,
    /// No such player in the session (or not from this address).
    NonExistentPlayer,
    /// Only the host may do that.
    NonHostPlayer,
    /// The host kicked you.
    KickedByHost,
    /// You left the session.
    PlayerExitedSession,
    /// A confirmation for a session that has not started.
    SessionNotStarted,
    /// The session lived too long.
    SessionTimeout,
    /// No ping for too long.
    PlayerTimeout,
}

impl ErrorCode {
    /// Every code, in the order of the seed README.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::InvalidRequest,
        ErrorCode::SessionExists,
        ErrorCode::SessionNonExistent,
        ErrorCode::PasswordMismatch,
        ErrorCode::OnlyOnePlayerInSession,
        ErrorCode::SessionFull,
        ErrorCode::PlayerNameInUse,
        ErrorCode::NonExistentPlayer,
        ErrorCode::NonHostPlayer,
        ErrorCode::KickedByHost,
        ErrorCode::PlayerExitedSession,
        ErrorCode::SessionNotStarted,
        ErrorCode::SessionTimeout,
        ErrorCode::PlayerTimeout,
    ];

    /// The code as written on the wire, after `error:`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::SessionExists => "session_exists",
            ErrorCode::SessionNonExistent => "session_non_existent",
            ErrorCode::PasswordMismatch => "password_mismatch",
            ErrorCode::OnlyOnePlayerInSession => "only_one_player_in_session",
            ErrorCode::SessionFull => "session_full",
            ErrorCode::PlayerNameInUse => "player_name_in_use",
            ErrorCode::NonExistentPlayer => "non_existent_player",
            ErrorCode::NonHostPlayer => "non_host_player",
            ErrorCode::KickedByHost => "kicked_by_host",
            ErrorCode::PlayerExitedSession => "player_exited_session",
            ErrorCode::SessionNotStarted => "session_not_started",
            ErrorCode::SessionTimeout => "session_timeout",
            ErrorCode::PlayerTimeout => "player_timeout",
        }
    }

    /// The whole datagram: `error:<code>`.
    pub const fn wire(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "error:invalid_request",
            ErrorCode::SessionExists => "error:session_exists",
            ErrorCode::SessionNonExistent => "error:session_non_existent",
            ErrorCode::PasswordMismatch => "error:password_mismatch",
            ErrorCode::OnlyOnePlayerInSession => "error:only_one_player_in_session",
            ErrorCode::SessionFull => "error:session_full",
            ErrorCode::PlayerNameInUse => "error:player_name_in_use",
            ErrorCode::NonExistentPlayer => "error:non_existent_player",
            ErrorCode::NonHostPlayer => "error:non_host_player",
            ErrorCode::KickedByHost => "error:kicked_by_host",
            ErrorCode::PlayerExitedSession => "error:player_exited_session",
            ErrorCode::SessionNotStarted => "error:session_not_started",
            ErrorCode::SessionTimeout => "error:session_timeout",
            ErrorCode::PlayerTimeout => "error:player_timeout",
        }
    }

    /// The code for its wire text (without `error:`), if it is one of the fourteen.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// What the code means, for a person.
    pub const fn describe(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => {
                "the server could not read the request (bad characters or names too long)"
            }
            ErrorCode::SessionExists => "a session with that name exists already",
            ErrorCode::SessionNonExistent => "no such session (it never existed, ended, or has started)",
            ErrorCode::PasswordMismatch => "wrong session password",
            ErrorCode::OnlyOnePlayerInSession => "cannot start a session with only one player",
            ErrorCode::SessionFull => "the session is full",
            ErrorCode::PlayerNameInUse => "another player in the session already uses that name",
            ErrorCode::NonExistentPlayer => "no such player in the session (or not from this address)",
            ErrorCode::NonHostPlayer => "only the host may do that",
            ErrorCode::KickedByHost => "the host kicked this player out of the session",
            ErrorCode::PlayerExitedSession => "this player left the session",
            ErrorCode::SessionNotStarted => "the session has not started",
            ErrorCode::SessionTimeout => "the session reached its maximum lifetime",
            ErrorCode::PlayerTimeout => "the server heard no ping from this player for too long",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_the_seed_readme() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.as_str()), Some(c));
            assert_eq!(c.wire(), format!("error:{}", c.as_str()));
        }
        assert_eq!(ErrorCode::OnlyOnePlayerInSession.wire(), "error:only_one_player_in_session");
        assert_eq!(ErrorCode::from_code("nope"), None);
    }
}
