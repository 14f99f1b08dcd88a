//! actix-session's `SessionStore` backed by Joinery's database, so sessions are shared by every
//! instance and end the moment their row is deleted (DESIGN.md, "Security rules").
//!
//! The cookie carries a 64-character random key; the table keeps only its SHA-256. The signed-in
//! user's id is copied into its own column so every session of a person can be ended at once.

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
        let hash = key_hash(session_key);
        let state = self
            .db
            .read(move |c| db::sessions::load(c, &hash, Utc::now()))
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
        let text = serde_json::to_string(&session_state)
            .map_err(|e| UpdateError::Serialization(e.into()))?;
        let hash = key_hash(&session_key);
        let user = user_id_of(&session_state);
        let expires = expiry(ttl);
        let existed = self
            .db
            .run(move |c| db::sessions::update(c, &hash, user.as_deref(), &text, expires))
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        if !existed {
            // The row was deleted while this request ran (log-out, password change, removal
            // from the last organization): it stays deleted. The cookie keeps naming a key
            // with no row, so the browser is signed out from its next request on (DESIGN.md:
            // "a request in flight cannot bring an ended session back").
            tracing::info!("session ended during the request; its changes were not saved");
        }
        Ok(session_key)
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        let hash = key_hash(session_key);
        let expires = expiry(ttl);
        self.db
            .run(move |c| db::sessions::touch(c, &hash, expires))
            .await?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let hash = key_hash(session_key);
        self.db.run(move |c| db::sessions::delete(c, &hash)).await?;
        Ok(())
    }
}
