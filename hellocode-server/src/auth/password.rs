//! Password hashing (argon2id, PHC strings) and strength rules.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{Error, Result};

/// Shortest accepted password, in characters.
pub const MIN_LENGTH: usize = 8;

/// Hash a password with argon2id and a random salt. CPU-heavy: call it off the async threads.
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| Error::PasswordHash(err.to_string()))
}

/// Whether `password` matches the PHC `hash`. A malformed hash matches nothing.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of a password nobody has, to spend the same time on unknown usernames as on known ones.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password for unknown users").unwrap_or_default())
}

/// What is wrong with a new password, if anything (the rules of Django's default validators).
pub fn problems(username: &str, password: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if password.chars().count() < MIN_LENGTH {
        problems.push(format!(
            "This password is too short. It must contain at least {MIN_LENGTH} characters."
        ));
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".to_owned());
    }
    let lower = password.to_lowercase();
    if !username.is_empty()
        && (lower.contains(&username.to_lowercase()) || username.to_lowercase().contains(&lower))
    {
        problems.push("The password is too similar to the username.".to_owned());
    }
    if COMMON.contains(&lower.as_str()) {
        problems.push("This password is too common.".to_owned());
    }
    problems
}

/// The most common passwords of public breach lists; none is accepted.
const COMMON: &[&str] = &[
    "123456",
    "password",
    "12345678",
    "qwerty",
    "123456789",
    "12345",
    "1234",
    "111111",
    "1234567",
    "dragon",
    "123123",
    "baseball",
    "abc123",
    "football",
    "monkey",
    "letmein",
    "696969",
    "shadow",
    "master",
    "666666",
    "qwertyuiop",
    "123321",
    "mustang",
    "1234567890",
    "michael",
    "654321",
    "superman",
    "1qaz2wsx",
    "7777777",
    "121212",
    "000000",
    "qazwsx",
    "123qwe",
    "killer",
    "trustno1",
    "jordan",
    "jennifer",
    "zxcvbnm",
    "asdfgh",
    "hunter",
    "buster",
    "soccer",
    "harley",
    "batman",
    "andrew",
    "tigger",
    "sunshine",
    "iloveyou",
    "2000",
    "charlie",
    "robert",
    "thomas",
    "hockey",
    "ranger",
    "daniel",
    "starwars",
    "klaster",
    "112233",
    "george",
    "computer",
    "michelle",
    "jessica",
    "pepper",
    "1111",
    "zxcvbn",
    "555555",
    "11111111",
    "131313",
    "freedom",
    "777777",
    "pass",
    "maggie",
    "159753",
    "aaaaaa",
    "ginger",
    "princess",
    "joshua",
    "cheese",
    "amanda",
    "summer",
    "love",
    "ashley",
    "nicole",
    "chelsea",
    "biteme",
    "matthew",
    "access",
    "yankees",
    "987654321",
    "dallas",
    "austin",
    "thunder",
    "taylor",
    "matrix",
    "password1",
    "password123",
    "welcome",
    "welcome1",
    "admin",
    "administrator",
    "passw0rd",
    "p@ssw0rd",
    "qwerty123",
    "letmein1",
    "changeme",
    "secret",
    "default",
    "guest",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let first = hash("correct horse battery").expect("hash");
        let second = hash("correct horse battery").expect("hash");
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second, "a random salt per hash");
        assert!(verify("correct horse battery", &first));
        assert!(!verify("wrong horse battery", &first));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn weak_passwords_are_explained() {
        assert!(problems("alice", "correct horse battery").is_empty());
        assert_eq!(problems("alice", "short").len(), 1);
        assert!(problems("alice", "12345678901").iter().any(|p| p.contains("numeric")));
        assert!(problems("alice", "alice2024!").iter().any(|p| p.contains("similar")));
        assert!(problems("alice", "Password123").iter().any(|p| p.contains("common")));
    }
}
