//! One-shot messages shown on the next page after a redirect ("You joined Acme as Editor").
//! They travel in an encrypted cookie (see [`super::session`]), so showing one never writes
//! to the database, for signed-in and signed-out visitors alike.

use serde::{Deserialize, Serialize};

use super::session::Session;

/// A message for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flash {
    /// `success`, `info` or `error`: the styling and the ARIA role.
    pub kind: String,
    /// The message.
    pub text: String,
}

/// Queues a success message.
pub fn success(session: &Session, text: impl Into<String>) {
    set(session, "success", text.into());
}

/// Queues an error message.
pub fn error(session: &Session, text: impl Into<String>) {
    set(session, "error", text.into());
}

/// Queues an informational message.
pub fn info(session: &Session, text: impl Into<String>) {
    set(session, "info", text.into());
}

fn set(session: &Session, kind: &str, text: String) {
    session.set_flash(Flash {
        kind: kind.into(),
        text,
    });
}

/// Takes the pending message, if any.
pub fn take(session: &Session) -> Option<Flash> {
    session.take_flash()
}
