//! Agent accounts: passwords, the rules for emails and names, creating an
//! agent, checking a login, limiting failed logins, and announcing revoked
//! sessions to the open inbox streams. The SQL is in `store/accounts.rs`;
//! the HTTP side in [`crate::api::inbox`].
//!
//! Passwords are hashed with argon2id at the crate's default parameters
//! (19 MiB, 2 passes, 1 lane: OWASP's recommendation) into PHC strings,
//! which carry their parameters, so stronger ones can come later. Hashing
//! runs on the blocking pool: it takes tens of milliseconds of CPU.
//!
//! Several instances: sessions are in the database, so any instance checks
//! any session. Two things here are per process and need a shared channel
//! then: the [`LoginLimits`] (each instance counts its own failures, so the
//! limits multiply by the number of instances) and the [`Revocations`] (a
//! revoked session's stream on another instance learns of it only from its
//! periodic re-check, within [`SESSION_RECHECK`]; PostgreSQL's
//! `LISTEN`/`NOTIFY` can carry the revoked ids between instances).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use messenger_wire::{AgentAccount, ErrorCode, NewAgent};
use tokio::sync::broadcast;

use crate::feed::{Feed, FeedEvent};
use crate::ids;
use crate::store::{AgentRecord, Store};

/// A session ends after this long without use…
pub const SESSION_IDLE_MS: i64 = 30 * 24 * 3600 * 1000;
/// …and this long after sign-in at the latest.
pub const SESSION_MAX_MS: i64 = 90 * 24 * 3600 * 1000;
/// A session's last use is written at most this often.
pub const SESSION_TOUCH_MS: i64 = 60 * 1000;
/// How often an open inbox stream re-checks its session in the database,
/// besides hearing of revocations at once in this process.
pub const SESSION_RECHECK: Duration = Duration::from_secs(60);

/// Failed logins allowed per email, and per client address, in
/// [`LOGIN_WINDOW`]; one more is answered 429.
pub const LOGIN_FAILURES_PER_EMAIL: usize = 5;
pub const LOGIN_FAILURES_PER_ADDRESS: usize = 20;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

const MAX_EMAIL_LEN: usize = 254;
const MAX_NAME_CHARS: usize = 100;

/// Why an agent could not be created.
#[derive(Debug)]
pub enum CreateError {
    /// The email, the name or the password breaks a rule (which one is the code).
    Invalid(ErrorCode, &'static str),
    EmailTaken,
    Database(sqlx::Error),
}

impl std::fmt::Display for CreateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CreateError::Invalid(_, why) => f.write_str(why),
            CreateError::EmailTaken => f.write_str("an agent with this email already exists"),
            CreateError::Database(err) => write!(f, "database error: {err}"),
        }
    }
}

impl std::error::Error for CreateError {}

impl From<sqlx::Error> for CreateError {
    fn from(err: sqlx::Error) -> Self {
        CreateError::Database(err)
    }
}

/// An email as stored and looked up: trimmed and lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: `local@domain`, no spaces, at most 254 bytes. (Not
/// a full RFC 5322 parser: an admin types it, and nothing is sent to it.)
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Creates an agent account, after checking its email, name and password.
pub async fn create_agent(
    store: &Store,
    new: NewAgent,
    now: i64,
) -> Result<AgentAccount, CreateError> {
    let email = normalize_email(&new.email);
    if !valid_email(&email) {
        return Err(CreateError::Invalid(
            ErrorCode::InvalidInput,
            "the email must look like name@example.com",
        ));
    }
    let name = new.name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(CreateError::Invalid(
            ErrorCode::InvalidInput,
            "the name must be 1 to 100 characters",
        ));
    }
    messenger_wire::validate_password(&new.password)
        .map_err(|code| CreateError::Invalid(code, "the password must be 12 to 1024 characters"))?;
    // A clear answer without hashing first; the insert still decides races.
    if store.agent_by_email(&email).await?.is_some() {
        return Err(CreateError::EmailTaken);
    }
    let account = AgentAccount {
        id: ids::agent_id(),
        email,
        name,
        role: new.role,
        created_at: now,
        disabled_at: None,
    };
    let hash = hash_password(new.password).await;
    if store.insert_agent(&account, &hash).await? {
        Ok(account)
    } else {
        Err(CreateError::EmailTaken)
    }
}

/// The enabled agent with this email and password, if any. An unknown email
/// costs the same hashing as a wrong password, so timing does not tell which
/// emails have accounts.
pub async fn check_login(
    store: &Store,
    email: &str,
    password: &str,
) -> Result<Option<AgentRecord>, sqlx::Error> {
    let record = store.agent_by_email(&normalize_email(email)).await?;
    let hash = match &record {
        Some(record) => record.password_hash.clone(),
        None => dummy_hash().to_owned(),
    };
    let matches = verify_password(hash, password.to_owned()).await;
    Ok(record.filter(|r| matches && r.account.disabled_at.is_none()))
}

/// Hashes a password with argon2id and a fresh 128-bit salt, as a PHC string.
pub async fn hash_password(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .expect("password hashing panicked")
}

/// Whether `password` matches the PHC string `hash`.
pub async fn verify_password(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || verify_now(&hash, &password))
        .await
        .unwrap_or(false)
}

fn hash_now(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters accepts any password")
        .to_string()
}

fn verify_now(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of a random password, verified against when the email is unknown.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now(&ids::session_token()))
}

/// Counts attempts per key in a sliding window: at most `limit` within
/// `window`. In-process (see the module's note on several instances).
pub struct RateLimiter {
    limit: usize,
    window_ms: i64,
    attempts: Mutex<HashMap<String, VecDeque<i64>>>,
}

/// Keys kept before stale ones are swept out.
const SWEEP_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(limit: usize, window: Duration) -> Self {
        RateLimiter {
            limit,
            window_ms: window.as_millis() as i64,
            attempts: Mutex::default(),
        }
    }

    /// Counts an attempt for `key` at `now` (Unix ms), or, when `limit`
    /// attempts are already within the window, refuses it and says in how
    /// many milliseconds the oldest of them leaves the window. An attempt is
    /// counted before it is judged, so a burst of parallel attempts cannot
    /// slip through; one that turns out fine is given back with
    /// [`RateLimiter::forgive`].
    pub fn acquire(&self, key: &str, now: i64) -> Result<(), i64> {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if attempts.len() > SWEEP_ABOVE {
            attempts.retain(|_, times| times.back().is_some_and(|t| now - t < self.window_ms));
        }
        let times = attempts.entry(key.to_owned()).or_default();
        while times.front().is_some_and(|t| now - t >= self.window_ms) {
            times.pop_front();
        }
        if times.len() >= self.limit {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + self.window_ms - now).max(1));
        }
        times.push_back(now);
        Ok(())
    }

    /// Takes back the latest attempt of `key` (it did not fail).
    pub fn forgive(&self, key: &str) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = attempts.get_mut(key) {
            times.pop_back();
        }
    }

    /// Forgets every attempt of `key`.
    pub fn clear(&self, key: &str) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.remove(key);
    }
}

/// The limits on failed logins: per email (guessing one account's password)
/// and per client address (trying many accounts). The address is the TCP
/// peer's; behind a reverse proxy that is the proxy, until a trusted-proxy
/// setting comes with the hardening work.
pub struct LoginLimits {
    pub by_email: RateLimiter,
    pub by_address: RateLimiter,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            by_email: RateLimiter::new(LOGIN_FAILURES_PER_EMAIL, LOGIN_WINDOW),
            by_address: RateLimiter::new(LOGIN_FAILURES_PER_ADDRESS, LOGIN_WINDOW),
        }
    }
}

/// Announces revoked sessions and agent API keys (by id: `s_…` and `k_…`
/// never collide) to the open streams of this process, which end at once;
/// and, with PostgreSQL, through the live feed to every other instance's
/// (which otherwise notice within [`SESSION_RECHECK`]).
#[derive(Clone)]
pub struct Revocations(Arc<broadcast::Sender<Arc<str>>>, Option<Feed>);

impl Default for Revocations {
    fn default() -> Self {
        Revocations(Arc::new(broadcast::Sender::new(1024)), None)
    }
}

impl Revocations {
    /// Revocations that also travel on `feed` (to the other instances).
    pub fn with_feed(feed: Feed) -> Self {
        Revocations(Arc::new(broadcast::Sender::new(1024)), Some(feed))
    }
}

/// What a stream was opened with.
enum Credential {
    Session(String),
    ApiKey(String),
}

impl Credential {
    fn id(&self) -> &str {
        match self {
            Credential::Session(id) | Credential::ApiKey(id) => id,
        }
    }

    async fn is_active(&self, store: &Store) -> Result<bool, sqlx::Error> {
        match self {
            Credential::Session(id) => store.session_is_active(id, crate::now_ms()).await,
            Credential::ApiKey(id) => store.api_key_is_active(id).await,
        }
    }
}

impl Revocations {
    /// Announces revoked sessions or API keys by id.
    pub fn revoke(&self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            if let Some(feed) = self.1.as_ref().filter(|f| f.remote().is_some()) {
                feed.publish(FeedEvent::Revoked(id.clone()));
            }
            // No receiver (no stream open) is fine.
            let _ = self.0.send(id.into());
        }
    }

    /// Completes when the session is revoked: announced here, or found gone
    /// (or its agent disabled) by a re-check every [`SESSION_RECHECK`] or
    /// after missed announcements. It listens from the moment it is called,
    /// so a caller that checks the session afterwards misses nothing.
    pub fn ended(
        &self,
        store: Store,
        session_id: String,
    ) -> impl Future<Output = ()> + Send + use<> {
        self.ended_for(store, Credential::Session(session_id))
    }

    /// [`Revocations::ended`] for an agent API key: completes when the key
    /// is revoked.
    pub fn key_revoked(
        &self,
        store: Store,
        key_id: String,
    ) -> impl Future<Output = ()> + Send + use<> {
        self.ended_for(store, Credential::ApiKey(key_id))
    }

    fn ended_for(
        &self,
        store: Store,
        credential: Credential,
    ) -> impl Future<Output = ()> + Send + use<> {
        let mut revoked = self.0.subscribe();
        let mut feed = self.1.as_ref().map(Feed::subscribe);
        async move {
            let mut recheck = tokio::time::interval(SESSION_RECHECK);
            recheck.tick().await;
            loop {
                let check = tokio::select! {
                    received = revoked.recv() => match received {
                        Ok(id) if *id == *credential.id() => return,
                        Ok(_) => false,
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    received = async {
                        match feed.as_mut() {
                            Some(feed) => feed.recv().await,
                            None => std::future::pending().await,
                        }
                    } => match received {
                        Ok(FeedEvent::Revoked(id)) if id == credential.id() => return,
                        Ok(FeedEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Ok(_) => false,
                        Err(broadcast::error::RecvError::Closed) => {
                            feed = None;
                            false
                        }
                    },
                    _ = recheck.tick() => true,
                };
                if check {
                    // A failed check keeps the stream; the next one decides.
                    if let Ok(false) = credential.is_active(&store).await {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn the_limiter_refuses_beyond_the_limit_within_the_window() {
        let limiter = RateLimiter::new(5, Duration::from_secs(15 * 60));
        for i in 0..5 {
            assert_eq!(limiter.acquire("a@example.com", i * MINUTE), Ok(()));
        }
        // The oldest attempt (at 0) leaves the window at 15 minutes.
        assert_eq!(
            limiter.acquire("a@example.com", 5 * MINUTE),
            Err(10 * MINUTE)
        );
        assert_eq!(limiter.acquire("b@example.com", 5 * MINUTE), Ok(()));
    }

    #[test]
    fn attempts_leave_the_window_one_by_one() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert_eq!(limiter.acquire("k", 0), Ok(()));
        assert_eq!(limiter.acquire("k", 30_000), Ok(()));
        assert_eq!(limiter.acquire("k", 59_999), Err(1));
        // The first attempt is out; the second (at 30 s) still counts.
        assert_eq!(limiter.acquire("k", 60_000), Ok(()));
        assert_eq!(limiter.acquire("k", 60_001), Err(29_999));
    }

    #[test]
    fn refused_attempts_do_not_count() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60));
        assert_eq!(limiter.acquire("k", 0), Ok(()));
        for t in 1..100 {
            assert!(limiter.acquire("k", t * 100).is_err());
        }
        assert_eq!(limiter.acquire("k", 60_000), Ok(()));
    }

    #[test]
    fn forgiven_and_cleared_attempts_no_longer_count() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        limiter.acquire("k", 0).unwrap();
        limiter.acquire("k", 1).unwrap();
        limiter.forgive("k");
        assert_eq!(limiter.acquire("k", 2), Ok(()));
        assert!(limiter.acquire("k", 3).is_err());
        limiter.clear("k");
        assert_eq!(limiter.acquire("k", 4), Ok(()));
    }

    #[test]
    fn stale_keys_are_swept_when_there_are_many() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60));
        for i in 0..=SWEEP_ABOVE {
            limiter.acquire(&format!("k{i}"), 0).unwrap();
        }
        limiter.acquire("late", 10 * MINUTE).unwrap();
        assert!(limiter.attempts.lock().unwrap().len() <= 2);
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_now("correct horse battery");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_now(&hash, "correct horse battery"));
        assert!(!verify_now(&hash, "correct horse battery!"));
        assert!(!verify_now("not a hash", "correct horse battery"));
        assert_ne!(hash, hash_now("correct horse battery"), "salted");
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(normalize_email("  Ann@Example.COM "), "ann@example.com");
        assert!(valid_email("ann@example.com"));
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
