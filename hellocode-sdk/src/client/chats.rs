//! Chats and their members: groups, roles, names and topics, leaving and deleting, and finding
//! or creating the chat with a set of people.

use std::collections::BTreeSet;
use std::future::Future;

use hellocode_core::model::{Chat, ChatId, ChatKind, Role};
use hellocode_core::protocol::{Command, ServerFrame};

use super::Client;
use crate::driver::outbox::new_client_id;
use crate::driver::unexpected;
use crate::{Error, Result};

/// How often `chat_with` looks again after its creation's reply was lost.
const CHAT_WITH_ATTEMPTS: usize = 3;

impl Client {
    /// Create a group named `name` with these users; the caller is in it and owns it. Every
    /// member gets `Event::ChatCreated`. (`create_chat` with one other person makes a direct
    /// chat instead, whose two members never change.)
    ///
    /// Resent after a lost connection: its idempotency key makes the server answer a repeat
    /// with the group it made the first time.
    ///
    /// Errors: `invalid_field` unless the name is 1 to 64 characters once trimmed, or for more
    /// members than the participant limit; `not_found` for an unknown username (then nothing
    /// is created); `rate_limited` past the server's creation limit.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::{ChatKind, Role};
    ///
    /// let group = client.create_group("Crabs", vec!["bob".into(), "carol".into()]).await?;
    /// assert_eq!(group.kind, ChatKind::Group);
    /// assert_eq!(group.name.as_deref(), Some("Crabs"));
    /// assert_eq!(group.role_of(client.username()), Some(Role::Owner));
    /// # Ok(()) }
    /// ```
    pub fn create_group(
        &self,
        name: impl Into<String>,
        participants: Vec<String>,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        let command = Command::CreateChat {
            participants,
            name: Some(name.into()),
            topic: None,
            client_id: Some(new_client_id()),
        };
        // Resent after a lost connection: the key makes the server answer a repeat with the
        // group it made the first time.
        self.expect_chat(command, true)
    }

    /// One of this user's chats as it now is: its kind, name, topic, members and their roles.
    /// Safe to resend after a lost connection.
    ///
    /// Errors: `forbidden` if this user is not in the chat (or was removed from it),
    /// `not_found` for an unknown chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// let chat = client.get_chat(chat).await?;
    /// for member in &chat.participants {
    ///     println!("{} ({:?})", member.username, member.role);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_chat(&self, chat: ChatId) -> impl Future<Output = Result<Chat>> + Send + 'static {
        self.expect_chat(Command::GetChat { chat_id: Some(chat) }, true)
    }

    /// Add users to a group; returns the chat with its participants as they now are. Those
    /// added get `Event::ChatCreated` and then the chat's items from its start; every member
    /// gets a `join` [`ChatEvent`](crate::Event::ChatEvent) per user added, then
    /// `Event::ChatChanged`. Names already in the chat are ignored.
    ///
    /// Errors: `forbidden` if this user is not in the chat or is a plain member (only an owner
    /// or admin adds), `not_found` for an unknown chat or username (then no one is added),
    /// `invalid_field` for an empty list, a direct chat (its two members never change: create
    /// a group), or a chat that would exceed the participant limit.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// let chat = client.add_participants(chat, vec!["carol".into()]).await?;
    /// assert!(chat.has_participant("carol"));
    /// # Ok(()) }
    /// ```
    pub fn add_participants(
        &self,
        chat: ChatId,
        usernames: Vec<String>,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        // Resent after a lost connection: the key makes a repeat change nothing.
        let key = Some(new_client_id());
        self.expect_chat(
            Command::AddParticipants { chat_id: Some(chat), usernames, client_id: key },
            true,
        )
    }

    /// Remove a member from a group (an owner removes anyone, an admin plain members); returns
    /// the chat as it now is. Every member gets a `remove`
    /// [`ChatEvent`](crate::Event::ChatEvent) and `Event::ChatChanged`; so does the removed
    /// user, whose client then forgets the chat. Removing oneself is leaving.
    ///
    /// Resent after a lost connection: its idempotency key makes the server apply it once.
    ///
    /// Errors: `forbidden` if this user is not in the chat or may not remove that member,
    /// `not_found` for an unknown chat or a user who is not a member, `invalid_field` for a
    /// direct chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// let chat = client.remove_participant(chat, "mallory").await?;
    /// assert!(!chat.has_participant("mallory"));
    /// # Ok(()) }
    /// ```
    pub fn remove_participant(
        &self,
        chat: ChatId,
        username: impl Into<String>,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        let command = Command::RemoveParticipant {
            chat_id: Some(chat),
            username: username.into(),
            client_id: Some(new_client_id()),
        };
        // Resent after a lost connection: the key makes a repeat change nothing.
        self.expect_chat(command, true)
    }

    /// Leave a chat. The members left get a `leave` [`ChatEvent`](crate::Event::ChatEvent)
    /// (and, if this user owned the group, the `role` event of the member who now owns it:
    /// the oldest admin, else the oldest member); this client gets the same events, then
    /// forgets the chat. The last member leaving deletes the chat (`Event::ChatDeleted`).
    ///
    /// Resent after a lost connection: its idempotency key makes the server answer a repeat
    /// as the first time.
    ///
    /// Errors: `forbidden` if this user is not in the chat, `not_found` for an unknown chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// client.leave_chat(chat).await?;
    /// # Ok(()) }
    /// ```
    pub fn leave_chat(&self, chat: ChatId) -> impl Future<Output = Result<()>> + Send + 'static {
        // Resent after a lost connection: the key makes a repeat answered, not refused.
        let command = Command::LeaveChat { chat_id: Some(chat), client_id: Some(new_client_id()) };
        self.expect_ok(command, true)
    }

    /// Give a member of a group a role (the owner only); returns the chat as it now is. Making
    /// someone [`Role::Owner`] hands ownership over: this user becomes an admin. A role already
    /// held changes nothing. Every member gets the `role`
    /// [`ChatEvent`](crate::Event::ChatEvent)s and `Event::ChatChanged`.
    ///
    /// Resent after a lost connection, a handover too: its idempotency key makes the server
    /// answer a repeat as the first time.
    ///
    /// Errors: `forbidden` if this user is not the group's owner (or gives up ownership
    /// without naming another owner), `not_found` for an unknown chat or a user who is not a
    /// member, `invalid_field` for a direct chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::Role;
    ///
    /// let chat = client.set_role(chat, "bob", Role::Admin).await?;
    /// assert_eq!(chat.role_of("bob"), Some(Role::Admin));
    /// # Ok(()) }
    /// ```
    pub fn set_role(
        &self,
        chat: ChatId,
        username: impl Into<String>,
        role: Role,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        let command = Command::SetRole {
            chat_id: Some(chat),
            username: username.into(),
            role,
            client_id: Some(new_client_id()),
        };
        // Resent after a lost connection, a handover too: the key makes a repeat answered as
        // the first time, not refused because this user is no longer the owner.
        self.expect_chat(command, true)
    }

    /// Rename a group and/or set its topic (an owner or admin); `None` leaves a field as it
    /// is, an empty string clears it. Returns the chat as it now is. Each field that changed
    /// records a `rename` or `topic` [`ChatEvent`](crate::Event::ChatEvent) (its `content` is
    /// the new text), then every member gets `Event::ChatChanged`. Safe to resend after a lost
    /// connection: setting what is already there records nothing.
    ///
    /// Errors: `forbidden` if this user is not in the chat or is a plain member, `not_found`
    /// for an unknown chat, `invalid_field` for a direct chat, a name over 64 characters or a
    /// topic over 256.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// let chat = client
    ///     .update_chat(chat, Some("Ferris fans".into()), Some(String::new()))
    ///     .await?;
    /// assert_eq!((chat.name.as_deref(), chat.topic.as_deref()), (Some("Ferris fans"), None));
    /// # Ok(()) }
    /// ```
    pub fn update_chat(
        &self,
        chat: ChatId,
        name: Option<String>,
        topic: Option<String>,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        // Resent after a lost connection: the key makes a repeat change nothing.
        let key = Some(new_client_id());
        self.expect_chat(
            Command::UpdateChat { chat_id: Some(chat), name, topic, client_id: key },
            true,
        )
    }

    /// Delete a chat and its history: either member of a direct chat, the owner of a group.
    /// Everyone who was in it gets `Event::ChatDeleted`, and their clients forget it.
    ///
    /// Not resent after a lost connection (a second deletion would be refused with
    /// `not_found`): it fails with `connection_lost` when the reply was lost.
    ///
    /// Errors: `forbidden` if this user is not in the chat or is not the group's owner,
    /// `not_found` for an unknown chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// client.delete_chat(chat).await?;
    /// # Ok(()) }
    /// ```
    pub fn delete_chat(&self, chat: ChatId) -> impl Future<Output = Result<()>> + Send + 'static {
        // Not resent: a repeat after the deletion took effect finds no chat (`not_found`),
        // which could not be told from a chat that never was.
        self.expect_ok(Command::DeleteChat { chat_id: Some(chat) }, false)
    }

    /// The chat of exactly this user and `usernames`: the existing one (the oldest, if there
    /// are several), else a new one. Calling it again returns the same chat.
    ///
    /// For one other person that is their direct chat (a group of the same two people is not
    /// "the chat with bob"); for several, a group of exactly these people.
    ///
    /// It works on the client side (`list_chats`, then `create_chat`), so two clients calling
    /// it at the same moment for the same people may create two chats; later calls then
    /// return the older one. A creation whose reply was lost is looked up again, never
    /// repeated blindly.
    ///
    /// Errors: `invalid_field` when `usernames` names no one but this user, `not_found` for an
    /// unknown username.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let chat = client.chat_with(vec!["bob".into()]).await?;
    /// let again = client.chat_with(vec!["bob".into()]).await?;
    /// assert_eq!(chat.id, again.id);
    /// # Ok(()) }
    /// ```
    pub fn chat_with(
        &self,
        usernames: Vec<String>,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        let this = self.clone();
        async move {
            let mut wanted: BTreeSet<String> = usernames.into_iter().collect();
            wanted.insert(this.username().to_owned());
            // `create_chat` makes a direct chat of two people, a group of more.
            let kind = if wanted.len() == 2 { ChatKind::Direct } else { ChatKind::Group };
            let mut attempt = 0;
            loop {
                attempt += 1;
                let existing = this
                    .list_chats()
                    .await?
                    .into_iter()
                    .filter(|chat| {
                        chat.kind == kind
                            && chat.participants.len() == wanted.len()
                            && chat.participants.iter().all(|p| wanted.contains(&p.username))
                    })
                    .min_by_key(|chat| chat.id);
                if let Some(chat) = existing {
                    return Ok(chat);
                }
                match this.create_chat(wanted.iter().cloned().collect()).await {
                    Err(Error::ConnectionLost) if attempt < CHAT_WITH_ATTEMPTS => continue,
                    result => return result,
                }
            }
        }
    }

    /// Send a command whose reply is the `chat` frame.
    pub(super) fn expect_chat(
        &self,
        command: Command,
        retry: bool,
    ) -> impl Future<Output = Result<Chat>> + Send + 'static {
        let reply = self.request(command, retry);
        async move {
            match reply.await? {
                ServerFrame::Chat { chat, .. } => Ok(chat),
                other => Err(unexpected("chat", &other)),
            }
        }
    }
}
