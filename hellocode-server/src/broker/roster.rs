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
/// Each user's presence version: increases with every change of their presence, on Redis's
/// clock (microseconds), so that versions keep increasing across a Redis restart.
const VERSIONS: &str = "hellocode:presence";
/// The nodes that have counted connections.
const NODES: &str = "hellocode:nodes";
/// How long a node counts as alive after its last heartbeat.
pub(crate) const ALIVE_FOR: Duration = Duration::from_secs(10);
/// How often a node renews its heartbeat and looks for dead nodes.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(3);

/// The next presence version of `user` (local `bump(user)` in the scripts below).
const BUMP: &str = r"
local function bump(user)
  local now = redis.call('TIME')
  now = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local version = math.max(now, tonumber(redis.call('HGET', KEYS[2], user) or '0') + 1)
  redis.call('HSET', KEYS[2], user, string.format('%d', version))
  return version
end
";

/// Count connection `ARGV[3]` of user `ARGV[1]` unless they have `ARGV[2]` already (counting
/// one twice does nothing): `{total, version}` (version 0: no change of presence), or
/// `{-1, 0}` when refused. Counting keeps this node listed and alive.
const ARRIVE: &str = r"
local total = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then return {total, 0} end
if total >= tonumber(ARGV[2]) then return {-1, 0} end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('SET', KEYS[5], '1', 'PX', ARGV[5], 'NX')
total = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local version = 0
if total == 1 then version = bump(ARGV[1]) end
return {total, version}
";

/// Uncount connection `ARGV[2]` of user `ARGV[1]` (if counted: uncounting twice does
/// nothing): `{total, version}`, a version when the user is offline now in the whole
/// deployment and `ARGV[3]` says this node has no other connection of theirs.
const DEPART: &str = r"
local total = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if redis.call('HDEL', KEYS[3], ARGV[2]) == 1 then
  total = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
  if total <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) total = 0 end
end
local version = 0
if total == 0 and ARGV[3] == '1' then version = bump(ARGV[1]) end
return {total, version}
";

/// Renew this node's heartbeat: 1 if it was still alive, 0 if it had lapsed (the node may
/// have been taken for dead and its counts removed, or Redis lost them).
const BEAT: &str = r"
local alive = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return alive
";

/// Take a dead node's connections out of the totals: `{user, version, ...}` for the users
/// left with none.
const REAP: &str = r"
if redis.call('EXISTS', KEYS[5]) == 1 then return {} end
local gone = {}
local connections = redis.call('HGETALL', KEYS[3])
for i = 1, #connections, 2 do
  local user = connections[i + 1]
  local total = redis.call('HINCRBY', KEYS[1], user, -1)
  if total <= 0 then
    redis.call('HDEL', KEYS[1], user)
    table.insert(gone, user)
    table.insert(gone, string.format('%d', bump(user)))
  end
end
redis.call('DEL', KEYS[3])
redis.call('SREM', KEYS[4], ARGV[1])
return gone
";

/// Who is online, as of a version: `{version, user, user, ...}`.
const SNAPSHOT: &str = r"
local now = redis.call('TIME')
local version = tonumber(now[1]) * 1000000 + tonumber(now[2])
local online = redis.call('HKEYS', KEYS[1])
table.insert(online, 1, string.format('%d', version))
return online
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

/// A change of a user's presence, with its version.
pub(crate) type Change = Option<u64>;

/// The scripts, bound to this node's keys.
pub(crate) struct Roster {
    redis: ConnectionManager,
    node: String,
    arrive: Script,
    depart: Script,
    beat: Script,
    reap: Script,
    snapshot: Script,
    take: Script,
}

impl Roster {
    pub(crate) fn new(redis: ConnectionManager, node: String) -> Self {
        let versioned = |body: &str| Script::new(&format!("{BUMP}{body}"));
        Roster {
            redis,
            node,
            arrive: versioned(ARRIVE),
            depart: versioned(DEPART),
            beat: Script::new(BEAT),
            reap: versioned(REAP),
            snapshot: Script::new(SNAPSHOT),
            take: Script::new(TAKE),
        }
    }

    fn connections_of(node: &str) -> String {
        format!("{TOTALS}:{node}")
    }

    fn alive_key(node: &str) -> String {
        format!("hellocode:node:{node}")
    }

    /// Count `connection` of `username` unless they have `max` open in the deployment: if they
    /// just came online, the change's version; `None` when refused.
    pub(crate) async fn arrive(
        &self,
        username: &str,
        connection: u64,
        max: usize,
    ) -> Result<Option<Change>, ::redis::RedisError> {
        let (total, version): (i64, u64) = self
            .arrive
            .key(TOTALS)
            .key(VERSIONS)
            .key(Self::connections_of(&self.node))
            .key(NODES)
            .key(Self::alive_key(&self.node))
            .arg(username)
            .arg(max)
            .arg(connection)
            .arg(&self.node)
            .arg(ALIVE_FOR.as_millis() as u64)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok((total >= 0).then_some((version > 0).then_some(version)))
    }

    /// Uncount `connection` of `username` (a no-op if it was not counted); `last_here`: this
    /// node has no other connection of theirs. The version of their going offline, if they
    /// did.
    pub(crate) async fn depart(
        &self,
        username: &str,
        connection: u64,
        last_here: bool,
    ) -> Result<Change, ::redis::RedisError> {
        let (_total, version): (i64, u64) = self
            .depart
            .key(TOTALS)
            .key(VERSIONS)
            .key(Self::connections_of(&self.node))
            .arg(username)
            .arg(connection)
            .arg(if last_here { "1" } else { "0" })
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok((version > 0).then_some(version))
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
    /// who are offline now, with the versions of that change.
    pub(crate) async fn reap(&self) -> Result<Vec<(String, u64)>, ::redis::RedisError> {
        let mut redis = self.redis.clone();
        let nodes: Vec<String> =
            ::redis::cmd("SMEMBERS").arg(NODES).query_async(&mut redis).await?;
        let mut gone = Vec::new();
        for node in nodes.iter().filter(|node| **node != self.node) {
            let users: Vec<String> = self
                .reap
                .key(TOTALS)
                .key(VERSIONS)
                .key(Self::connections_of(node))
                .key(NODES)
                .key(Self::alive_key(node))
                .arg(node)
                .invoke_async(&mut redis)
                .await?;
            if !users.is_empty() {
                tracing::warn!(
                    node,
                    offline = users.len() / 2,
                    "a node stopped; its users' connections uncounted"
                );
            }
            for pair in users.chunks_exact(2) {
                if let Ok(version) = pair[1].parse() {
                    gone.push((pair[0].clone(), version));
                }
            }
        }
        Ok(gone)
    }

    /// Who of the deployment has a connection open, as of a version.
    pub(crate) async fn online(&self) -> Result<(u64, Vec<String>), ::redis::RedisError> {
        let mut reply: Vec<String> =
            self.snapshot.key(TOTALS).invoke_async(&mut self.redis.clone()).await?;
        let version = if reply.is_empty() { 0 } else { reply.remove(0).parse().unwrap_or(0) };
        Ok((version, reply))
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
