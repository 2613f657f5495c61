//! Per-account creation limits: how fast one user may add languages, create chats and add
//! participants, across all their connections and REST (issue 13: one user created 2,000
//! languages in 1.2 s and put another user into 2,000 chats in 2.1 s).
//!
//! One token bucket per (user, kind): it holds up to a period's allowance and refills evenly
//! over the period, so a real user's bursts pass and a script is held to the sustained rate.
//! A refusal is `rate_limited` with `retryAfter` (REST: 429 with `Retry-After`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hellocode_core::model::ChatChange;
use hellocode_core::protocol::{RequestId, ServerFrame};
use hellocode_core::session::StorageOp;

use crate::rate_limit::Rate;

/// The allowances; see the `--languages-per-hour`, `--chats-per-minute`,
/// `--participant-additions-per-minute`, `--invitations-per-minute`,
/// `--invite-links-per-minute` and `--uploads-per-minute` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreationLimits {
    /// `add_language` commands per user per hour.
    pub languages_per_hour: u32,
    /// `create_chat` commands per user per minute.
    pub chats_per_minute: u32,
    /// Commands adding participants to an existing chat per user per minute.
    pub participant_additions_per_minute: u32,
    /// `invite` commands per user per minute.
    pub invitations_per_minute: u32,
    /// `create_invite_link` commands per user per minute.
    pub invite_links_per_minute: u32,
    /// Uploads (avatars and attachments) per user per minute.
    pub uploads_per_minute: u32,
}

impl Default for CreationLimits {
    fn default() -> Self {
        CreationLimits {
            languages_per_hour: 10,
            chats_per_minute: 30,
            participant_additions_per_minute: 60,
            invitations_per_minute: 60,
            invite_links_per_minute: 30,
            uploads_per_minute: 30,
        }
    }
}

/// What is being created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A language.
    Language,
    /// A chat.
    Chat,
    /// Participants added to an existing chat.
    Participants,
    /// Invitations.
    Invitation,
    /// Invite links.
    InviteLink,
    /// Uploaded media.
    Upload,
}

impl Kind {
    /// What it counts, in words (also the name of its shared bucket).
    pub fn what(self) -> &'static str {
        match self {
            Kind::Language => "languages",
            Kind::Chat => "chats",
            Kind::Participants => "participant additions",
            Kind::Invitation => "invitations",
            Kind::InviteLink => "invite links",
            Kind::Upload => "uploads",
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets above this count are pruned of the full ones (users idle for a whole period),
/// which keep no information: memory stays bounded by the users active in one period.
const PRUNE_ABOVE: usize = 10_000;

/// The per-account limiter. Shared by every transport through the dispatcher.
#[derive(Debug)]
pub struct CreationLimiter {
    limits: CreationLimits,
    buckets: Mutex<HashMap<(String, Kind), Bucket>>,
}

impl CreationLimiter {
    /// A limiter with these allowances.
    pub fn new(limits: CreationLimits) -> Self {
        CreationLimiter { limits, buckets: Mutex::new(HashMap::new()) }
    }

    fn allowance(&self, kind: Kind) -> (f64, Duration) {
        let (count, period) = match kind {
            Kind::Language => (self.limits.languages_per_hour, Duration::from_secs(3600)),
            Kind::Chat => (self.limits.chats_per_minute, Duration::from_secs(60)),
            Kind::Participants => {
                (self.limits.participant_additions_per_minute, Duration::from_secs(60))
            }
            Kind::Invitation => (self.limits.invitations_per_minute, Duration::from_secs(60)),
            Kind::InviteLink => (self.limits.invite_links_per_minute, Duration::from_secs(60)),
            Kind::Upload => (self.limits.uploads_per_minute, Duration::from_secs(60)),
        };
        (f64::from(count.max(1)), period)
    }

    /// Take one creation of `kind` for `user` now; `Err(seconds)` until the next is allowed.
    pub fn take(&self, user: &str, kind: Kind, now: Instant) -> Result<(), u64> {
        let (capacity, period) = self.allowance(kind);
        let per_second = capacity / period.as_secs_f64();
        // A poisoned lock only means another thread panicked mid-update: the map is still
        // a valid map of buckets.
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|(_, kind), bucket| {
                let (capacity, period) = self.allowance(*kind);
                let refill = now.saturating_duration_since(bucket.updated).as_secs_f64() * capacity
                    / period.as_secs_f64();
                bucket.tokens + refill < capacity
            });
        }
        let bucket = buckets
            .entry((user.to_owned(), kind))
            .or_insert(Bucket { tokens: capacity, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_second).ceil();
            // At least a second: `retryAfter` is whole seconds and 0 would invite a retry loop.
            Err((wait as u64).max(1))
        }
    }

    /// The refusal for `op` of `user` (the session's identity), if it creates something
    /// `user` has no allowance left for, by this node's buckets alone.
    pub fn check(&self, user: &str, op: &StorageOp, id: Option<&RequestId>) -> Option<ServerFrame> {
        self.refusal(user, kind_of(op)?, id)
    }

    /// [`take`](Self::take) now, as the error frame to answer when refused.
    pub fn refusal(&self, user: &str, kind: Kind, id: Option<&RequestId>) -> Option<ServerFrame> {
        let retry_after = self.take(user, kind, Instant::now()).err()?;
        Some(refused(user, kind, retry_after, id))
    }

    /// The allowance of `kind` as a rate (for a bucket the nodes of a deployment share).
    pub fn rate(&self, kind: Kind) -> Rate {
        let (capacity, period) = self.allowance(kind);
        Rate { burst: capacity as u32, per_second: capacity / period.as_secs_f64() }
    }
}

/// What `op` creates, if it creates anything with an allowance.
pub fn kind_of(op: &StorageOp) -> Option<Kind> {
    Some(match op {
        StorageOp::AddLanguage { .. } => Kind::Language,
        StorageOp::CreateChat { .. } => Kind::Chat,
        StorageOp::ChangeChat { change: ChatChange::Add { .. }, .. } => Kind::Participants,
        StorageOp::Invite { .. } => Kind::Invitation,
        StorageOp::CreateInviteLink { .. } => Kind::InviteLink,
        _ => return None,
    })
}

/// The refusal of a creation of `kind` by `user`, who may retry in `retry_after` seconds.
pub fn refused(user: &str, kind: Kind, retry_after: u64, id: Option<&RequestId>) -> ServerFrame {
    tracing::info!(user, what = kind.what(), retry_after, "creation limit reached");
    ServerFrame::rate_limited(
        id.cloned(),
        format!("too many {} created; retry in {retry_after} s", kind.what()),
        retry_after,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_past_its_allowance_and_refills() {
        let limits = CreationLimits { chats_per_minute: 3, ..CreationLimits::default() };
        let limiter = CreationLimiter::new(limits);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take("ada", Kind::Chat, start), Ok(()));
        }
        assert_eq!(limiter.take("ada", Kind::Chat, start), Err(20), "one chat per 20 s");
        assert_eq!(limiter.take("bob", Kind::Chat, start), Ok(()), "others are not affected");
        assert_eq!(limiter.take("ada", Kind::Language, start), Ok(()), "nor other kinds");
        assert_eq!(limiter.take("ada", Kind::Chat, start + Duration::from_secs(20)), Ok(()));
    }

    #[test]
    fn invitations_and_invite_links_have_allowances_of_their_own() {
        use hellocode_core::model::{ChatId, NewInviteLink, Timestamp};
        let limits = CreationLimits {
            invitations_per_minute: 1,
            invite_links_per_minute: 1,
            ..CreationLimits::default()
        };
        let limiter = CreationLimiter::new(limits);
        let at = Timestamp::from_unix_millis(0);
        let invite =
            StorageOp::Invite { chat: ChatId(1), by: "ada".into(), invitee: "bob".into(), at };
        let link = NewInviteLink { token_hash: "h".into(), expires_at: at, max_uses: None, at };
        let create = StorageOp::CreateInviteLink { chat: ChatId(1), by: "ada".into(), link };
        let accept = StorageOp::AcceptInvitation { invitation: 1, by: "ada".into(), max: 9, at };
        for op in [&invite, &create] {
            assert!(limiter.check("ada", op, None).is_none(), "{}: the first", op.name());
            let refused = limiter.check("ada", op, Some(&7.into()));
            assert!(
                matches!(refused, Some(ServerFrame::Error { retry_after: Some(60), .. })),
                "{}: the second within the minute: {refused:?}",
                op.name()
            );
        }
        for _ in 0..3 {
            assert!(limiter.check("ada", &accept, None).is_none(), "a join creates nothing");
        }
    }
}
