//! Chat membership: adding people, and finding or creating the chat with a set of people.

use std::collections::BTreeSet;
use std::future::Future;

use hellocode_core::model::{Chat, ChatId};
use hellocode_core::protocol::{Command, ServerFrame};

use super::Client;
use crate::driver::unexpected;
use crate::{Error, Result};

/// How often `chat_with` looks again after its creation's reply was lost.
const CHAT_WITH_ATTEMPTS: usize = 3;

impl Client {
    /// Add users to a chat this user takes part in; returns the chat with its participants as
    /// they now are. Those added (and only they) get `Event::ChatCreated` and then the chat's
    /// messages from its start. Names already in the chat are ignored.
    ///
    /// Errors: `forbidden` if this user is not in the chat, `not_found` for an unknown chat or
    /// username (then no one is added), `invalid_field` for an empty list or a chat that would
    /// exceed the participant limit.
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
        let command = Command::AddParticipants {
            chat_id: Some(chat),
            usernames,
            client_id: Some(crate::driver::outbox::new_client_id()),
        };
        let reply = self.request(command, true);
        async move {
            match reply.await? {
                ServerFrame::Chat { chat, .. } => Ok(chat),
                other => Err(unexpected("chat", &other)),
            }
        }
    }

    /// The chat of exactly this user and `usernames`: the existing one (the oldest, if there
    /// are several), else a new one. Calling it again returns the same chat.
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
            let mut attempt = 0;
            loop {
                attempt += 1;
                let existing = this
                    .list_chats()
                    .await?
                    .into_iter()
                    .filter(|chat| {
                        chat.participants.len() == wanted.len()
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
}
