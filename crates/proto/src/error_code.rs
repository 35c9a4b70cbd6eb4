//! The server's error codes, each sent as `error:<code>`: the fourteen of the seed README
//! ([`ErrorCode::ALL`]) and the three this server adds for its caps ([`ErrorCode::LIMITS`]).

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
    /// Not in the original: this source address created sessions or players too fast; retry later.
    TooManyRequests,
    /// Not in the original: no more sessions for this source address, or on the whole server.
    TooManySessions,
    /// Not in the original: the session started, but this player shares no address family with
    /// the peers it would have to reach (e.g. it talks to the server over IPv6 and the others are
    /// Godot peers, which only take IPv4). Sent only to our clients (they sent `e:`, `r:` or
    /// `q:`); a Godot peer gets [`ErrorCode::SessionNonExistent`] in that case.
    NoCommonFamily,
    /// Not in the original: the server holds as many players as it may.
    ServerFull,
}

impl ErrorCode {
    /// The fourteen codes of the seed README, in its order (the codes the Godot plugin knows).
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

    /// Every code this server sends: the fourteen of [`ErrorCode::ALL`], then the three the caps
    /// added, then the extension's.
    pub const EVERY: [ErrorCode; 18] = {
        let mut every = [ErrorCode::InvalidRequest; 18];
        let mut i = 0;
        while i < ErrorCode::ALL.len() {
            every[i] = ErrorCode::ALL[i];
            i += 1;
        }
        every[14] = ErrorCode::TooManyRequests;
        every[15] = ErrorCode::TooManySessions;
        every[16] = ErrorCode::ServerFull;
        every[17] = ErrorCode::NoCommonFamily;
        every
    };

    /// The codes this server adds for its caps and rate limits (not in [`ErrorCode::ALL`]). A
    /// client that does not know them (the Godot plugin) fails with the text, which is the right
    /// outcome: the server refused.
    pub const LIMITS: [ErrorCode; 3] =
        [ErrorCode::TooManyRequests, ErrorCode::TooManySessions, ErrorCode::ServerFull];

    /// The codes only our clients (they sent `e:`, `r:` or `q:`) are ever sent.
    pub const EXTENSION: [ErrorCode; 1] = [ErrorCode::NoCommonFamily];

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
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::NoCommonFamily => "no_common_family",
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
            ErrorCode::TooManyRequests => "error:too_many_requests",
            ErrorCode::TooManySessions => "error:too_many_sessions",
            ErrorCode::ServerFull => "error:server_full",
            ErrorCode::NoCommonFamily => "error:no_common_family",
        }
    }

    /// The code for its wire text (without `error:`), if it is one of [`ErrorCode::ALL`] or
    /// [`ErrorCode::LIMITS`] or [`ErrorCode::EXTENSION`].
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::EVERY.into_iter().find(|c| c.as_str() == code)
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
            ErrorCode::TooManyRequests => {
                "too many sessions or joins from this address in a short time; retry later"
            }
            ErrorCode::TooManySessions => {
                "the server holds as many sessions as it may (for this address or in all)"
            }
            ErrorCode::ServerFull => "the server holds as many players as it may",
            ErrorCode::NoCommonFamily => {
                "the session started, but no peer in it is reachable in our address family (IPv4/IPv6)"
            }
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
