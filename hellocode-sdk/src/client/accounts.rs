//! The caller's account: profiles, languages, contacts and bot tokens.

use std::future::Future;

use hellocode_core::model::{BotToken, Language, User};
use hellocode_core::protocol::{Command, ServerFrame};

use super::Client;
use crate::Result;
use crate::driver::unexpected;
use crate::driver::wire;

/// A change to the caller's profile, for [`Client::update_profile`]; what is not set stays as
/// it is. (Email, password and avatar are changed over the REST API only.)
///
/// ```
/// use hellocode_sdk::ProfileUpdate;
/// let update = ProfileUpdate::new().timezone("Europe/Paris").languages(["Rust", "Go"]);
/// assert_eq!(update.timezone.as_deref(), Some("Europe/Paris"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileUpdate {
    /// New IANA time zone name, e.g. `Europe/Paris` (empty for none; at most 64 characters).
    pub timezone: Option<String>,
    /// The new set of languages (replaces the old one; each must exist, see
    /// [`Client::add_language`]).
    pub languages: Option<Vec<String>>,
}

impl ProfileUpdate {
    /// A change of nothing.
    pub fn new() -> Self {
        ProfileUpdate::default()
    }

    /// Set the time zone.
    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = Some(timezone.into());
        self
    }

    /// Replace the languages.
    pub fn languages<S: Into<String>>(mut self, languages: impl IntoIterator<Item = S>) -> Self {
        self.languages = Some(languages.into_iter().map(Into::into).collect());
        self
    }
}

/// A bot token just created by [`Client::create_bot_token`]. The server shows the token this
/// once: store it somewhere safe.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedBotToken {
    /// Its id, to revoke it with [`Client::revoke_bot_token`].
    pub id: i64,
    /// Its label, trimmed.
    pub name: String,
    /// The token: connect with `Credentials::token(token)`.
    pub token: String,
}

impl std::fmt::Debug for IssuedBotToken {
    // Never print secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedBotToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A user's public profile.
    ///
    /// Errors: `not_found` for an unknown username.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let bob = client.get_user("bob").await?;
    /// println!("{} explores {:?} ({})", bob.username, bob.languages, bob.timezone);
    /// # Ok(()) }
    /// ```
    pub fn get_user(
        &self,
        username: impl Into<String>,
    ) -> impl Future<Output = Result<User>> + Send + 'static {
        self.user_reply(Command::GetUser { username: username.into() })
    }

    /// Change this user's time zone and/or languages; returns the profile as stored.
    ///
    /// Errors: `not_found` for a language that does not exist, `invalid_field` for a time zone
    /// over 64 characters, more than 100 languages, or a blank language name.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::ProfileUpdate;
    /// let me = client.update_profile(ProfileUpdate::new().languages(["Rust", "Zig"])).await?;
    /// assert_eq!(me.languages, ["Rust", "Zig"]);
    /// # Ok(()) }
    /// ```
    pub fn update_profile(
        &self,
        update: ProfileUpdate,
    ) -> impl Future<Output = Result<User>> + Send + 'static {
        let ProfileUpdate { timezone, languages } = update;
        self.user_reply(Command::UpdateProfile { timezone, languages })
    }

    fn user_reply(&self, command: Command) -> impl Future<Output = Result<User>> + Send + 'static {
        let reply = self.request(command, true);
        async move {
            match reply.await? {
                ServerFrame::User { user, .. } => Ok(user),
                other => Err(unexpected("user", &other)),
            }
        }
    }

    /// Every language, by name.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// for language in client.languages().await? {
    ///     println!("{}: {}", language.id, language.name);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn languages(&self) -> impl Future<Output = Result<Vec<Language>>> + Send + 'static {
        let this = self.clone();
        async move {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = match this.request(wire::list_languages(after), true).await? {
                    ServerFrame::Languages { languages, .. } => languages,
                    other => return Err(unexpected("languages", &other)),
                };
                after = wire::absorb(&mut all, page, |language| language.name.clone());
                if after.is_none() {
                    return Ok(all);
                }
            }
        }
    }

    /// Add a language (the name is trimmed); a name that exists is returned as it is.
    ///
    /// Errors: `invalid_field` unless the name is 1 to 64 characters once trimmed.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let zig = client.add_language("Zig").await?;
    /// assert_eq!(zig.name, "Zig");
    /// # Ok(()) }
    /// ```
    pub fn add_language(
        &self,
        name: impl Into<String>,
    ) -> impl Future<Output = Result<Language>> + Send + 'static {
        let reply = self.request(Command::AddLanguage { name: name.into() }, true);
        async move {
            match reply.await? {
                ServerFrame::Language { language, .. } => Ok(language),
                other => Err(unexpected("language", &other)),
            }
        }
    }

    /// This user's contacts, by username.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let contacts: Vec<String> = client.contacts().await?;
    /// # Ok(()) }
    /// ```
    pub fn contacts(&self) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        self.contacts_reply(Command::ListContacts {})
    }

    /// Add a user to this user's contacts (idempotent); returns the contacts.
    ///
    /// Errors: `not_found` for an unknown username.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let contacts = client.add_contact("bob").await?;
    /// assert!(contacts.contains(&"bob".to_owned()));
    /// # Ok(()) }
    /// ```
    pub fn add_contact(
        &self,
        username: impl Into<String>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        self.contacts_reply(Command::AddContact { username: username.into() })
    }

    /// Remove a user from this user's contacts (idempotent); returns the contacts.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let contacts = client.remove_contact("bob").await?;
    /// assert!(!contacts.contains(&"bob".to_owned()));
    /// # Ok(()) }
    /// ```
    pub fn remove_contact(
        &self,
        username: impl Into<String>,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        self.contacts_reply(Command::RemoveContact { username: username.into() })
    }

    fn contacts_reply(
        &self,
        command: Command,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + 'static {
        let reply = self.request(command, true);
        async move {
            match reply.await? {
                ServerFrame::Contacts { contacts, .. } => Ok(contacts),
                other => Err(unexpected("contacts", &other)),
            }
        }
    }

    /// Create a long-lived token a bot uses to act as this user. Not resent after a lost
    /// connection (it could create two tokens): it fails with `connection_lost` instead.
    ///
    /// Errors: `invalid_field` unless the name is 1 to 64 characters once trimmed.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::{Credentials, WebSocketTransport};
    /// let issued = client.create_bot_token("matchmaker").await?;
    /// let transport = WebSocketTransport::new("ws://127.0.0.1:8080")?;
    /// let bot = hellocode_sdk::Client::connect(transport, Credentials::token(issued.token)).await?;
    /// assert_eq!(bot.username(), client.username());
    /// # Ok(()) }
    /// ```
    pub fn create_bot_token(
        &self,
        name: impl Into<String>,
    ) -> impl Future<Output = Result<IssuedBotToken>> + Send + 'static {
        let reply = self.request(Command::CreateBotToken { name: name.into() }, false);
        async move {
            match reply.await? {
                ServerFrame::BotToken { token_id, name, token, .. } => {
                    Ok(IssuedBotToken { id: token_id, name, token })
                }
                other => Err(unexpected("bot_token", &other)),
            }
        }
    }

    /// This user's bot tokens by id, revoked ones included (without the secrets).
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// for token in client.bot_tokens().await? {
    ///     println!("#{} {} revoked: {}", token.id, token.name, token.revoked);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn bot_tokens(&self) -> impl Future<Output = Result<Vec<BotToken>>> + Send + 'static {
        let reply = self.request(Command::ListBotTokens {}, true);
        async move {
            match reply.await? {
                ServerFrame::BotTokens { tokens, .. } => Ok(tokens),
                other => Err(unexpected("bot_tokens", &other)),
            }
        }
    }

    /// Revoke one of this user's bot tokens: the server refuses it from then on.
    ///
    /// Errors: `not_found` for a token that does not exist or is not this user's.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let issued = client.create_bot_token("tmp").await?;
    /// client.revoke_bot_token(issued.id).await?;
    /// # Ok(()) }
    /// ```
    pub fn revoke_bot_token(&self, id: i64) -> impl Future<Output = Result<()>> + Send + 'static {
        self.expect_ok(Command::RevokeBotToken { token_id: id }, true)
    }
}
