//! Which open connection authenticated with which credential, so that revoking a credential
//! closes what it opened (close code [`CLOSE_UNAUTHORIZED`]).
//!
//! A revocation travels as a [`BrokerEvent::Revoke`](crate::broker::BrokerEvent::Revoke), so
//! every node closes its own connections; each node's [`Hub`](crate::hub::Hub) hands it to its
//! [`Grants`]. A connection registers here once authenticated and watches its
//! [`CloseSignal`]: the writer closes the socket with the reason, and the reader stops running
//! commands, so nothing sent after the revocation is acknowledged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hellocode_core::session::{Credential, Identity};
use tokio::sync::watch;

/// Close code: the credentials this connection authenticated with are no longer valid. The
/// client must not reconnect with the same token.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;

/// Close reason when a bot token is revoked.
pub const REASON_REVOKED: &str = "unauthorized: token revoked";
/// Close reason when the account is deleted.
pub const REASON_DELETED: &str = "unauthorized: account deleted";
/// Close reason when the account's password changed (login-token connections only).
pub const REASON_PASSWORD: &str = "unauthorized: password changed";
/// Close reason when the login token expires.
pub const REASON_EXPIRED: &str = "unauthorized: token expired";

/// A credential that stopped being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Revocation {
    /// The account was deleted: every connection of it closes.
    AccountDeleted {
        /// The account.
        account: i64,
    },
    /// The password changed: connections authenticated by a login token of an older token
    /// generation close (bot tokens stay valid: they are revoked one by one).
    PasswordChanged {
        /// The account.
        account: i64,
        /// The account's token generation now.
        generation: i64,
    },
    /// One bot token was revoked.
    BotTokenRevoked {
        /// The account that owns it.
        account: i64,
        /// The bot token's id.
        token_id: i64,
    },
}

impl Revocation {
    fn account(&self) -> i64 {
        match *self {
            Revocation::AccountDeleted { account }
            | Revocation::PasswordChanged { account, .. }
            | Revocation::BotTokenRevoked { account, .. } => account,
        }
    }

    /// Whether a connection authenticated with `credential` (of this account) must close.
    fn closes(&self, credential: Credential) -> bool {
        match (*self, credential) {
            (Revocation::AccountDeleted { .. }, _) => true,
            (
                Revocation::PasswordChanged { generation, .. },
                Credential::Login { generation: had, .. },
            ) => had < generation,
            (Revocation::BotTokenRevoked { token_id, .. }, Credential::Bot { token_id: had }) => {
                had == token_id
            }
            _ => false,
        }
    }

    /// The close reason a client sees.
    pub fn reason(&self) -> &'static str {
        match self {
            Revocation::AccountDeleted { .. } => REASON_DELETED,
            Revocation::PasswordChanged { .. } => REASON_PASSWORD,
            Revocation::BotTokenRevoked { .. } => REASON_REVOKED,
        }
    }
}

/// Tells one connection to close for a reason (`None` until then). The connection's reader and
/// writer each hold a receiver.
pub type CloseSignal = Arc<watch::Sender<Option<&'static str>>>;

/// A new close signal and its first receiver.
pub fn close_signal() -> (CloseSignal, watch::Receiver<Option<&'static str>>) {
    let (sender, receiver) = watch::channel(None);
    (Arc::new(sender), receiver)
}

#[derive(Debug)]
struct Grant {
    id: u64,
    credential: Credential,
    close: CloseSignal,
}

/// This node's open connections by account, with the credential each authenticated with.
///
/// It also counts the revocations this node has heard of ([`heard`](Self::heard)), so that a
/// connection can tell whether one may have slipped between its credential check and its
/// registration here: a revocation is committed to storage before it is published, so one
/// heard before the check is seen by the check, and one heard after the registration finds
/// the connection registered. Only when the count moved in between must the connection check
/// its credential again.
#[derive(Debug, Default)]
pub struct Grants {
    by_account: Mutex<HashMap<i64, Vec<Grant>>>,
    next_id: AtomicU64,
    /// Revocations heard, plus the times some may have been missed. Changed with the lock
    /// held, so that a registration either sees the change or is seen by the revocation.
    heard: AtomicU64,
}

impl Grants {
    /// Watch `identity`'s credential for the connection that `close` signals; returns the
    /// registration's id for [`unregister`](Self::unregister), or `None` for an identity with
    /// no account (nothing can revoke it).
    pub fn register(&self, identity: &Identity, close: CloseSignal) -> Option<(i64, u64)> {
        let account = identity.account_id?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let grant = Grant { id, credential: identity.credential, close };
        self.lock().entry(account).or_default().push(grant);
        Some((account, id))
    }

    /// Forget a registration (the connection closed).
    pub fn unregister(&self, (account, id): (i64, u64)) {
        let mut grants = self.lock();
        if let Some(list) = grants.get_mut(&account) {
            list.retain(|grant| grant.id != id);
            if list.is_empty() {
                grants.remove(&account);
            }
        }
    }

    /// How many revocations this node has heard of (and times it may have missed some): read
    /// it before checking a credential, and again after [`register`](Self::register); if it
    /// moved, check the credential again.
    pub fn heard(&self) -> u64 {
        self.heard.load(Ordering::SeqCst)
    }

    /// Revocations may have been missed (the broker lost events): connections checked before
    /// now and registered after check their credential again.
    pub fn may_have_missed(&self) {
        let _grants = self.lock();
        self.heard.fetch_add(1, Ordering::SeqCst);
    }

    /// Signal every connection that `revocation` invalidates to close; returns how many.
    pub fn revoke(&self, revocation: &Revocation) -> usize {
        let grants = self.lock();
        self.heard.fetch_add(1, Ordering::SeqCst);
        let Some(list) = grants.get(&revocation.account()) else { return 0 };
        let mut closed = 0;
        for grant in list.iter().filter(|grant| revocation.closes(grant.credential)) {
            grant.close.send_replace(Some(revocation.reason()));
            closed += 1;
        }
        closed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Vec<Grant>>> {
        self.by_account.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use hellocode_core::model::Timestamp;

    use super::*;

    fn login(generation: i64) -> Identity {
        let expires_at = Timestamp::from_unix_millis(i64::MAX);
        Identity::of_account("alice", 1, Credential::Login { generation, expires_at })
    }

    #[test]
    fn each_revocation_closes_only_what_it_invalidates() {
        let grants = Grants::default();
        let (old_login, old_rx) = close_signal();
        let (new_login, new_rx) = close_signal();
        let (bot, bot_rx) = close_signal();
        grants.register(&login(0), old_login).expect("registered");
        grants.register(&login(1), new_login).expect("registered");
        let bot_identity = Identity::of_account("alice", 1, Credential::Bot { token_id: 9 });
        let bot_grant = grants.register(&bot_identity, bot).expect("registered");

        assert_eq!(grants.revoke(&Revocation::PasswordChanged { account: 1, generation: 1 }), 1);
        assert_eq!(*old_rx.borrow(), Some(REASON_PASSWORD));
        assert_eq!((*new_rx.borrow(), *bot_rx.borrow()), (None, None));
        assert_eq!(grants.revoke(&Revocation::BotTokenRevoked { account: 1, token_id: 8 }), 0);
        assert_eq!(grants.revoke(&Revocation::BotTokenRevoked { account: 2, token_id: 9 }), 0);
        assert_eq!(grants.revoke(&Revocation::BotTokenRevoked { account: 1, token_id: 9 }), 1);
        assert_eq!(*bot_rx.borrow(), Some(REASON_REVOKED));
        grants.unregister(bot_grant);
        assert_eq!(grants.revoke(&Revocation::AccountDeleted { account: 1 }), 2);
        assert_eq!(*new_rx.borrow(), Some(REASON_DELETED));
        assert!(grants.register(&Identity::new("nobody"), close_signal().0).is_none());
    }

    /// Every revocation heard, even one that closes nothing here, and every possible miss
    /// moves the count that tells a connection to check its credential again.
    #[test]
    fn revocations_heard_are_counted() {
        let grants = Grants::default();
        let before = grants.heard();
        grants.register(&login(0), close_signal().0).expect("registered");
        assert_eq!(grants.heard(), before, "a registration is no revocation");
        assert_eq!(grants.revoke(&Revocation::AccountDeleted { account: 7 }), 0);
        let after_revocation = grants.heard();
        assert_ne!(after_revocation, before);
        grants.may_have_missed();
        assert_ne!(grants.heard(), after_revocation);
    }
}
