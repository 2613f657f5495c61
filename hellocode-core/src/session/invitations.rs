//! Invitations and invite links: the commands' checks, and the storage operations they become.
//! Who may invite, answer, cancel or manage links is decided by storage, in the writing
//! transaction; an invite link's token is drawn by the driver (see
//! [`Decision::IssueInviteLink`](super::Decision::IssueInviteLink)) and only its hash goes to
//! storage.

use super::accounts::{Refusal, invalid};
use super::{InviteLinkRequest, Pending, Secret, Session, StorageOp};
use crate::model::{ChatId, NewInviteLink, Timestamp, invite_token_hash};
use crate::protocol::{Command, ErrorCode, RequestId};

/// How long an invite link lasts when `expiresIn` is left out, in seconds: 7 days.
pub const DEFAULT_LINK_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// The longest `expiresIn` of an invite link, in seconds: 30 days.
pub const MAX_LINK_LIFETIME_SECS: u64 = 30 * 24 * 3600;

impl Session {
    /// The storage operation of an invitation or invite-link command of `actor` (every one but
    /// `create_invite_link`, which needs a token first: [`Session::link_request`]).
    pub(super) fn invitation_op(
        &self,
        actor: String,
        command: Command,
        now: Timestamp,
    ) -> Result<StorageOp, Refusal> {
        let max = self.limits.max_participants;
        Ok(match command {
            Command::Invite { chat_id, username } => {
                if username.is_empty() {
                    return Err(invalid("username must not be empty".to_owned()));
                }
                StorageOp::Invite {
                    chat: self.chat(chat_id)?,
                    by: actor,
                    invitee: username,
                    at: now,
                }
            }
            Command::ListInvitations { after, limit } => StorageOp::ListInvitations {
                username: actor,
                after,
                limit: super::list_page(limit)?,
            },
            Command::AcceptInvitation { invitation_id } => {
                StorageOp::AcceptInvitation { invitation: invitation_id, by: actor, max, at: now }
            }
            Command::DeclineInvitation { invitation_id } => {
                StorageOp::DeclineInvitation { invitation: invitation_id, by: actor, at: now }
            }
            Command::CancelInvitation { invitation_id } => {
                StorageOp::CancelInvitation { invitation: invitation_id, by: actor, at: now }
            }
            Command::ListInviteLinks { chat_id, after, limit } => StorageOp::ListInviteLinks {
                chat: self.chat(chat_id)?,
                by: actor,
                after,
                limit: super::list_page(limit)?,
            },
            Command::RevokeInviteLink { chat_id, link_id } => {
                StorageOp::RevokeInviteLink { chat: self.chat(chat_id)?, by: actor, link: link_id }
            }
            Command::JoinByLink { token } => {
                if token.trim().is_empty() {
                    return Err(invalid("token must not be empty".to_owned()));
                }
                // The secret goes no further than this: storage (and every log of the
                // operation) sees its hash.
                StorageOp::JoinByLink {
                    token_hash: invite_token_hash(token.trim()),
                    by: actor,
                    max,
                    at: now,
                }
            }
            other => {
                // `Session::authorize` routes only the commands above here.
                return Err((
                    ErrorCode::Internal,
                    format!("internal error: {} is not an invitation command", other.name()),
                ));
            }
        })
    }

    /// The checked request of a `create_invite_link` command of `actor`.
    pub(super) fn link_request(
        &self,
        id: Option<RequestId>,
        actor: String,
        (chat_id, expires_in, max_uses): (Option<ChatId>, Option<u64>, Option<u32>),
        now: Timestamp,
    ) -> Result<InviteLinkRequest, Refusal> {
        let lifetime = expires_in.unwrap_or(DEFAULT_LINK_LIFETIME_SECS);
        if !(1..=MAX_LINK_LIFETIME_SECS).contains(&lifetime) {
            return Err(invalid(format!(
                "expiresIn must be 1 to {MAX_LINK_LIFETIME_SECS} seconds (30 days)"
            )));
        }
        if max_uses == Some(0) {
            return Err(invalid("maxUses must be at least 1".to_owned()));
        }
        // At most 30 days of milliseconds: no overflow.
        let expires_at = Timestamp::from_unix_millis(now.unix_millis() + lifetime as i64 * 1000);
        Ok(InviteLinkRequest {
            id,
            chat: self.chat(chat_id)?,
            by: actor,
            expires_at,
            max_uses,
            at: now,
        })
    }

    /// The driver drew `token` for an [`InviteLinkRequest`]: a fresh secret from a
    /// cryptographically secure source, long enough not to be guessed (the server uses 32
    /// random bytes). Returns the storage operation that records the link under the token's
    /// hash; run it and pass its result to [`Session::complete`], whose reply carries the
    /// token — the only time anyone sees it.
    pub fn invite_link_token(&self, request: InviteLinkRequest, token: String) -> Pending {
        let InviteLinkRequest { id, chat, by, expires_at, max_uses, at } = request;
        let link =
            NewInviteLink { token_hash: invite_token_hash(&token), expires_at, max_uses, at };
        Pending {
            id,
            op: StorageOp::CreateInviteLink { chat, by, link },
            secret: Some(Secret(token)),
        }
    }
}
