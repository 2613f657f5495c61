//! Keyed token buckets: per-address and per-username limits on login and registration, and a
//! general per-address limit on the REST API.
//!
//! A bucket holds up to `burst` tokens and refills at `per_second`; each attempt takes one. A
//! bucket that has refilled completely is the same as no bucket, so it is forgotten: the map
//! holds only keys seen recently. It is also capped at `max_keys`; when full, a new key is
//! refused (the limiter fails closed rather than grow).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::broker::Broker;
use crate::config::Settings;

/// A rate: a burst, refilled at a sustained pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Attempts allowed at once.
    pub burst: u32,
    /// Attempts per second, sustained (may be below 1: 0.1 is one every ten seconds).
    pub per_second: f64,
}

/// Token buckets by key, with bounded memory.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    rate: Rate,
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter allowing `rate` per key, remembering at most `max_keys` keys.
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        KeyedLimiter { rate, max_keys: max_keys.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one token for `key` at `now`; `Err` carries how long until one is available.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.rate.burst.max(1));
        let per_second = self.rate.per_second.max(f64::MIN_POSITIVE);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= self.max_keys {
            // Forget every bucket that has refilled; if none has, refuse the newcomer.
            buckets.retain(|_, bucket| bucket.level(now, per_second, burst) < burst);
            if buckets.len() >= self.max_keys {
                tracing::warn!(keys = buckets.len(), "rate limiter full; refusing a new key");
                return Err(Duration::from_secs(1));
            }
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket { tokens: burst, refilled: now });
        bucket.tokens = bucket.level(now, per_second, burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// The rate each key is allowed.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Keys currently remembered.
    pub fn keys(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Bucket {
    fn level(&self, now: Instant, per_second: f64, burst: f64) -> f64 {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        (self.tokens + elapsed * per_second).min(burst)
    }
}

/// Whole seconds to wait, at least one (the value of `Retry-After` and `retryAfter`).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// Keys each limiter remembers at most (about 100 bytes each).
const MAX_KEYS: usize = 100_000;

/// The server's limiters.
#[derive(Debug)]
pub struct RateLimits {
    /// Login and registration attempts per client address.
    pub auth_by_address: KeyedLimiter<IpAddr>,
    /// Login and registration attempts per username (case-folded).
    pub auth_by_username: KeyedLimiter<String>,
    /// Every other REST request per client address.
    pub rest_by_address: KeyedLimiter<IpAddr>,
}

impl RateLimits {
    /// Limiters with the configured rates.
    pub fn new(settings: &Settings) -> Self {
        RateLimits {
            auth_by_address: KeyedLimiter::new(settings.auth_rate_per_address, MAX_KEYS),
            auth_by_username: KeyedLimiter::new(settings.auth_rate_per_username, MAX_KEYS),
            rest_by_address: KeyedLimiter::new(settings.rest_rate_per_address, MAX_KEYS),
        }
    }

    /// A login or registration attempt for `username` from `peer` (unknown for in-process
    /// connections, which only the per-username limit covers).
    /// The per-username limit is the deployment's when `broker` shares buckets between nodes
    /// (an attacker cannot multiply it by the number of nodes); the per-address one is each
    /// node's.
    pub async fn auth_attempt(
        &self,
        peer: Option<IpAddr>,
        username: &str,
        broker: &dyn Broker,
    ) -> crate::Result<()> {
        let now = Instant::now();
        if let Some(peer) = peer {
            self.auth_by_address.check(&peer, now).map_err(|wait| {
                tracing::debug!(%peer, "login attempts from this address limited");
                crate::Error::RateLimited { retry_after: wait }
            })?;
        }
        let username = username.to_lowercase();
        let key = format!("auth:{username}");
        let taken = match broker.take(&key, self.auth_by_username.rate()).await {
            Some(taken) => taken,
            None => self.auth_by_username.check(&username, now),
        };
        taken.map_err(|wait| {
            tracing::debug!(user = %username, "login attempts for this username limited");
            crate::Error::RateLimited { retry_after: wait }
        })
    }

    /// Any other REST request from `peer`.
    pub fn rest_request(&self, peer: Option<IpAddr>) -> crate::Result<()> {
        match peer {
            Some(peer) => self
                .rest_by_address
                .check(&peer, Instant::now())
                .map_err(|wait| crate::Error::RateLimited { retry_after: wait }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_PER_SECOND: Rate = Rate { burst: 2, per_second: 2.0 };

    #[test]
    fn a_burst_then_refusal_with_the_time_to_wait() {
        let limiter = KeyedLimiter::new(TWO_PER_SECOND, 10);
        let now = Instant::now();
        assert!(limiter.check(&"a", now).is_ok());
        assert!(limiter.check(&"a", now).is_ok());
        let wait = limiter.check(&"a", now).expect_err("burst spent");
        assert_eq!(wait, Duration::from_millis(500));
        assert_eq!(retry_after_secs(wait), 1);
        assert!(limiter.check(&"b", now).is_ok(), "keys are independent");
        assert!(limiter.check(&"a", now + Duration::from_millis(500)).is_ok(), "refilled one");
    }

    #[test]
    fn memory_is_bounded_and_refilled_keys_are_forgotten() {
        let limiter = KeyedLimiter::new(TWO_PER_SECOND, 2);
        let now = Instant::now();
        assert!(limiter.check(&1, now).is_ok());
        assert!(limiter.check(&2, now).is_ok());
        assert!(limiter.check(&3, now).is_err(), "full of fresh keys: a new key is refused");
        assert_eq!(limiter.keys(), 2);
        let later = now + Duration::from_secs(1);
        assert!(limiter.check(&3, later).is_ok(), "refilled keys were forgotten");
        assert_eq!(limiter.keys(), 1);
    }

    #[test]
    fn slow_rates_wait_whole_seconds() {
        let limiter = KeyedLimiter::new(Rate { burst: 1, per_second: 0.1 }, 10);
        let now = Instant::now();
        assert!(limiter.check(&"a", now).is_ok());
        assert_eq!(limiter.check(&"a", now).map_err(retry_after_secs), Err(10));
    }
}
