//! Invitations to groups and invite links: the two ways into a group besides being added.
//!
//! Every operation here is resent after a lost connection, except
//! [`create_invite_link`](Client::create_invite_link) (a second would be another link). The
//! protocol gives them no idempotency key because a repeat changes nothing: `invite` returns the
//! pending invitation as it is, the same answer to an invitation again is answered as the first
//! time, revoking again changes nothing, a member's repeated `join_by_link` is answered with the
//! chat, and a cancelled invitation stays cancelled (though a repeated cancellation is refused:
//! see [`cancel_invitation`](Client::cancel_invitation)).

use std::future::Future;
use std::time::Duration;

use hellocode_core::model::{Chat, ChatId, Invitation, InviteLink};
use hellocode_core::protocol::{Command, ServerFrame};

use super::Client;
use crate::Result;
use crate::driver::{unexpected, wire};

/// An invite link just created by [`Client::create_invite_link`]: the link, and its token,
/// which the server shows this once (it keeps only a hash). Whoever holds the token joins the
/// group with [`Client::join_by_link`] until the link expires, is used up or is revoked.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedInviteLink {
    /// The link as its chat's owners and admins see it ([`Client::invite_links`]); its `id`
    /// revokes it ([`Client::revoke_invite_link`]).
    pub link: InviteLink,
    /// The secret to hand to those who may join.
    pub token: String,
}

impl std::fmt::Debug for IssuedInviteLink {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedInviteLink").field("link", &self.link).finish_non_exhaustive()
    }
}

impl Client {
    /// Invite a user to a group (an owner or admin); returns the pending invitation. The
    /// invitee gets it as [`Event::Invitation`](crate::Event::Invitation) on every connection;
    /// the members are told nothing. A pending invitation of the same user to the same chat is
    /// returned as it is (never two), which makes a repeat harmless: resent after a lost
    /// connection.
    ///
    /// Errors: `forbidden` if this user is not in the chat or is a plain member, `not_found`
    /// for an unknown chat or username, `invalid_field` for a direct chat or a user who is
    /// already a member, `rate_limited` past the server's creation limit.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, group: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::InvitationState;
    ///
    /// let invitation = client.invite(group, "dave").await?;
    /// assert_eq!((invitation.invitee.as_str(), invitation.state), ("dave", InvitationState::Pending));
    /// # Ok(()) }
    /// ```
    pub fn invite(
        &self,
        chat: ChatId,
        username: impl Into<String>,
    ) -> impl Future<Output = Result<Invitation>> + Send + 'static {
        let command = Command::Invite { chat_id: Some(chat), username: username.into() };
        let reply = self.request(command, true);
        async move {
            match reply.await? {
                ServerFrame::Invitation { invitation, .. } => Ok(invitation),
                other => Err(unexpected("invitation", &other)),
            }
        }
    }

    /// This user's pending invitations, by id (every page of them), each with its chat's id,
    /// kind and name as they now are, the inviter and when. Invitations made while the client
    /// was away came as no event: this is where to find them.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// for invitation in client.invitations().await? {
    ///     println!("{} invites you to {:?}", invitation.inviter, invitation.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn invitations(&self) -> impl Future<Output = Result<Vec<Invitation>>> + Send + 'static {
        let this = self.clone();
        async move {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = match this.request(wire::list_invitations(after), true).await? {
                    ServerFrame::Invitations { invitations, .. } => invitations,
                    other => return Err(unexpected("invitations", &other)),
                };
                after = wire::absorb(&mut all, page, |invitation| invitation.id);
                if after.is_none() {
                    return Ok(all);
                }
            }
        }
    }

    /// Accept an invitation to this user: join its group as a member. Returns the chat as it
    /// now is; this client gets [`Event::ChatCreated`](crate::Event::ChatCreated) and then the
    /// chat's items (its history is readable from its start), and every member, this user
    /// included, gets a `join` [`ChatEvent`](crate::Event::ChatEvent) that this user authored,
    /// then `Event::ChatChanged`.
    ///
    /// Resent after a lost connection: accepting again is answered with the chat while this
    /// user is still in it.
    ///
    /// Errors: `not_found` for an invitation that is not this user's, was declined or
    /// cancelled, or whose chat was deleted (the same answer for each); `invalid_field` for a
    /// chat that is full.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, invitation: hellocode_sdk::Invitation)
    /// # -> hellocode_sdk::Result<()> {
    /// let chat = client.accept_invitation(invitation.id).await?;
    /// assert!(chat.has_participant(client.username()));
    /// let history = client.fetch_messages(chat.id, None, None).await?;
    /// # Ok(()) }
    /// ```
    pub fn accept_invitation(
        &self,
        invitation_id: i64,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        self.expect_chat(Command::AcceptInvitation { invitation_id }, true)
    }

    /// Decline an invitation to this user. Nobody is told.
    ///
    /// Resent after a lost connection: declining again is answered as the first time.
    ///
    /// Errors: `not_found` for an invitation that is not this user's, was accepted or
    /// cancelled, or whose chat was deleted.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, invitation: hellocode_sdk::Invitation)
    /// # -> hellocode_sdk::Result<()> {
    /// client.decline_invitation(invitation.id).await?;
    /// # Ok(()) }
    /// ```
    pub fn decline_invitation(
        &self,
        invitation_id: i64,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        self.expect_ok(Command::DeclineInvitation { invitation_id }, true)
    }

    /// Withdraw a pending invitation: its inviter (even one no longer in the chat), or an owner
    /// or admin of its chat. The invitee gets it again as
    /// [`Event::Invitation`](crate::Event::Invitation), now `cancelled`.
    ///
    /// Resent after a lost connection: the invitation is withdrawn once whatever happens. But
    /// the server refuses a repeat that finds it withdrawn already with `not_found`, so after a
    /// lost connection `not_found` may also mean that the first attempt did it: either way the
    /// invitation is no longer pending.
    ///
    /// Errors: `forbidden` for a plain member of the chat, `not_found` for anyone else, or an
    /// invitation no longer pending (accepted, declined, cancelled, or of a deleted chat).
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, group: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// let invitation = client.invite(group, "dave").await?;
    /// client.cancel_invitation(invitation.id).await?;
    /// # Ok(()) }
    /// ```
    pub fn cancel_invitation(
        &self,
        invitation_id: i64,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        self.expect_ok(Command::CancelInvitation { invitation_id }, true)
    }

    /// Create an invite link to a group (an owner or admin): it joins whoever presents its
    /// token, for `expires_in` (whole seconds, rounded up; default 7 days, at most 30) and at
    /// most `max_uses` times in all (default: no limit). The token is in the result only.
    ///
    /// Not resent after a lost connection (a second would be another link): it fails with
    /// `connection_lost` when the reply was lost; list the links and revoke an unknown one if
    /// that matters.
    ///
    /// Errors: `forbidden` if this user is not in the chat or is a plain member, `not_found`
    /// for an unknown chat, `invalid_field` for a direct chat, a lifetime of zero or over 30
    /// days, or `max_uses` of 0, `rate_limited` past the server's creation limit.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, group: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// use std::time::Duration;
    ///
    /// let issued = client.create_invite_link(group, Some(Duration::from_secs(86_400)), Some(10)).await?;
    /// println!("join with {} (link #{})", issued.token, issued.link.id);
    /// assert_eq!((issued.link.max_uses, issued.link.uses), (Some(10), 0));
    /// # Ok(()) }
    /// ```
    pub fn create_invite_link(
        &self,
        chat: ChatId,
        expires_in: Option<Duration>,
        max_uses: Option<u32>,
    ) -> impl Future<Output = Result<IssuedInviteLink>> + Send + 'static {
        // Whole seconds on the wire: a part of a second counts as one, so that a lifetime
        // given is never zero.
        let expires_in = expires_in.map(|lifetime| {
            lifetime.as_secs().saturating_add(u64::from(lifetime.subsec_nanos() > 0))
        });
        let command = Command::CreateInviteLink { chat_id: Some(chat), expires_in, max_uses };
        let reply = self.request(command, false);
        async move {
            match reply.await? {
                ServerFrame::InviteLink { link, token, .. } => Ok(IssuedInviteLink { link, token }),
                other => Err(unexpected("invite_link", &other)),
            }
        }
    }

    /// A group's invite links, by id (every page of them): revoked, expired and used-up ones
    /// included (`uses` counts the joins so far), never their tokens. For its owners and
    /// admins.
    ///
    /// Errors: `forbidden` if this user is not in the chat or is a plain member, `not_found`
    /// for an unknown chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, group: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// for link in client.invite_links(group).await? {
    ///     println!("#{} by {}: {} uses, revoked: {}", link.id, link.created_by, link.uses, link.revoked);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn invite_links(
        &self,
        chat: ChatId,
    ) -> impl Future<Output = Result<Vec<InviteLink>>> + Send + 'static {
        let this = self.clone();
        async move {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = match this.request(wire::list_invite_links(chat, after), true).await? {
                    ServerFrame::InviteLinks { links, .. } => links,
                    other => return Err(unexpected("invite_links", &other)),
                };
                after = wire::absorb(&mut all, page, |link| link.id);
                if after.is_none() {
                    return Ok(all);
                }
            }
        }
    }

    /// Revoke an invite link of a group (an owner or admin): it joins no one from then on.
    ///
    /// Resent after a lost connection: revoking again changes nothing.
    ///
    /// Errors: `forbidden` if this user is not in the chat or is a plain member, `not_found`
    /// for an unknown chat or a link that is not the chat's.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, group: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// for link in client.invite_links(group).await? {
    ///     if !link.revoked {
    ///         client.revoke_invite_link(group, link.id).await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn revoke_invite_link(
        &self,
        chat: ChatId,
        link_id: i64,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        self.expect_ok(Command::RevokeInviteLink { chat_id: Some(chat), link_id }, true)
    }

    /// Join the group of an invite link, as a member; returns the chat as it now is. As for
    /// [`accept_invitation`](Client::accept_invitation), this client gets
    /// [`Event::ChatCreated`](crate::Event::ChatCreated) and the chat's items, and every member
    /// a `join` event. Each join counts one use of the link.
    ///
    /// Resent after a lost connection: a member already in the chat is answered with the chat,
    /// and no use is counted, while the link is neither revoked nor expired.
    ///
    /// Errors: `not_found` for an unknown, revoked, expired or used-up token alike (the error
    /// says nothing of the chat); `invalid_field` for an empty token or a chat that is full.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, token: String) -> hellocode_sdk::Result<()> {
    /// let chat = client.join_by_link(token).await?;
    /// println!("joined {:?} ({} members)", chat.name, chat.participants.len());
    /// # Ok(()) }
    /// ```
    pub fn join_by_link(
        &self,
        token: impl Into<String>,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        self.expect_chat(Command::JoinByLink { token: token.into() }, true)
    }
}
