//! What the nodes of a deployment count together in Redis: open connections per user (so that
//! presence and the per-user connection cap are the deployment's, not one node's), the nodes
//! alive, and shared token buckets (so that a per-user rate limit holds whichever node a
//! request reaches).
//!
//! Each change is one Lua script, atomic in Redis. A node's connections are counted twice: in
//! the deployment's total per user, and in the node's own hash, so that when a node dies
//! (its heartbeat key expires) any other node can take exactly its share back out and tell
//! who went offline with it.

use std::time::Duration;

use ::redis::Script;
use ::redis::aio::ConnectionManager;

/// Connections per user, across the deployment.
const TOTALS: &str = "hellocode:connections";
/// The nodes that have counted connections.
const NODES: &str = "hellocode:nodes";
/// How long a node counts as alive after its last heartbeat.
pub(crate) const ALIVE_FOR: Duration = Duration::from_secs(10);
/// How often a node renews its heartbeat and looks for dead nodes.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(3);

/// Count a connection unless the user has `ARGV[2]` already: the new total, or -1.
const ARRIVE: &str = r"
local total = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if total >= tonumber(ARGV[2]) then return -1 end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
";

/// Uncount a connection: the user's new total, or -1 when this node had none counted for
/// them (Redis lost its data, or the node was taken for dead).
const DEPART: &str = r"
local mine = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if mine <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
if mine < 0 then return -1 end
local total = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if total <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) return 0 end
return total
";

/// Renew this node's heartbeat: 1 if it was still alive, 0 if it had expired (or Redis lost
/// it), when the node's counts may be gone.
const BEAT: &str = r"
local alive = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return alive
";

/// Take a dead node's connections out of the totals: the users left with none.
const REAP: &str = r"
if redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local gone = {}
local counts = redis.call('HGETALL', KEYS[2])
for i = 1, #counts, 2 do
  local total = redis.call('HINCRBY', KEYS[1], counts[i], -tonumber(counts[i + 1]))
  if total <= 0 then
    redis.call('HDEL', KEYS[1], counts[i])
    table.insert(gone, counts[i])
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[4], ARGV[1])
return gone
";

/// Take a token from a bucket of `ARGV[1]` tokens refilling `ARGV[2]` per millisecond, on
/// Redis's clock: 0, or the milliseconds until a token is there.
const TAKE: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 1000)
return wait
";

/// The scripts, bound to this node's keys.
pub(crate) struct Roster {
    redis: ConnectionManager,
    node: String,
    arrive: Script,
    depart: Script,
    beat: Script,
    reap: Script,
    take: Script,
}

impl Roster {
    pub(crate) fn new(redis: ConnectionManager, node: String) -> Self {
        Roster {
            redis,
            node,
            arrive: Script::new(ARRIVE),
            depart: Script::new(DEPART),
            beat: Script::new(BEAT),
            reap: Script::new(REAP),
            take: Script::new(TAKE),
        }
    }

    fn counts_of(node: &str) -> String {
        format!("{TOTALS}:{node}")
    }

    fn alive_key(node: &str) -> String {
        format!("hellocode:node:{node}")
    }

    /// Count a connection of `username` unless they have `max` open in the deployment: their
    /// total with it, or `None` when refused.
    pub(crate) async fn arrive(
        &self,
        username: &str,
        max: usize,
    ) -> Result<Option<u64>, ::redis::RedisError> {
        let total: i64 = self
            .arrive
            .key(TOTALS)
            .key(Self::counts_of(&self.node))
            .arg(username)
            .arg(max)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(u64::try_from(total).ok())
    }

    /// Uncount a connection counted by [`arrive`](Self::arrive): the user's total left, or
    /// `None` if this node's count of them was gone.
    pub(crate) async fn depart(&self, username: &str) -> Result<Option<u64>, ::redis::RedisError> {
        let total: i64 = self
            .depart
            .key(TOTALS)
            .key(Self::counts_of(&self.node))
            .arg(username)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(u64::try_from(total).ok())
    }

    /// Renew this node's heartbeat: `false` when it had lapsed (the node may have been taken
    /// for dead and its counts removed, or Redis lost them).
    pub(crate) async fn beat(&self) -> Result<bool, ::redis::RedisError> {
        let alive: i64 = self
            .beat
            .key(Self::alive_key(&self.node))
            .key(NODES)
            .arg(ALIVE_FOR.as_millis() as u64)
            .arg(&self.node)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(alive == 1)
    }

    /// Take the connections of every node whose heartbeat lapsed out of the totals: the users
    /// who are offline now.
    pub(crate) async fn reap(&self) -> Result<Vec<String>, ::redis::RedisError> {
        let mut redis = self.redis.clone();
        let nodes: Vec<String> =
            ::redis::cmd("SMEMBERS").arg(NODES).query_async(&mut redis).await?;
        let mut gone = Vec::new();
        for node in nodes.iter().filter(|node| **node != self.node) {
            let users: Vec<String> = self
                .reap
                .key(TOTALS)
                .key(Self::counts_of(node))
                .key(Self::alive_key(node))
                .key(NODES)
                .arg(node)
                .invoke_async(&mut redis)
                .await?;
            if !users.is_empty() {
                tracing::warn!(
                    node,
                    offline = users.len(),
                    "a node stopped; its users' connections uncounted"
                );
            }
            gone.extend(users);
        }
        Ok(gone)
    }

    /// Who of the deployment has a connection open.
    pub(crate) async fn online(&self) -> Result<Vec<String>, ::redis::RedisError> {
        ::redis::cmd("HKEYS").arg(TOTALS).query_async(&mut self.redis.clone()).await
    }

    /// Take one token from the shared bucket `key` holding `burst` and refilling `per_second`:
    /// `Err` carries the time until one is there.
    pub(crate) async fn take(
        &self,
        key: &str,
        burst: f64,
        per_second: f64,
    ) -> Result<Result<(), Duration>, ::redis::RedisError> {
        let wait_ms: u64 = self
            .take
            .key(format!("hellocode:bucket:{key}"))
            .arg(burst.max(1.0))
            .arg(per_second.max(1e-9) / 1000.0)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(if wait_ms == 0 { Ok(()) } else { Err(Duration::from_millis(wait_ms)) })
    }
}
