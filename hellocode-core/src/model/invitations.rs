//! Invitations to groups and invite links: the two ways into a group other than being added.
//!
//! An owner or admin invites a user (an [`Invitation`], pending until the invitee accepts or
//! declines it, or it is cancelled), or creates an [`InviteLink`]: a secret token that joins
//! anyone who presents it until it expires, is revoked or is used up. The token is shown once;
//! storage keeps only its [`invite_token_hash`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ChatId, ChatKind, Timestamp};

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    /// Waiting for the invitee's answer.
    Pending,
    /// The invitee joined (by accepting it, or by any other way in: an invitation is settled
    /// once its invitee is a member).
    Accepted,
    /// The invitee declined it.
    Declined,
    /// Its inviter, an owner or an admin withdrew it.
    Cancelled,
}

impl InvitationState {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Declined => "declined",
            InvitationState::Cancelled => "cancelled",
        }
    }

    /// The state named `name` (as stored).
    pub fn parse(name: &str) -> Option<Self> {
        [
            InvitationState::Pending,
            InvitationState::Accepted,
            InvitationState::Declined,
            InvitationState::Cancelled,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }
}

/// An invitation of a user to a group, made by one of its owners or admins. The invitee is not
/// a member, and reads nothing of the chat, until they accept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Its id (`invitationId` in the commands that answer or cancel it).
    pub id: i64,
    /// The chat the invitee is invited to.
    #[serde(rename = "chatId")]
    pub chat_id: ChatId,
    /// The chat's kind (a group: direct chats take no invitations).
    pub kind: ChatKind,
    /// The chat's name as it now is, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who invited.
    pub inviter: String,
    /// Who is invited.
    pub invitee: String,
    /// Pending, or how it was settled.
    pub state: InvitationState,
    /// When it was made.
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
}

/// The result of an invitation: the invitation, and whether it is new (`false`: the invitee
/// had a pending invitation to the chat already, returned as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    /// The pending invitation.
    pub invitation: Invitation,
    /// Whether this call made it.
    pub created: bool,
}

/// An invite link of a group as its owners and admins see it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLink {
    /// Its id (`linkId` in `revoke_invite_link`).
    pub id: i64,
    /// The chat it joins.
    #[serde(rename = "chatId")]
    pub chat_id: ChatId,
    /// The owner or admin who created it.
    #[serde(rename = "createdBy")]
    pub created_by: String,
    /// When.
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
    /// The first moment it no longer joins anyone.
    #[serde(rename = "expiresAt")]
    pub expires_at: Timestamp,
    /// How many joins it allows in all (`None`: no limit).
    #[serde(rename = "maxUses", default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// How many users joined with it.
    pub uses: u32,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// What is needed to create an invite link.
#[derive(Clone, PartialEq, Eq)]
pub struct NewInviteLink {
    /// [`invite_token_hash`] of its token: the token itself is never stored.
    pub token_hash: String,
    /// The first moment it no longer joins anyone.
    pub expires_at: Timestamp,
    /// How many joins it allows in all (`None`: no limit).
    pub max_uses: Option<u32>,
    /// When it is created.
    pub at: Timestamp,
}

impl std::fmt::Debug for NewInviteLink {
    /// Without the hash: it is not the secret, but it finds the link, so it stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewInviteLink")
            .field("expires_at", &self.expires_at)
            .field("max_uses", &self.max_uses)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// The key under which an invite link is stored and found: the lowercase hex SHA-256 of its
/// token. The server hashes the token it issues; the session hashes the token a client
/// presents, so that no storage operation (nor its debug form) carries the secret.
///
/// ```
/// use hellocode_core::model::invite_token_hash;
/// assert_eq!(
///     invite_token_hash("abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn invite_token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}
