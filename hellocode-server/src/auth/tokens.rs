//! Signed tokens: HS256 JWTs with `sub` (the account id, as a string: a token names the
//! account, not its username, so it dies with the account even if the name is registered
//! again) and `exp`. Login tokens add `gen` (the account's token generation: a password change
//! moves it and so refuses older login tokens); bot tokens add `bot` (the id of a revocable
//! record in storage).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hellocode_core::model::Timestamp;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How long a bot token's signature stays valid; revocation is what ends it in practice.
const BOT_TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Seconds of clock difference tolerated past `exp`.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    iat: u64,
    #[serde(rename = "gen", default, skip_serializing_if = "Option::is_none")]
    generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bot: Option<i64>,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The account it names.
    pub account_id: i64,
    /// For login tokens: the account's token generation it was signed with.
    pub generation: Option<i64>,
    /// The bot token record, for bot tokens.
    pub bot: Option<i64>,
    /// The first moment it is refused as expired.
    pub expires_at: Timestamp,
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
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            lifetime,
        }
    }

    /// A login token for account `account_id` at token generation `generation`.
    pub fn issue(&self, account_id: i64, generation: i64) -> Result<String> {
        self.sign(account_id, self.lifetime, Some(generation), None)
    }

    /// A bot token for account `account_id`, tied to the bot token record `id`.
    pub fn issue_bot(&self, account_id: i64, id: i64) -> Result<String> {
        self.sign(account_id, BOT_TOKEN_LIFETIME, None, Some(id))
    }

    fn sign(
        &self,
        account_id: i64,
        lifetime: Duration,
        generation: Option<i64>,
        bot: Option<i64>,
    ) -> Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims {
            sub: account_id.to_string(),
            iat: now,
            exp: now + lifetime.as_secs(),
            generation,
            bot,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(
            |err| {
                tracing::error!(error = %err, "cannot sign a token");
                Error::InvalidToken("cannot sign a token".into())
            },
        )
    }

    /// Check signature, algorithm and expiry. Revocation is checked by [`super::Auth`].
    pub fn verify(&self, token: &str) -> Result<Verified> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| Error::InvalidToken(plain_reason(err.kind()).into()))?;
        let claims = data.claims;
        // Tokens issued before accounts were named by id carry a username: log in again.
        let account_id = claims.sub.parse::<i64>().map_err(|_| {
            Error::InvalidToken("from an older server version; log in again".into())
        })?;
        if claims.generation.is_none() && claims.bot.is_none() {
            return Err(Error::InvalidToken("malformed token".into()));
        }
        // Refused once `now > exp + leeway` (whole seconds), so from this millisecond on.
        let expires_at = (claims.exp.saturating_add(LEEWAY_SECS + 1))
            .saturating_mul(1000)
            .min(i64::MAX as u64) as i64;
        Ok(Verified {
            account_id,
            generation: claims.generation,
            bot: claims.bot,
            expires_at: Timestamp::from_unix_millis(expires_at),
        })
    }
}

/// A fresh invite-link token: 32 bytes from the thread's cryptographically secure generator, as
/// 64 lowercase hex characters. Not a JWT: a link is found by the token's hash
/// ([`invite_token_hash`](hellocode_core::model::invite_token_hash)), and storage keeps only
/// that, so a database dump joins no group. Shown once, to its creator; never logged.
pub fn invite_link_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Why a token was refused, in words a client can show (never a Rust variant name).
fn plain_reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "token expired",
        ErrorKind::ImmatureSignature => "token not valid yet",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "unsupported algorithm",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        _ => "malformed token",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_fail() {
        let tokens = Tokens::new(b"secret-one", Duration::from_secs(60));
        let token = tokens.issue(42, 3).expect("issue");
        let verified = tokens.verify(&token).expect("valid");
        assert_eq!((verified.account_id, verified.generation, verified.bot), (42, Some(3), None));
        let bot = tokens.issue_bot(42, 7).expect("issue");
        let verified = tokens.verify(&bot).expect("valid");
        assert_eq!((verified.account_id, verified.generation, verified.bot), (42, None, Some(7)));

        let other = Tokens::new(b"secret-two", Duration::from_secs(60));
        let err = other.verify(&token).expect_err("another secret's signature is refused");
        assert_eq!(err.client_message(), "invalid token: bad signature");
        assert!(tokens.verify("not.a.jwt").is_err());
        let mut tampered = token.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert!(tokens.verify(&tampered).is_err());
    }

    #[test]
    fn expired_tokens_fail() {
        let tokens = Tokens::new(b"secret", Duration::from_secs(60));
        let past = Claims { sub: "1".into(), iat: 1, exp: 2, generation: Some(0), bot: None };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &past,
            &EncodingKey::from_secret(b"secret"),
        )
        .expect("encode");
        let err = tokens.verify(&token).expect_err("expired");
        assert_eq!(err.client_message(), "invalid token: token expired");
    }

    #[test]
    fn invite_link_tokens_are_long_random_hex() {
        let (one, two) = (invite_link_token(), invite_link_token());
        assert_eq!(one.len(), 64);
        assert!(one.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{one}");
        assert_ne!(one, two);
    }

    #[test]
    fn the_none_algorithm_is_refused() {
        let tokens = Tokens::new(b"secret", Duration::from_secs(60));
        // {"alg":"none"} . {"sub":"alice","exp":9999999999} . (no signature)
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(tokens.verify(unsigned).is_err());
    }
}
