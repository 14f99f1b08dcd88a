//! Email: transports (SMTP, or a local mailbox directory for development), templates, the
//! outbox worker that delivers queued rows, and the reader behind `/dev/mailbox`.
//!
//! Every message is multipart text + HTML. User text reaches headers only through
//! [`header_safe`], so no CR/LF from a name can add a header.

pub mod mailbox;
pub mod outbox;
pub mod templates;

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

/// SMTP connections kept open to the relay at most (lettre's pool; its default is 10): one
/// per message in flight ([`outbox::DELIVERY_CONCURRENCY`]).
pub const SMTP_CONNECTIONS: u32 = 48;

impl MailError {
    /// Whether the SMTP server refused the message for good (a 5xx reply, e.g. "550 mailbox
    /// unavailable"): trying again cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Smtp(e) if e.is_permanent())
    }
}

/// A rendered email ready for a transport.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    /// The recipient's address.
    pub to: String,
    /// The subject (made header-safe when built).
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// What can go wrong sending an email.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address did not parse.
    #[error("invalid address: {0}")]
    Address(#[from] lettre::address::AddressError),
    /// The message could not be built.
    #[error("could not build message: {0}")]
    Build(#[from] lettre::error::Error),
    /// SMTP delivery failed.
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// Writing to the mailbox directory failed.
    #[error("mailbox delivery failed: {0}")]
    File(#[from] lettre::transport::file::Error),
    /// A template failed to render.
    #[error("template failed: {0}")]
    Template(#[from] askama::Error),
    /// The SMTP URL is not usable.
    #[error("invalid SMTP URL: {0}")]
    Config(String),
}

/// Replaces control characters (CR, LF, …) with spaces so user text is safe in a header.
///
/// It also puts an invisible word joiner (U+2060) inside every `=?`: lettre writes ASCII words
/// as they are, so a name typed as an RFC 2047 encoded word (`=?utf-8?q?=0D=0ABcc:…?=`) would
/// otherwise be decoded by the reader's mail client — line breaks included.
pub fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace("=?", "=\u{2060}?")
}

/// Where email goes.
#[derive(Clone)]
pub enum Transport {
    /// A real SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a directory, listed by `/dev/mailbox`.
    Mailbox(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// Sends rendered emails from one sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Mailer {
    /// A mailer over SMTP, from a URL such as `smtp://user:pass@host:587?tls=required` or
    /// `smtp://127.0.0.1:2525` (lettre's URL syntax).
    ///
    /// # Errors
    /// [`MailError::Config`] for a bad URL, [`MailError::Address`] for a bad `from`.
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config(e.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .pool_config(PoolConfig::new().max_size(SMTP_CONNECTIONS))
            .build();
        Ok(Self {
            transport: Transport::Smtp(transport),
            from: from.parse()?,
        })
    }

    /// A mailer writing `.eml` files into `dir` (created if missing).
    ///
    /// # Errors
    /// [`MailError::Address`] for a bad `from`; [`MailError::Config`] if `dir` cannot be made.
    pub fn mailbox(dir: PathBuf, from: &str) -> Result<Self, MailError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| MailError::Config(format!("{}: {e}", dir.display())))?;
        Ok(Self {
            transport: Transport::Mailbox(AsyncFileTransport::new(&dir), dir),
            from: from.parse()?,
        })
    }

    /// The mailbox directory, when this mailer writes files.
    pub fn mailbox_dir(&self) -> Option<&PathBuf> {
        match &self.transport {
            Transport::Mailbox(_, dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    /// Builds and sends one multipart (text + HTML) message.
    ///
    /// # Errors
    /// [`MailError`] when the message cannot be built or the transport refuses it.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(email.to.parse()?)
            .subject(header_safe(&email.subject))
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(message).await?;
            }
            Transport::Mailbox(t, _) => {
                t.send(message).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_safe_removes_line_breaks_and_encoded_words() {
        assert_eq!(header_safe("Eve\r\nBcc: x@y.z"), "Eve  Bcc: x@y.z");
        let typed = "=?utf-8?q?=0D=0ABcc:_x@y.z?=";
        let safe = header_safe(typed);
        assert!(!safe.contains("=?"), "{safe}");
        assert_eq!(safe.replace('\u{2060}', ""), typed);
    }
}
