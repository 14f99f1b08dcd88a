//! What the app sent: emails read back from its mailbox directory, and waiting for its
//! outbox to be idle.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use joinery::db;

use super::TestApp;

/// A delivered email, parsed back from the `.eml` file.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub raw: String,
}

impl Email {
    /// The first link in the text part that points at an invitation.
    pub fn invitation_link(&self) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.contains("/invitations/"))
            .unwrap_or_else(|| panic!("no invitation link in: {}", self.text))
            .to_owned()
    }

    /// The path part of the invitation link (`/invitations/…`).
    pub fn invitation_path(&self) -> String {
        let link = self.invitation_link();
        link[link.find("/invitations/").unwrap()..].to_owned()
    }
}

impl TestApp {
    /// Waits (up to 10 s) for a not-yet-seen email to `to` and returns it.
    pub async fn email_to(&self, to: &str) -> Email {
        for _ in 0..200 {
            if let Some(email) = self.take_email(to) {
                return email;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        panic!("no email to {to} arrived");
    }

    /// Waits (up to 10 s) until the outbox has nothing to do at the app's clock: no email
    /// queued and due, none being sent. Every email the app could have sent by now has then
    /// been delivered (or given up). Checks that the mailbox holds exactly one file per email
    /// marked sent, so the mailbox read afterwards is the whole of what was delivered; for
    /// apps that deliver to the development mailbox, not over SMTP.
    pub async fn outbox_idle(&self) {
        use db::schema::outbox_emails::dsl::{next_attempt_at, outbox_emails, status};
        use diesel::prelude::*;
        let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
        loop {
            let now = self.clock_now().naive_utc();
            let busy: i64 = self.query(|c| {
                Ok(outbox_emails
                    .filter(
                        status
                            .eq("sending")
                            .or(status.eq("queued").and(next_attempt_at.le(now))),
                    )
                    .count()
                    .get_result(c)?)
            });
            if busy == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the outbox still has {busy} emails due or in flight after 10 s"
            );
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
        let sent: i64 = self.query(|c| {
            Ok(outbox_emails
                .filter(status.eq("sent"))
                .count()
                .get_result(c)?)
        });
        let files = std::fs::read_dir(&self.mailbox).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        });
        assert_eq!(
            i64::try_from(files).unwrap(),
            sent,
            "the mailbox holds one file per email the outbox marked sent"
        );
    }

    /// Whether, once the outbox is idle ([`Self::outbox_idle`]), no email to `to` has been
    /// delivered that [`Self::email_to`] has not already returned, and none is queued for
    /// later either.
    pub async fn no_email_to(&self, to: &str) -> bool {
        use db::schema::outbox_emails::dsl::{outbox_emails, recipient, status};
        use diesel::prelude::*;
        self.outbox_idle().await;
        let to_owned = to.to_owned();
        let queued_later: i64 = self.query(|c| {
            Ok(outbox_emails
                .filter(recipient.eq(to_owned).and(status.eq("queued")))
                .count()
                .get_result(c)?)
        });
        queued_later == 0 && self.take_email(to).is_none()
    }

    fn take_email(&self, to: &str) -> Option<Email> {
        let Ok(entries) = std::fs::read_dir(&self.mailbox) else {
            return None;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        let mut seen = self.seen_mail.lock().unwrap();
        for (_, path) in files {
            if seen.contains(&path) {
                continue;
            }
            let raw = std::fs::read_to_string(&path).ok()?;
            let msg = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
            let recipient = msg
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_owned();
            if recipient != to {
                continue;
            }
            seen.insert(path);
            return Some(Email {
                to: recipient,
                subject: msg.subject().unwrap_or_default().to_owned(),
                text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                html: msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
                raw,
            });
        }
        None
    }
}

pub use smtp_sink::SmtpServer;

#[path = "../../support/smtp_sink.rs"]
mod smtp_sink;
