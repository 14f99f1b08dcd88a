//! actix-session's `SessionStore` backed by Joinery's database, so sessions are shared by every
//! instance and end the moment their row is deleted (DESIGN.md, "Security rules").
//!
//! The cookie carries a 64-character random key; the table keeps only its SHA-256. The signed-in
//! user's id is copied into its own column so every session of a person can be ended at once.
//!
//! A signed-out visitor's session holds no more than a CSRF token and perhaps a message. It is
//! not written to the table: its state (with an expiry) travels in the cookie itself, which
//! actix-session encrypts and authenticates with the session key (`CookieContentSecurity::
//! Private`), so it can be neither read nor forged. Opening an invitation link or the log-in page
//! therefore writes nothing, and anonymous traffic cannot grow the table (issue 5, benchmark).
//! The moment the state names a user (signing in renews the session), it moves to the table.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use base64::Engine as _;
use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::db::{self, Db};
use crate::domain::token::fill_random;

/// The session state key that holds the signed-in user's id (JSON string).
pub const USER_ID_KEY: &str = "user_id";

/// Sessions stored in the `sessions` table.
#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    /// A store over `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn key_hash(key: &SessionKey) -> String {
    hex::encode(Sha256::digest(key.as_ref().as_bytes()))
}

fn user_id_of(state: &HashMap<String, String>) -> Option<String> {
    state
        .get(USER_ID_KEY)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
}

fn expiry(ttl: &Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(ttl.whole_seconds())
}

/// Marks a key that carries a signed-out session's state instead of naming a row.
const COOKIE_STATE_PREFIX: &str = "c.";
/// The largest signed-out state carried in the cookie, in bytes of JSON; larger goes to the table.
const MAX_COOKIE_STATE_BYTES: usize = 1_024;

/// A signed-out session's state as carried in its key.
#[derive(serde::Serialize, serde::Deserialize)]
struct CookieState {
    /// When it stops being valid, Unix seconds.
    exp: i64,
    /// The state.
    state: HashMap<String, String>,
}

/// The key carrying `state`, when it is a signed-out session small enough for the cookie.
fn cookie_key(state: &HashMap<String, String>, ttl: &Duration) -> Option<SessionKey> {
    if user_id_of(state).is_some() {
        return None;
    }
    let json = serde_json::to_vec(&CookieState {
        exp: expiry(ttl).timestamp(),
        state: state.clone(),
    })
    .ok()?;
    if json.len() > MAX_COOKIE_STATE_BYTES {
        return None;
    }
    let text = format!(
        "{COOKIE_STATE_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    );
    SessionKey::try_from(text).ok()
}

/// The state a cookie-carried key holds: `None` if `key` names a row; `Some(None)` if it has
/// expired or cannot be read.
fn cookie_state(key: &SessionKey) -> Option<Option<HashMap<String, String>>> {
    let encoded = key.as_ref().strip_prefix(COOKIE_STATE_PREFIX)?;
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|json| serde_json::from_slice::<CookieState>(&json).ok())
        .filter(|c| c.exp > Utc::now().timestamp())
        .map(|c| c.state);
    Some(state)
}

fn new_key() -> Result<SessionKey, anyhow::Error> {
    let mut bytes = [0u8; 48];
    fill_random(&mut bytes);
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    SessionKey::try_from(text).map_err(|e| anyhow::anyhow!("{e}"))
}

impl SessionStore for DbSessionStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        if let Some(state) = cookie_state(session_key) {
            return Ok(state);
        }
        let hash = key_hash(session_key);
        let state = self
            .db
            .run(move |c| db::sessions::load(c, &hash, Utc::now()))
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        match state {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(
        &self,
        session_state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, SaveError> {
        if let Some(key) = cookie_key(&session_state, ttl) {
            return Ok(key);
        }
        let text = serde_json::to_string(&session_state)
            .map_err(|e| SaveError::Serialization(e.into()))?;
        let key = new_key().map_err(SaveError::Other)?;
        let hash = key_hash(&key);
        let user = user_id_of(&session_state);
        let expires = expiry(ttl);
        self.db
            .run(move |c| db::sessions::insert(c, &hash, user.as_deref(), &text, expires))
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        if cookie_state(&session_key).is_some() {
            // Carried in the cookie: a changed state is a new key (or, once it names a user
            // or outgrows the cookie, a new row).
            return self.save(session_state, ttl).await.map_err(|e| match e {
                SaveError::Serialization(e) => UpdateError::Serialization(e),
                SaveError::Other(e) => UpdateError::Other(e),
            });
        }
        let text = serde_json::to_string(&session_state)
            .map_err(|e| UpdateError::Serialization(e.into()))?;
        let hash = key_hash(&session_key);
        let user = user_id_of(&session_state);
        let expires = expiry(ttl);
        let existed = {
            let (hash, user, text) = (hash.clone(), user.clone(), text.clone());
            self.db
                .run(move |c| db::sessions::update(c, &hash, user.as_deref(), &text, expires))
                .await
                .map_err(|e| UpdateError::Other(e.into()))?
        };
        if existed {
            Ok(session_key)
        } else {
            // The row was deleted (log-out elsewhere, expiry): start a new session rather than
            // resurrect the old key.
            self.save(session_state, ttl).await.map_err(|e| match e {
                SaveError::Serialization(e) => UpdateError::Serialization(e),
                SaveError::Other(e) => UpdateError::Other(e),
            })
        }
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        if cookie_state(session_key).is_some() {
            // Its expiry travels in the key, which this call cannot replace; the state is
            // re-issued with a fresh expiry whenever it changes.
            return Ok(());
        }
        let hash = key_hash(session_key);
        let expires = expiry(ttl);
        self.db
            .run(move |c| db::sessions::touch(c, &hash, expires))
            .await?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        if cookie_state(session_key).is_some() {
            // No row: forgetting the cookie is all there is.
            return Ok(());
        }
        let hash = key_hash(session_key);
        self.db.run(move |c| db::sessions::delete(c, &hash)).await?;
        Ok(())
    }
}
