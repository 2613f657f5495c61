//! Password hashing (argon2id, PHC strings) and strength rules.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{Error, Result};
use crate::metrics::{HashOutcome, Metrics};

/// Runs password hashing on a few dedicated threads, one per core, from a bounded queue.
///
/// Argon2 uses 19 MiB per hash. On tokio's blocking pool (up to 512 threads) every thread would
/// keep such a buffer in its allocator arena, and a burst of logins could take all the CPU; a
/// fixed pool bounds both. The queue is bounded too: when it is full a new job is refused at
/// once ([`Error::RateLimited`]) instead of waiting behind hundreds of others, and a job whose
/// requester has gone (a dropped request) is skipped rather than hashed.
#[derive(Debug, Clone)]
pub struct Hasher {
    jobs: std::sync::mpsc::SyncSender<Job>,
    /// Where what became of each job is counted (`/metrics`).
    metrics: std::sync::Arc<Metrics>,
}

/// A queued hash: `run` is skipped when `abandoned` says nobody waits for it any more.
struct Job {
    abandoned: Box<dyn Fn() -> bool + Send>,
    run: Box<dyn FnOnce() + Send>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

/// How long a refused job's requester is told to wait: about the time the queue takes to drain.
const QUEUE_FULL_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

impl Hasher {
    /// A pool with one thread per available core and a queue of 32 jobs.
    pub fn new() -> Self {
        Self::with_queue(32, std::sync::Arc::default())
    }

    /// A pool with one thread per available core and at most `queue` jobs waiting, counting
    /// what becomes of each job in `metrics`.
    pub fn with_queue(queue: usize, metrics: std::sync::Arc<Metrics>) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_threads(threads, queue, metrics)
    }

    fn with_threads(threads: usize, queue: usize, metrics: std::sync::Arc<Metrics>) -> Self {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(queue);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for index in 0..threads {
            let queue = queue.clone();
            let counts = metrics.clone();
            let spawned =
                std::thread::Builder::new().name(format!("password-{index}")).spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) if (job.abandoned)() => {
                                tracing::debug!("skipped a password hash nobody waits for");
                                counts.password_hash(HashOutcome::Skipped);
                            }
                            Ok(job) => {
                                (job.run)();
                                counts.password_hash(HashOutcome::Run);
                            }
                            Err(_) => return, // every sender is gone
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password hashing thread");
            }
        }
        Hasher { jobs, metrics }
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let done = std::sync::Arc::new(std::sync::Mutex::new(Some(done)));
        let watched = done.clone();
        let job = Job {
            // The requester dropped its receiver: its request was abandoned.
            abandoned: Box::new(move || {
                watched.lock().map_or(true, |done| done.as_ref().is_none_or(|d| d.is_closed()))
            }),
            run: Box::new(move || {
                if let Some(done) = done.lock().ok().and_then(|mut done| done.take()) {
                    let _ = done.send(job());
                }
            }),
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                tracing::debug!("password hashing queue full; refused");
                self.metrics.password_hash(HashOutcome::Refused);
                return Err(Error::RateLimited { retry_after: QUEUE_FULL_RETRY });
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                return Err(Error::PasswordHash("the hashing threads are gone".into()));
            }
        }
        result.await.map_err(|_| Error::PasswordHash("a hashing job was dropped".into()))
    }

    /// [`hash`] on the pool.
    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || hash(&password)).await?
    }

    /// [`verify`] on the pool.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool> {
        self.run(move || verify(&password, &hash)).await
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

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
    if !password.is_empty() && password.chars().all(char::is_whitespace) {
        problems.push("This password is entirely whitespace.".to_owned());
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
    use std::sync::atomic::Ordering;

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

    #[tokio::test]
    async fn the_pool_hashes_and_verifies() {
        let pool = Hasher::new();
        let hash = pool.hash("correct horse battery".into()).await.expect("hash");
        assert!(pool.verify("correct horse battery".into(), hash.clone()).await.expect("verify"));
        assert!(!pool.verify("wrong".into(), hash).await.expect("verify"));
    }

    /// Keep `pool`'s one thread busy until the returned sender is used; returns once the busy
    /// job runs.
    async fn hold_busy(
        pool: &Hasher,
    ) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<Result<()>>) {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let busy = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = held.recv();
                })
                .await
            }
        });
        started.await.expect("the busy job started");
        (release, busy)
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        // One thread, held busy by a job that waits for a signal; one slot in the queue.
        let pool = Hasher::with_threads(1, 1, std::sync::Arc::default());
        let (release, busy) = hold_busy(&pool).await;
        // Polled once, a job takes the queue's one slot.
        let mut queued = Box::pin(pool.run(|| 7));
        assert!(futures_util::FutureExt::now_or_never(queued.as_mut()).is_none());
        let refused = futures_util::FutureExt::now_or_never(pool.run(|| 8))
            .expect("refused at once, not queued");
        assert!(matches!(refused, Err(Error::RateLimited { .. })), "{refused:?}");
        release.send(()).expect("the busy job waits");
        busy.await.expect("joins").expect("busy job ran");
        assert_eq!(queued.await.expect("queued job ran"), 7);
    }

    #[tokio::test]
    async fn an_abandoned_job_is_not_run() {
        let pool = Hasher::with_threads(1, 4, std::sync::Arc::default());
        let (release, busy) = hold_busy(&pool).await;
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Queue a job behind the busy one, then abandon it (drop its future after it queued).
        {
            let ran = ran.clone();
            let mut abandoned = Box::pin(pool.run(move || ran.store(true, Ordering::SeqCst)));
            assert!(futures_util::FutureExt::now_or_never(abandoned.as_mut()).is_none());
        }
        // A marker job queued after it: once it has run, the abandoned one had its turn.
        release.send(()).expect("the busy job waits");
        busy.await.expect("joins").expect("busy job ran");
        assert_eq!(pool.run(|| 1).await.expect("marker ran"), 1);
        assert!(!ran.load(Ordering::SeqCst), "the abandoned job was hashed");
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
