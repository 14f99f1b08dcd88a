//! One-shot messages shown on the next page after a redirect ("You joined Acme as Editor").

use actix_session::Session;
use serde::{Deserialize, Serialize};

const KEY: &str = "flash";

/// A message for the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    // A failed write only loses the message, never the action that succeeded.
    if let Err(e) = session.insert(
        KEY,
        Flash {
            kind: kind.into(),
            text,
        },
    ) {
        tracing::warn!(error = %e, "could not store flash message");
    }
}

/// Takes the pending message, if any.
pub fn take(session: &Session) -> Option<Flash> {
    let flash = session.get::<Flash>(KEY).ok().flatten();
    if flash.is_some() {
        session.remove(KEY);
    }
    flash
}
