//! Authentication on a new connection: the token if there is one, else the password; an expired
//! token falls back to the password, and `register_or_login` registers when the login is
//! refused. Every authentication command declares protocol version 2
//! ([`PROTOCOL_VERSION`]): a chat's events are sequenced items, resumed with its posts.

use hellocode_core::protocol::{Command, ErrorCode, PROTOCOL_VERSION, ServerFrame};
use tokio::time::Instant;

use super::{Phase, Session};
use crate::Error;
use crate::config::Credentials;
use crate::driver::{unexpected, wire::encode};

/// Which authentication command is on the wire.
#[derive(Debug)]
pub(super) enum Step {
    /// The first: `auth` with the saved token (`with_token`), else `login` or `register`.
    First { with_token: bool },
    /// `login` after the saved token was refused.
    Relogin,
    /// `register` after the login was refused (`register_or_login`); if the name is taken, the
    /// login's refusal stands.
    Register { login_refused: Error },
}

impl Session {
    /// Put the first authentication command on the wire.
    pub(super) fn start_handshake(&mut self, attempt: u32) {
        let token = self.shared.token.lock().ok().and_then(|slot| slot.clone());
        let with_token = token.is_some();
        let command = match (&token, &self.credentials) {
            (Some(token), _) | (None, Credentials::Token(token)) => {
                Command::Auth { token: token.clone(), protocol: Some(PROTOCOL_VERSION) }
            }
            (
                None,
                Credentials::Password { username, password }
                | Credentials::RegisterOrLogin { username, password, .. },
            ) => Command::Login {
                username: username.clone(),
                password: password.clone(),
                protocol: Some(PROTOCOL_VERSION),
            },
            (None, Credentials::Register { username, email, password }) => {
                register(username, email, password)
            }
        };
        self.send_handshake(attempt, Step::First { with_token }, command);
    }

    fn send_handshake(&mut self, attempt: u32, step: Step, command: Command) {
        let id = self.take_id();
        self.urgent.push(encode(id, command.into()));
        self.phase = Phase::Handshake { attempt, id, step };
    }

    /// The reply to the authentication command on the wire.
    pub(super) fn on_handshake_reply(&mut self, frame: ServerFrame, now: Instant) {
        let Phase::Handshake { attempt, step, .. } =
            std::mem::replace(&mut self.phase, Phase::Connecting { attempt: 0 })
        else {
            return;
        };
        self.phase = Phase::Connecting { attempt };
        let refusal = match frame {
            ServerFrame::Authenticated { username, token, .. } => {
                self.authenticated(username, token, now);
                return;
            }
            ServerFrame::Error { code, message, .. } => Error::server(code, message),
            other => {
                self.lose(unexpected("authenticated", &other), now, true);
                return;
            }
        };
        match (step, refusal.server_code(), &self.credentials) {
            (
                Step::First { with_token: true },
                Some(ErrorCode::InvalidToken),
                Credentials::Password { username, password }
                | Credentials::Register { username, password, .. }
                | Credentials::RegisterOrLogin { username, password, .. },
            ) => {
                // The token expired: log in again.
                let login = Command::Login {
                    username: username.clone(),
                    password: password.clone(),
                    protocol: Some(PROTOCOL_VERSION),
                };
                self.send_handshake(attempt, Step::Relogin, login);
            }
            (
                Step::First { with_token: false },
                Some(ErrorCode::InvalidCredentials),
                Credentials::RegisterOrLogin { username, email, password },
            ) => {
                // No such account, or another password: registering tells which.
                let command = register(username, email, password);
                self.send_handshake(attempt, Step::Register { login_refused: refusal }, command);
            }
            (Step::Register { login_refused }, Some(ErrorCode::UsernameTaken), _) => {
                // The account exists, so the login's refusal stands.
                self.lose(login_refused, now, true);
            }
            _ => self.lose(refusal, now, true),
        }
    }

    fn authenticated(&mut self, username: String, token: Option<String>, now: Instant) {
        if let Some(token) = token
            && let Ok(mut slot) = self.shared.token.lock()
        {
            *slot = Some(token);
        }
        if let Credentials::Register { username, password, .. }
        | Credentials::RegisterOrLogin { username, password, .. } = &self.credentials
        {
            // Registered (or found) once; from now on this account logs in.
            self.credentials = Credentials::password(username.clone(), password.clone());
        }
        self.username = username;
        if self.first {
            // Knowing the chats before `connect` returns fixes where each starts: at its newest
            // message now (or the configured position); any chat that appears later, even
            // during a disconnect, is new and delivered from its start.
            self.phase = Phase::FirstSync;
            self.sync.needed = true;
        } else {
            self.become_ready(now);
        }
    }
}

fn register(username: &str, email: &str, password: &str) -> Command {
    Command::Register {
        username: username.to_owned(),
        email: email.to_owned(),
        password: password.to_owned(),
        password_confirmation: password.to_owned(),
        protocol: Some(PROTOCOL_VERSION),
    }
}
