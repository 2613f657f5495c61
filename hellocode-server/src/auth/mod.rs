//! Authentication: registration, password login, and token checks (login JWTs and revocable
//! bot tokens). The WebSocket and REST transports both go through [`Auth`].

pub mod password;
pub mod tokens;

use std::sync::Arc;

use hellocode_core::model::{Account, NewUser, Timestamp, User};
use hellocode_core::session::{Credential, Credentials, Identity};
use hellocode_core::storage::Storage;

use crate::error::{Error, FieldErrors, Result, USERNAME_TAKEN};
use crate::metrics::Metrics;
pub use tokens::Tokens;
use tokens::Verified;

/// What a new account needs (the original app's registration form).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Registration {
    /// Wanted username.
    #[serde(default)]
    pub username: String,
    /// Email address.
    #[serde(default)]
    pub email: String,
    /// Password.
    #[serde(default)]
    pub password: String,
    /// The password again.
    #[serde(default)]
    pub password_confirmation: String,
}

/// Checks credentials against storage and issues tokens.
#[derive(Clone)]
pub struct Auth {
    storage: Arc<dyn Storage>,
    tokens: Tokens,
    hasher: password::Hasher,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("tokens", &self.tokens).finish_non_exhaustive()
    }
}

impl Auth {
    /// Auth over `storage`, signing with `tokens`.
    pub fn new(storage: Arc<dyn Storage>, tokens: Tokens) -> Self {
        Auth { storage, tokens, hasher: password::Hasher::new() }
    }

    /// The same, with at most `queue` password hashes waiting (see [`password::Hasher`]),
    /// counted in `metrics`.
    pub fn with_hash_queue(mut self, queue: usize, metrics: Arc<Metrics>) -> Self {
        self.hasher = password::Hasher::with_queue(queue, metrics);
        self
    }

    /// The password hashing pool.
    pub fn hasher(&self) -> &password::Hasher {
        &self.hasher
    }

    /// The token service.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Check what a session asked for; on success, the identity and (after a login or a
    /// registration) a fresh token.
    pub async fn check(&self, credentials: &Credentials) -> Result<(Identity, Option<String>)> {
        match credentials {
            Credentials::Token { token } => Ok((self.verify_token(token).await?, None)),
            Credentials::Password { username, password } => {
                let (identity, token) = self.login(username, password).await?;
                Ok((identity, Some(token)))
            }
            Credentials::Register { username, email, password, password_confirmation } => {
                let registration = Registration {
                    username: username.clone(),
                    email: email.clone(),
                    password: password.clone(),
                    password_confirmation: password_confirmation.clone(),
                };
                let user = self.register(registration).await?;
                let (identity, token) = self.fresh_login(&user.username).await?;
                Ok((identity, Some(token)))
            }
        }
    }

    /// Whether `token` is one this server signed and has not expired: the check of
    /// [`verify_token`](Self::verify_token) that needs no storage. A token that fails it is
    /// refused without waiting for a turn to come online.
    pub fn signed_and_current(&self, token: &str) -> bool {
        self.verify_signature(token).is_ok()
    }

    /// The signature and expiry half of [`verify_token`](Self::verify_token): no storage.
    pub fn verify_signature(&self, token: &str) -> Result<Verified> {
        self.tokens.verify(token)
    }

    /// The identity a token proves: signature and expiry, then that the account it names still
    /// exists and, for a login token, that its password has not changed since (its token
    /// generation), or for a bot token, that it is not revoked.
    pub async fn verify_token(&self, token: &str) -> Result<Identity> {
        self.identity_of(self.verify_signature(token)?).await
    }

    /// The storage half of [`verify_token`](Self::verify_token), for a token whose signature
    /// and expiry [`Tokens::verify`] has checked.
    pub async fn identity_of(&self, verified: Verified) -> Result<Identity> {
        let Some(holder) = self.storage.token_holder(verified.account_id).await? else {
            return Err(Error::InvalidToken("the account no longer exists".into()));
        };
        let credential = match (verified.bot, verified.generation) {
            (Some(id), _) => {
                match self.storage.bot_token(id).await? {
                    Some(record) if record.revoked => {
                        return Err(Error::InvalidToken("the bot token was revoked".into()));
                    }
                    Some(record) if record.username == holder.username => {}
                    _ => return Err(Error::InvalidToken("unknown bot token".into())),
                }
                Credential::Bot { token_id: id }
            }
            (None, Some(generation)) if generation == holder.token_generation => {
                Credential::Login { generation, expires_at: verified.expires_at }
            }
            (None, _) => {
                return Err(Error::InvalidToken("the password was changed; log in again".into()));
            }
        };
        Ok(Identity::of_account(holder.username, verified.account_id, credential))
    }

    /// Why the credential behind `identity` is no longer valid (the account is gone, the
    /// password changed, the bot token was revoked), as a close reason; `None` while it is.
    /// A connection asks once it is registered for revocation, which closes the gap between
    /// its first check and its registration.
    pub async fn revoked_reason(&self, identity: &Identity) -> Result<Option<&'static str>> {
        use crate::revocation::{REASON_DELETED, REASON_PASSWORD, REASON_REVOKED};
        let Some(account_id) = identity.account_id else { return Ok(None) };
        let Some(holder) = self.storage.token_holder(account_id).await? else {
            return Ok(Some(REASON_DELETED));
        };
        Ok(match identity.credential {
            Credential::Login { generation, .. } if generation != holder.token_generation => {
                Some(REASON_PASSWORD)
            }
            Credential::Bot { token_id } => match self.storage.bot_token(token_id).await? {
                Some(record) if !record.revoked => None,
                _ => Some(REASON_REVOKED),
            },
            _ => None,
        })
    }

    /// Check a password and issue a login token. The username is taken as registered
    /// (exactly; another case of it is another name, which registration refuses to create).
    pub async fn login(&self, username: &str, password: &str) -> Result<(Identity, String)> {
        let account = self.storage.account(username).await?;
        // Spend the same time whether or not the user exists.
        let hash = account
            .as_ref()
            .map(|account| account.password_hash.clone())
            .unwrap_or_else(|| password::decoy_hash().to_owned());
        let matches = self.hasher.verify(password.to_owned(), hash).await?;
        match account {
            Some(account) if matches => self.issue(account),
            _ => Err(Error::InvalidCredentials),
        }
    }

    /// A login token for `username`'s account as it is now (after a registration or a
    /// password change), with the identity it proves.
    pub async fn fresh_login(&self, username: &str) -> Result<(Identity, String)> {
        match self.storage.account(username).await? {
            Some(account) => self.issue(account),
            None => Err(Error::Storage(hellocode_core::Error::UserNotFound(username.to_owned()))),
        }
    }

    fn issue(&self, account: Account) -> Result<(Identity, String)> {
        let id = account.user.id;
        let token = self.tokens.issue(id, account.token_generation)?;
        let expires_at = self.tokens.verify(&token)?.expires_at;
        let credential = Credential::Login { generation: account.token_generation, expires_at };
        Ok((Identity::of_account(account.user.username, id, credential), token))
    }

    /// Validate and create an account.
    pub async fn register(&self, registration: Registration) -> Result<User> {
        let errors = validate(&registration);
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let hash = self.hasher.hash(registration.password.clone()).await?;
        let new = NewUser::new(registration.username, registration.email, hash);
        match self.storage.create_user(new).await {
            Ok(user) => Ok(user),
            Err(hellocode_core::Error::UsernameTaken(_)) => {
                Err(Error::Validation(field("username", USERNAME_TAKEN)))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Issue a bot token for `username`, named `name`.
    pub async fn create_bot_token(&self, username: &str, name: &str) -> Result<(i64, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(Error::Validation(field(
                "name",
                "Give the token a name of 1 to 64 characters.",
            )));
        }
        let Some(account) = self.storage.account(username).await? else {
            return Err(Error::Storage(hellocode_core::Error::UserNotFound(username.to_owned())));
        };
        let record = self.storage.create_bot_token(username, name, Timestamp::now()).await?;
        Ok((record.id, self.tokens.issue_bot(account.user.id, record.id)?))
    }
}

fn field(name: &str, message: &str) -> FieldErrors {
    FieldErrors::from([(name.to_owned(), vec![message.to_owned()])])
}

/// Longest username, as in Django.
pub const MAX_USERNAME: usize = 150;

/// The message for an invalid email address.
pub const INVALID_EMAIL: &str = "Enter a valid email address.";

/// Whether `email` looks like an address: `local@domain.tld`, no spaces, at most 254 bytes.
pub fn is_valid_email(email: &str) -> bool {
    email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace)
}

/// Per-field problems of a registration (empty when it is valid).
pub fn validate(registration: &Registration) -> FieldErrors {
    let mut errors = FieldErrors::new();
    let mut add = |field: &str, message: String| {
        errors.entry(field.to_owned()).or_default().push(message);
    };
    let username = &registration.username;
    if username.is_empty() {
        add("username", "This field may not be blank.".into());
    } else if username.chars().count() > MAX_USERNAME
        || !username.chars().all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        add(
            "username",
            format!(
                "Enter a valid username: up to {MAX_USERNAME} letters, digits and @/./+/-/_ only."
            ),
        );
    }
    if !is_valid_email(&registration.email) {
        add("email", INVALID_EMAIL.into());
    }
    if registration.password != registration.password_confirmation {
        add("password_confirmation", "The two password fields didn't match.".into());
    }
    for problem in password::problems(username, &registration.password) {
        add("password", problem);
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(
        username: &str,
        email: &str,
        password: &str,
        confirmation: &str,
    ) -> Registration {
        Registration {
            username: username.into(),
            email: email.into(),
            password: password.into(),
            password_confirmation: confirmation.into(),
        }
    }

    #[test]
    fn valid_registrations_pass() {
        let ok = registration(
            "alice",
            "alice@example.org",
            "correct horse battery",
            "correct horse battery",
        );
        assert!(validate(&ok).is_empty());
    }

    #[test]
    fn each_problem_is_reported_under_its_field() {
        let errors = validate(&registration("bad name!", "no-at-sign", "alice", "other"));
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["email", "password", "password_confirmation", "username"]);
        let errors = validate(&registration("", "a@b.c", "12345678", "12345678"));
        assert!(errors["username"][0].contains("blank"));
        assert!(errors["password"].iter().any(|m| m.contains("numeric")));
    }
}
