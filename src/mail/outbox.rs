//! The outbox worker: delivers queued email rows with exponential backoff and a bounded number
//! of attempts (DESIGN.md, "Reliability and scale"). An SMTP outage delays email, never loses it.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use futures_util::StreamExt as _;
use tokio::sync::{Notify, watch};

use super::templates::{
    DomainCodeEmail, InvitationBouncedEmail, InvitationEmail, JoinLinkEmail,
    JoinRequestAnswerEmail, JoinRequestEmail, MemberJoinedEmail, RenewalRequestEmail,
    SignupExistingEmail, SignupLinkEmail, TenantInvitationEmail, WebhookDisabledEmail,
};
use super::{MailError, Mailer, OutgoingEmail};
use crate::db::models::OutboxRow;
use crate::db::{self, Db, DbError};
use crate::domain::token::{LinkToken, TokenKey, TokenNonce};
use crate::domain::verified_domain::VerificationCode;
use crate::domain::{Clock, InvitationStatus};

/// Attempts before a row is marked failed for good.
pub const MAX_ATTEMPTS: i32 = 8;
/// Rows taken per batch.
pub const BATCH_SIZE: i64 = 96;
/// Messages of one batch in flight at once, each on its own pooled SMTP connection
/// ([`super::SMTP_CONNECTIONS`]). lettre writes a message's final `.` as a second small
/// write without `TCP_NODELAY`, so each message waits one delayed ACK (~40 ms on Linux) on
/// its connection while using no CPU: throughput comes from messages in flight (issue 16:
/// ≥ 1,000 emails/s from one instance).
pub const DELIVERY_CONCURRENCY: usize = 48;

/// The wait before retry number `attempts` (1-based): 10 s, 20 s, 40 s, … capped at one hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 12) - 1;
    Duration::seconds((10_i64 << exp).min(3_600))
}

/// What links in emails are made of: the configured base URL (no trailing slash), never the
/// request's Host, and the key every link's token derives under.
#[derive(Clone)]
pub struct MailLinks {
    /// The public base URL, e.g. `https://team.example.com`.
    pub base_url: String,
    /// The key of every link's token (`LinkToken::derive`).
    pub token_key: TokenKey,
}

impl MailLinks {
    /// The mailed link of the link whose token derives from `nonce`: the base URL and `path`
    /// of the token (each kind keeps its own path).
    fn token_link(&self, nonce: &TokenNonce, path: fn(&str) -> String) -> String {
        let token = LinkToken::derive(&self.token_key, nonce);
        format!("{}{}", self.base_url, path(token.expose()))
    }
}

/// Delivers outbox rows. Clone it freely; all clones share the wake-up signal.
#[derive(Clone)]
pub struct OutboxWorker {
    db: Db,
    mailer: Mailer,
    clock: Arc<dyn Clock>,
    links: MailLinks,
    poll_interval: StdDuration,
    wake: Arc<Notify>,
    lease: Duration,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl OutboxWorker {
    /// A worker; `links` is the only source of links in emails; an idle worker looks for due
    /// rows every `poll_interval`.
    pub fn new(
        db: Db,
        mailer: Mailer,
        clock: Arc<dyn Clock>,
        links: MailLinks,
        poll_interval: StdDuration,
    ) -> Self {
        Self {
            db,
            mailer,
            clock,
            links,
            poll_interval,
            wake: Arc::new(Notify::new()),
            lease: db::outbox::LEASE,
            metrics: None,
        }
    }

    /// The same worker claiming rows for `lease` (default [`db::outbox::LEASE`]): a task that
    /// dies holding rows keeps them from every other task this long.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The same worker counting what it sends, retries, gives up and cancels in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The signal [`OutboxWorker::wake`] sends, for code that only needs to wake the workers
    /// (the service layer).
    pub fn signal(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Asks the worker to look for due rows now (called after a commit that queued email).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until `shutdown` turns true, finishing the batch in hand before returning.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let full = match self.deliver_batch().await {
                Ok(n) => n as i64 == BATCH_SIZE,
                Err(e) => {
                    tracing::error!(error = %e, "outbox batch failed");
                    false
                }
            };
            // Checked after every batch: on shutdown only the batch in hand is finished; the
            // rest stays queued for the next start (or another instance).
            if *shutdown.borrow() {
                return;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Claims up to [`BATCH_SIZE`] due rows and delivers them; returns how many it handled.
    /// Rows claimed by another worker (in this instance or another) are never seen here.
    ///
    /// # Errors
    /// [`DbError`] if the outbox cannot be read or updated.
    pub async fn deliver_batch(&self) -> Result<usize, DbError> {
        let (now, lease) = (self.clock.now(), self.lease);
        let rows = self
            .db
            .run(move |c| db::outbox::claim_leased(c, now, BATCH_SIZE, lease))
            .await?;
        let handled = rows.len();
        // Several messages in flight: each SMTP exchange is a chain of round trips (and lettre
        // does not disable Nagle), so one-at-a-time delivery leaves the connection idle most
        // of the time. Each message still goes out exactly once: the rows are ours (leased).
        let results: Vec<Result<(), DbError>> = futures_util::stream::iter(rows)
            .map(|row| self.deliver(row))
            .buffer_unordered(DELIVERY_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, DbError>>()?;
        Ok(handled)
    }

    async fn deliver(&self, row: OutboxRow) -> Result<(), DbError> {
        let id = row.id.clone();
        let email = match self.render(&row).await? {
            Rendered::Email(email) => email,
            Rendered::Cancel(reason) => {
                self.db
                    .run(move |c| db::outbox::mark_cancelled(c, &id, reason))
                    .await?;
                if let Some(m) = &self.metrics {
                    m.email_cancelled(&row.kind);
                }
                return Ok(());
            }
        };
        let now = self.clock.now();
        match self.mailer.send(&email).await {
            Ok(()) => {
                // From here until `mark_sent` commits, the SMTP server has the message but the
                // row still says `sending`: a crash now sends it again once the lease runs out
                // (README, "Several instances"). The metric measures this window.
                let accepted = std::time::Instant::now();
                tracing::info!(outbox_id = %id, kind = %row.kind, "email delivered");
                self.db
                    .run(move |c| db::outbox::mark_sent(c, &id, now))
                    .await?;
                if let Some(m) = &self.metrics {
                    m.email_sent(&row.kind, accepted.elapsed());
                }
                Ok(())
            }
            Err(e) if e.is_permanent() => {
                // Refused for good (5xx): no retry. An invitation's email is marked bounced and
                // its inviter told (issue 15 §3).
                tracing::warn!(outbox_id = %id, error = %e, "email bounced");
                let error = e.to_string();
                let invitation = row
                    .invitation_id
                    .as_deref()
                    .and_then(|i| i.parse().ok())
                    .filter(|_| matches!(row.kind.as_str(), "invitation" | "invitation_reminder"));
                self.db
                    .run(move |c| match invitation {
                        Some(inv) => db::outbox::record_bounce(c, &id, inv, &error, now),
                        None => db::outbox::mark_attempt_failed(c, &id, &error, None),
                    })
                    .await?;
                if let Some(m) = &self.metrics {
                    m.email_bounced(&row.kind);
                }
                Ok(())
            }
            Err(e) => {
                let attempts = row.attempts + 1;
                let retry_at = (attempts < MAX_ATTEMPTS).then(|| now + backoff(attempts));
                tracing::warn!(outbox_id = %id, attempts, error = %e, "email delivery failed");
                let error = e.to_string();
                let retry = retry_at.is_some();
                self.db
                    .run(move |c| db::outbox::mark_attempt_failed(c, &id, &error, retry_at))
                    .await?;
                if let Some(m) = &self.metrics {
                    m.email_attempt_failed(&row.kind, retry);
                }
                Ok(())
            }
        }
    }

    async fn render(&self, row: &OutboxRow) -> Result<Rendered, DbError> {
        let rendered = match row.kind.as_str() {
            "invitation" => return self.render_invitation(row, false).await,
            "invitation_reminder" => return self.render_invitation(row, true).await,
            "invitation_bounced" => return self.render_bounce(row).await,
            "member_joined" => match serde_json::from_str::<MemberJoinedEmail>(&row.payload) {
                Ok(e) => e.render(&row.recipient, &self.links.base_url),
                Err(_) => return Ok(Rendered::Cancel("unreadable payload")),
            },
            "renewal_request" => match serde_json::from_str::<RenewalRequestEmail>(&row.payload) {
                Ok(e) => e.render(&row.recipient, &self.links.base_url),
                Err(_) => return Ok(Rendered::Cancel("unreadable payload")),
            },
            "webhook_disabled" => {
                match serde_json::from_str::<WebhookDisabledEmail>(&row.payload) {
                    Ok(e) => e.render(&row.recipient, &self.links.base_url),
                    Err(_) => return Ok(Rendered::Cancel("unreadable payload")),
                }
            }
            "join_request" => match serde_json::from_str::<JoinRequestEmail>(&row.payload) {
                Ok(e) => e.render(&row.recipient, &self.links.base_url),
                Err(_) => return Ok(Rendered::Cancel("unreadable payload")),
            },
            "join_request_answer" => {
                match serde_json::from_str::<JoinRequestAnswerEmail>(&row.payload) {
                    Ok(e) => e.render(&row.recipient, &self.links.base_url),
                    Err(_) => return Ok(Rendered::Cancel("unreadable payload")),
                }
            }
            "signup" => return self.render_signup(row).await,
            "signup_existing" => SignupExistingEmail {
                to: &row.recipient,
                login_link: &format!("{}{}", self.links.base_url, crate::paths::login()),
            }
            .render(),
            "tenant_invitation" => return self.render_tenant_invitation(row).await,
            "domain_code" => return self.render_domain_code(row).await,
            _ => return Ok(Rendered::Cancel("unknown email kind")),
        };
        Ok(Rendered::from(rendered))
    }

    /// The invitation email of `row`'s invitation — or, with `reminder`, its reminder — while it
    /// is pending; a cancellation otherwise (so reminders stop at once on accept, revoke,
    /// decline or expiry).
    async fn render_invitation(
        &self,
        row: &OutboxRow,
        reminder: bool,
    ) -> Result<Rendered, DbError> {
        let Some(invitation_id) = row.invitation_id.clone() else {
            return Ok(Rendered::Cancel("invitation email without invitation"));
        };
        let details = self
            .db
            .run(move |c| db::invitations::find_details(c, &invitation_id))
            .await?;
        let Some(d) = details else {
            return Ok(Rendered::Cancel("invitation no longer exists"));
        };
        if d.invitation.facts.effective_status(self.clock.now()) != InvitationStatus::Pending {
            return Ok(Rendered::Cancel("invitation is no longer pending"));
        }
        let link = self
            .links
            .token_link(&d.invitation.nonce, crate::paths::invitation);
        Ok(Rendered::from(
            InvitationEmail {
                to: d.invitation.email.as_str(),
                inviter_name: &d.inviter_name,
                inviter_email: &d.inviter_email,
                organization: &d.organization.name,
                role: d.invitation.role,
                message: d.invitation.message.as_deref(),
                link: &link,
                expires_at: d.invitation.facts.expires_at,
                reminder,
            }
            .render(),
        ))
    }

    /// "Your invitation to {address} bounced", to the inviter of `row`'s invitation.
    async fn render_bounce(&self, row: &OutboxRow) -> Result<Rendered, DbError> {
        let Some(invitation_id) = row.invitation_id.clone() else {
            return Ok(Rendered::Cancel("bounce email without invitation"));
        };
        let details = self
            .db
            .run(move |c| db::invitations::find_details(c, &invitation_id))
            .await?;
        let Some(d) = details else {
            return Ok(Rendered::Cancel("invitation no longer exists"));
        };
        let team_link = format!(
            "{}{}",
            self.links.base_url,
            crate::paths::team(d.organization.id)
        );
        Ok(Rendered::from(
            InvitationBouncedEmail {
                to: &row.recipient,
                invitee: d.invitation.email.as_str(),
                organization: &d.organization.name,
                team_link: &team_link,
            }
            .render(),
        ))
    }

    async fn render_signup(&self, row: &OutboxRow) -> Result<Rendered, DbError> {
        let Ok(payload) = serde_json::from_str::<db::signups::SignupPayload>(&row.payload) else {
            return Ok(Rendered::Cancel("unreadable payload"));
        };
        let found = self
            .db
            .run(move |c| {
                let Some(request) = db::signups::find(c, &payload.signup_request_id)? else {
                    return Ok(None);
                };
                let link = match request.invite_link_id {
                    Some(id) => db::invite_links::find_details(c, id)?,
                    None => None,
                };
                Ok(Some((request, link)))
            })
            .await?;
        let Some((request, invite_link)) = found else {
            return Ok(Rendered::Cancel("sign-up request no longer exists"));
        };
        let now = self.clock.now();
        // A link used or expired meanwhile would only lead to an error page.
        if request.facts.check_usable(now).is_err() {
            return Ok(Rendered::Cancel("sign-up link is no longer usable"));
        }
        let link = self
            .links
            .token_link(&request.nonce, crate::paths::signup_link);
        let rendered = match (request.invite_link_id, invite_link) {
            (None, _) => SignupLinkEmail {
                to: request.email.as_str(),
                link: &link,
                expires_at: request.facts.expires_at,
            }
            .render(),
            (Some(_), None) => return Ok(Rendered::Cancel("invite link no longer exists")),
            (Some(_), Some(d)) => {
                if d.link.facts.check_usable(now).is_err() {
                    return Ok(Rendered::Cancel("invite link is no longer usable"));
                }
                JoinLinkEmail {
                    to: request.email.as_str(),
                    inviter_name: &d.creator_name,
                    organization: &d.organization.name,
                    role: d.link.role,
                    link: &link,
                    expires_at: request.facts.expires_at,
                    approval: d.link.approval_required,
                }
                .render()
            }
        };
        Ok(Rendered::from(rendered))
    }

    async fn render_domain_code(&self, row: &OutboxRow) -> Result<Rendered, DbError> {
        let ids = serde_json::from_str::<serde_json::Value>(&row.payload)
            .ok()
            .and_then(|v| {
                let org = v["organization_id"].as_str()?.parse().ok()?;
                let id = v["domain_id"].as_str()?.parse().ok()?;
                Some((org, id))
            });
        let Some((org, id)) = ids else {
            return Ok(Rendered::Cancel("unreadable payload"));
        };
        let found = self
            .db
            .run(move |c| {
                let Some(domain) = db::domains::find(c, org, id)? else {
                    return Ok(None);
                };
                let organization = db::organizations::find(c, org)?;
                let requester = db::users::find(c, domain.created_by)?.map(|u| u.name);
                Ok(organization.map(|o| (domain, o, requester)))
            })
            .await?;
        let Some((domain, organization, requester)) = found else {
            return Ok(Rendered::Cancel("domain no longer exists"));
        };
        if domain.verified || domain.code.expires_at <= self.clock.now() {
            return Ok(Rendered::Cancel("domain code is no longer usable"));
        }
        let code = VerificationCode::derive(&self.links.token_key, &domain.nonce);
        Ok(Rendered::from(
            DomainCodeEmail {
                to: domain.proof_email.as_str(),
                domain: domain.domain.as_str(),
                organization: &organization.name,
                requester: requester.as_deref().unwrap_or("An Owner"),
                code: code.expose(),
                expires_at: domain.code.expires_at,
            }
            .render(),
        ))
    }

    async fn render_tenant_invitation(&self, row: &OutboxRow) -> Result<Rendered, DbError> {
        let id = serde_json::from_str::<serde_json::Value>(&row.payload)
            .ok()
            .and_then(|v| v["tenant_invitation_id"].as_str().map(str::to_owned));
        let Some(id) = id else {
            return Ok(Rendered::Cancel("unreadable payload"));
        };
        let Some(inv) = self
            .db
            .run(move |c| db::tenant_invitations::find(c, &id))
            .await?
        else {
            return Ok(Rendered::Cancel("tenant invitation no longer exists"));
        };
        if inv.facts.effective_status(self.clock.now()) != InvitationStatus::Pending {
            return Ok(Rendered::Cancel("tenant invitation is no longer pending"));
        }
        let link = self.links.token_link(&inv.nonce, crate::paths::invitation);
        Ok(Rendered::from(
            TenantInvitationEmail {
                to: inv.email.as_str(),
                inviter_name: &inv.inviter_name,
                plan: inv.plan,
                message: inv.message.as_deref(),
                link: &link,
                expires_at: inv.facts.expires_at,
            }
            .render(),
        ))
    }
}

enum Rendered {
    Email(OutgoingEmail),
    Cancel(&'static str),
}

impl From<Result<OutgoingEmail, MailError>> for Rendered {
    /// A rendered email, or the row's cancellation when a template failed (logged).
    fn from(rendered: Result<OutgoingEmail, MailError>) -> Self {
        match rendered {
            Ok(email) => Rendered::Email(email),
            Err(MailError::Template(e)) => {
                tracing::error!(error = %e, "email template failed");
                Rendered::Cancel("template failed")
            }
            Err(_) => Rendered::Cancel("could not render"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::seconds(10));
        assert_eq!(backoff(2), Duration::seconds(20));
        assert_eq!(backoff(3), Duration::seconds(40));
        assert_eq!(backoff(12), Duration::seconds(3_600));
    }
}
