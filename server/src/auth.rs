//! Master password, JWT sessions and the login rate limiter.
//!
//! The password hash lives in the `settings` table, the signing secret in `DATA_DIR/jwt_secret`
//! (0600), or, on a PostgreSQL database shared by several instances, in the `settings` table too
//! (every instance signs and checks with the same key). Every token names a session row; logout
//! revokes it. Neither the hash nor the secret is ever put into a response or a log line.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use aniworld_core::storage::{Dialect, Store, now};
use aniworld_core::{Error, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorCode};
use crate::redis_link::RedisLink;

const PASSWORD_SETTING: &str = "auth.master_password_hash";
const SECRET_FILE: &str = "jwt_secret";
/// Where the signing secret lives on a shared (PostgreSQL) database.
pub const SECRET_SETTING: &str = "auth.jwt_secret";
/// How long a session found live is trusted without asking the database again, when other
/// instances may revoke it (a logout there).
const SHARED_SESSION_RECHECK: Duration = Duration::from_secs(2);
const MIN_PASSWORD_CHARS: usize = 8;
/// bcrypt only looks at the first 72 bytes; longer passwords would silently collide.
const MAX_PASSWORD_BYTES: usize = 72;
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// How often a running server forgets expired sessions.
pub const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// What a token carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// Session id (row in `sessions`).
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

/// A freshly issued token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub session_id: String,
    pub expires_at: i64,
}

pub struct AuthService {
    store: Store,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Sessions known to be live: id → (expiry, when last read). Saves a database read per
    /// request.
    live_sessions: RwLock<HashMap<String, (i64, Instant)>>,
    /// How long a cached session is trusted: for ever with one instance, briefly when others
    /// share the database (and may revoke it).
    session_recheck: Option<Duration>,
    /// Login attempts per client address within the last [`RATE_WINDOW`].
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    /// Counts attempts across instances (`database.redis_url`); the local counter is used while
    /// it cannot answer.
    shared_limiter: Option<RedisLink>,
    /// Whether the last attempt fell back to the local counter (logged once per change).
    limiter_fallback: AtomicBool,
    /// bcrypt runs at once: each takes a core for a quarter second or more.
    hashing: tokio::sync::Semaphore,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService").finish_non_exhaustive()
    }
}

/// Reads `DATA_DIR/jwt_secret`, generating it (32 random bytes, hex, mode 0600) on first start.
pub fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret = text.trim().as_bytes().to_vec();
            if secret.len() < 32 {
                return Err(Error::invalid(
                    path.display().to_string(),
                    "the JWT secret file is too short (delete it to generate a new one)",
                ));
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes: [u8; 32] = rand::random();
            let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&path).map_err(|e| Error::io(&path, e))?;
            file.write_all(secret.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io(&path, e))?;
            tracing::info!(path = %path.display(), "generated a new JWT signing secret");
            Ok(secret.into_bytes())
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The signing secret for `store`: the data dir's file on SQLite; on PostgreSQL the one in the
/// `settings` table, created by the first instance that starts (racing starts agree: only the
/// first write wins).
pub async fn load_or_create_shared_secret(store: &Store, data_dir: &Path) -> Result<Vec<u8>> {
    if store.dialect() == Dialect::Sqlite {
        return load_or_create_secret(data_dir);
    }
    if let Some(secret) = store.settings().get(SECRET_SETTING).await? {
        return Ok(secret.into_bytes());
    }
    let bytes: [u8; 32] = rand::random();
    let candidate: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if store
        .settings()
        .set_if_absent(SECRET_SETTING, &candidate)
        .await?
    {
        tracing::info!("generated a new JWT signing secret in the shared database");
    }
    store
        .settings()
        .get(SECRET_SETTING)
        .await?
        .map(String::into_bytes)
        .ok_or_else(|| Error::NotFound("the JWT signing secret".into()))
}

fn check_password_shape(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("the password needs at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(
            "password",
            format!("the password may have at most {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

impl AuthService {
    pub fn new(store: Store, secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        AuthService {
            session_recheck: (store.dialect() != Dialect::Sqlite).then_some(SHARED_SESSION_RECHECK),
            store,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            live_sessions: RwLock::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            shared_limiter: None,
            limiter_fallback: AtomicBool::new(false),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8)),
            ),
        }
    }

    /// Counts login attempts in Redis, so the limit holds across instances.
    pub fn with_shared_limiter(mut self, redis: Option<RedisLink>) -> Self {
        self.shared_limiter = redis;
        self
    }

    pub async fn is_setup(&self) -> Result<bool> {
        Ok(self.store.settings().get(PASSWORD_SETTING).await?.is_some())
    }

    /// Sets the master password; refused (409) once one is set.
    pub async fn setup(&self, password: String, bcrypt_cost: u32) -> Result<(), ApiError> {
        // Once set, every setup is the same 409, whatever password it carries.
        if self.is_setup().await? {
            return Err(already_set_up());
        }
        check_password_shape(&password)?;
        let hash = self
            .bcrypt("password hashing", move || {
                bcrypt::hash(password, bcrypt_cost)
            })
            .await?
            .map_err(|e| ApiError::internal(format!("password hashing failed: {e}")))?;
        if self
            .store
            .settings()
            .set_if_absent(PASSWORD_SETTING, &hash)
            .await?
        {
            tracing::info!("master password set");
            Ok(())
        } else {
            Err(already_set_up())
        }
    }

    /// Counts a login attempt of `client` before its password is checked, across instances when
    /// Redis is configured and answers, else in this process.
    async fn reserve_attempt(&self, client: Option<IpAddr>, max_failures: u32) -> Result<(), u64> {
        let (Some(redis), Some(addr)) = (&self.shared_limiter, client) else {
            return self.reserve_local_attempt(client, max_failures);
        };
        match redis
            .reserve_login_attempt(&addr.to_string(), max_failures, RATE_WINDOW)
            .await
        {
            Ok(decision) => {
                if self.limiter_fallback.swap(false, Ordering::Relaxed) {
                    tracing::info!("login attempts are counted across instances again");
                }
                decision
            }
            Err(problem) => {
                if !self.limiter_fallback.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %problem, "Redis cannot count login attempts: counting them on this instance only");
                }
                self.reserve_local_attempt(client, max_failures)
            }
        }
    }

    /// Counts a login attempt of `client` before its password is checked, so parallel attempts
    /// cannot all pass the check: `Err(seconds)` when the client already used up its
    /// `max_failures` for the window. A successful login forgets the client's attempts.
    fn reserve_local_attempt(&self, client: Option<IpAddr>, max_failures: u32) -> Result<(), u64> {
        let Some(client) = client else {
            return Ok(());
        };
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("rate limiter lock");
        // Bounded memory under a flood of addresses: forget everyone idle for a window.
        if failures.len() > 10_000 {
            failures.retain(|_, v| {
                v.back()
                    .is_some_and(|t| now.duration_since(*t) < RATE_WINDOW)
            });
        }
        let entries = failures.entry(client).or_default();
        while entries
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            entries.pop_front();
        }
        if entries.len() >= max_failures.max(1) as usize {
            let oldest = entries.front().copied().unwrap_or(now);
            let left = RATE_WINDOW.saturating_sub(now.duration_since(oldest));
            return Err(left.as_secs().max(1) + u64::from(left.subsec_nanos() > 0));
        }
        entries.push_back(now);
        Ok(())
    }

    /// Runs a bcrypt operation on the blocking pool, at most [`AuthService::hashing`] at once.
    async fn bcrypt<T: Send + 'static>(
        &self,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| ApiError::internal(format!("{what} is shut down")))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| ApiError::internal(format!("{what} task failed: {e}")))
    }

    /// Checks the password and issues a token bound to a new session.
    pub async fn login(
        &self,
        password: String,
        client: Option<IpAddr>,
        ttl_secs: u64,
        max_failures: u32,
    ) -> Result<IssuedToken, ApiError> {
        let Some(hash) = self.store.settings().get(PASSWORD_SETTING).await? else {
            return Err(ApiError::conflict(
                ErrorCode::SetupRequired,
                "no master password is set yet; call POST /api/auth/setup first",
            ));
        };
        if let Err(secs) = self.reserve_attempt(client, max_failures).await {
            tracing::warn!(client = ?client, "login refused: rate limited");
            return Err(ApiError::rate_limited(secs));
        }
        let ok = self
            .bcrypt("password check", move || bcrypt::verify(password, &hash))
            .await?
            .unwrap_or(false);
        if !ok {
            tracing::warn!(client = ?client, "failed login");
            return Err(ApiError::unauthorized("wrong password"));
        }
        if let Some(c) = client {
            self.failures.lock().expect("rate limiter lock").remove(&c);
            if let Some(redis) = &self.shared_limiter
                && let Err(e) = redis.forget_login_attempts(&c.to_string()).await
            {
                tracing::debug!(error = %e, "Redis did not forget the login attempts");
            }
        }
        let iat = now();
        let exp = iat.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
        let sid = uuid::Uuid::new_v4().to_string();
        let claims = Claims {
            sub: "admin".to_owned(),
            sid: sid.clone(),
            iat,
            exp,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(format!("cannot sign token: {e}")))?;
        let client_text = client.map(|c| c.to_string());
        self.store
            .sessions()
            .create(&sid, client_text.as_deref(), exp)
            .await?;
        self.live_sessions
            .write()
            .expect("session cache lock")
            .insert(sid.clone(), (exp, Instant::now()));
        Ok(IssuedToken {
            token,
            session_id: sid,
            expires_at: exp,
        })
    }

    /// Validates a token: signature, expiry, and a live (unrevoked) session.
    pub async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::unauthorized("invalid or expired token"))?;
        let claims = data.claims;
        let t = now();
        let cached = self
            .live_sessions
            .read()
            .expect("session cache lock")
            .get(&claims.sid)
            .copied();
        let fresh = |read: Instant| self.session_recheck.is_none_or(|d| read.elapsed() < d);
        match cached {
            Some((exp, read)) if exp > t && fresh(read) => return Ok(claims),
            Some((exp, _)) if exp > t => {}
            Some(_) => {
                self.live_sessions
                    .write()
                    .expect("session cache lock")
                    .remove(&claims.sid);
                return Err(ApiError::unauthorized("session expired"));
            }
            None => {}
        }
        match self.store.sessions().get(&claims.sid).await? {
            Some(s) if s.is_valid_at(t) => {
                self.live_sessions
                    .write()
                    .expect("session cache lock")
                    .insert(s.id, (s.expires_at, Instant::now()));
                Ok(claims)
            }
            _ => {
                self.live_sessions
                    .write()
                    .expect("session cache lock")
                    .remove(&claims.sid);
                Err(ApiError::unauthorized("session revoked or expired"))
            }
        }
    }

    pub async fn logout(&self, session_id: &str) -> Result<()> {
        self.live_sessions
            .write()
            .expect("session cache lock")
            .remove(session_id);
        self.store.sessions().revoke(session_id).await?;
        Ok(())
    }
}

/// Forgets expired sessions every `interval` (the first time at once), for as long as the task
/// runs; the caller aborts it at shutdown.
pub fn spawn_session_purge(store: Store, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // One instance at a time when several share the database.
            let _job = match store.try_singleton("session-purge").await {
                Ok(Some(guard)) => guard,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot forget expired login sessions");
                    continue;
                }
            };
            match store.sessions().purge_expired(now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "forgot expired login sessions"),
                Err(e) => tracing::warn!(error = %e, "cannot forget expired login sessions"),
            }
        }
    })
}

fn already_set_up() -> ApiError {
    ApiError::conflict(
        ErrorCode::AlreadySetup,
        "the master password is already set; log in instead",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expired_sessions_are_purged_while_the_server_runs() {
        let store = Store::open_memory().await.unwrap();
        let purge = spawn_session_purge(store.clone(), Duration::from_millis(50));
        // The first purge runs at once; these sessions come after it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        store
            .sessions()
            .create("old", None, now() - 10)
            .await
            .unwrap();
        store
            .sessions()
            .create("live", None, now() + 3600)
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut gone = false;
        while std::time::Instant::now() < deadline {
            if store.sessions().get("old").await.unwrap().is_none() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        purge.abort();
        assert!(gone, "the expired session was never purged");
        assert!(store.sessions().get("live").await.unwrap().is_some());
    }
}
