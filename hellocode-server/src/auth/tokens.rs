//! Signed tokens: HS256 JWTs with `sub` (the username) and `exp`; bot tokens add `bot` (the id
//! of a revocable record in storage).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How long a bot token's signature stays valid; revocation is what ends it in practice.
const BOT_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bot: Option<i64>,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The user it names.
    pub username: String,
    /// The bot token record, for bot tokens.
    pub bot: Option<i64>,
}

/// Issues and checks tokens with one HS256 secret.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("lifetime", &self.lifetime).finish_non_exhaustive()
    }
}

impl Tokens {
    /// Tokens signed with `secret`, login tokens valid for `lifetime`.
    pub fn new(secret: &[u8], lifetime: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            lifetime,
        }
    }

    /// A login token for `username`.
    pub fn issue(&self, username: &str) -> Result<String> {
        self.sign(username, self.lifetime, None)
    }

    /// A bot token for `username`, tied to the bot token record `id`.
    pub fn issue_bot(&self, username: &str, id: i64) -> Result<String> {
        self.sign(username, BOT_TOKEN_LIFETIME, Some(id))
    }

    fn sign(&self, username: &str, lifetime: Duration, bot: Option<i64>) -> Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims =
            Claims { sub: username.to_owned(), iat: now, exp: now + lifetime.as_secs(), bot };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|err| Error::InvalidToken(err.to_string()))
    }

    /// Check signature, algorithm and expiry. Revocation is checked by [`super::Auth`].
    pub fn verify(&self, token: &str) -> Result<Verified> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| Error::InvalidToken(err.to_string()))?;
        Ok(Verified { username: data.claims.sub, bot: data.claims.bot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_fail() {
        let tokens = Tokens::new(b"secret-one", Duration::from_secs(60));
        let token = tokens.issue("alice").expect("issue");
        assert_eq!(
            tokens.verify(&token).expect("valid"),
            Verified { username: "alice".into(), bot: None }
        );
        let bot = tokens.issue_bot("alice", 7).expect("issue");
        assert_eq!(tokens.verify(&bot).expect("valid").bot, Some(7));

        let other = Tokens::new(b"secret-two", Duration::from_secs(60));
        assert!(other.verify(&token).is_err(), "another secret's signature is refused");
        assert!(tokens.verify("not.a.jwt").is_err());
        let mut tampered = token.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert!(tokens.verify(&tampered).is_err());
    }

    #[test]
    fn expired_tokens_fail() {
        let tokens = Tokens::new(b"secret", Duration::from_secs(60));
        let past = Claims { sub: "alice".into(), iat: 1, exp: 2, bot: None };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &past,
            &EncodingKey::from_secret(b"secret"),
        )
        .expect("encode");
        assert!(tokens.verify(&token).is_err());
    }

    #[test]
    fn the_none_algorithm_is_refused() {
        let tokens = Tokens::new(b"secret", Duration::from_secs(60));
        // {"alg":"none"} . {"sub":"alice","exp":9999999999} . (no signature)
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(tokens.verify(unsigned).is_err());
    }
}
