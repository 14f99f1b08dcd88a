//! A person's account (DESIGN.md, "Pages → Account").

use chrono::{DateTime, Utc};

use super::{EmailAddress, UserId};

/// A person's account.
#[derive(Debug, Clone)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its normalized email.
    pub email: EmailAddress,
    /// Display name.
    pub name: String,
    /// Whether this is platform staff.
    pub is_staff: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// An account together with its password hash, for log-in only.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The account.
    pub user: User,
    /// Its argon2id PHC string.
    pub password_hash: String,
}
