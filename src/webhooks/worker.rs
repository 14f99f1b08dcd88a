//! The webhook worker: claims due rows of the webhook outbox with a lease, checks the
//! endpoint's address again ([`Guard`]), and POSTs each event with the Standard Webhooks
//! headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`). A 2xx delivers it for
//! good; anything else is tried again with backoff (10 s doubling to an hour), with the same
//! `webhook-id`, until the endpoint has been failing for 3 days: then it is disabled and its
//! Owners are emailed (through the outbox, in the same transaction).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use futures_util::StreamExt as _;
use tokio::sync::watch;

use super::guard::Guard;
use crate::db::webhooks::Job;
use crate::db::{self, Db, DbError};
use crate::domain::Clock;
use crate::domain::webhook::DISABLE_AFTER;
use crate::mail::outbox::backoff;

/// Deliveries taken per batch.
pub const BATCH_SIZE: i64 = 20;
/// Deliveries of one batch in flight at once.
pub const CONCURRENCY: usize = 8;
/// How long a claimed delivery stays leased to its worker.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// How long one POST may take, connecting included.
pub const TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// Delivers the webhook outbox. Clone it freely.
#[derive(Clone)]
pub struct WebhookWorker {
    db: Db,
    clock: Arc<dyn Clock>,
    guard: Guard,
    poll_interval: StdDuration,
}

/// What one attempt came to.
enum Attempt {
    /// The endpoint answered 2xx with this status.
    Delivered(u16),
    /// It answered otherwise (the status, if any) or could not be reached.
    Failed(Option<u16>, String),
}

impl WebhookWorker {
    /// A worker that looks for due deliveries every `poll_interval` when idle.
    pub fn new(db: Db, clock: Arc<dyn Clock>, guard: Guard, poll_interval: StdDuration) -> Self {
        Self {
            db,
            clock,
            guard,
            poll_interval,
        }
    }

    /// Runs until `shutdown` turns true, finishing the batch in hand.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let full = match self.deliver_batch().await {
                Ok(n) => n as i64 == BATCH_SIZE,
                Err(e) => {
                    tracing::error!(error = %e, "webhook batch failed");
                    false
                }
            };
            if *shutdown.borrow() {
                return;
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Claims up to [`BATCH_SIZE`] due deliveries and attempts them; returns how many.
    ///
    /// # Errors
    /// [`DbError`] if the webhook outbox cannot be read or updated.
    pub async fn deliver_batch(&self) -> Result<usize, DbError> {
        let now = self.clock.now();
        let jobs = self
            .db
            .run(move |c| db::webhooks::claim(c, now, BATCH_SIZE, LEASE))
            .await?;
        let handled = jobs.len();
        let results: Vec<Result<(), DbError>> = futures_util::stream::iter(jobs)
            .map(|job| self.deliver(job))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, DbError>>()?;
        Ok(handled)
    }

    async fn deliver(&self, job: Job) -> Result<(), DbError> {
        let now = self.clock.now();
        let attempt = self.attempt(&job, now.timestamp()).await;
        let (id, endpoint) = (job.delivery.id.clone(), job.endpoint_id);
        match attempt {
            Attempt::Delivered(status) => {
                tracing::info!(webhook_id = %id, status, "webhook delivered");
                self.db
                    .run(move |c| db::webhooks::mark_delivered(c, &id, endpoint, status, now))
                    .await
            }
            Attempt::Failed(status, error) => {
                tracing::warn!(webhook_id = %id, ?status, error = %error, "webhook failed");
                let retry_at = now + backoff(job.delivery.attempts + 1);
                let failing_since = job.failing_since.unwrap_or(now);
                let org = job.organization_id;
                self.db
                    .run(move |c| {
                        db::webhooks::mark_failed(c, &id, endpoint, status, &error, retry_at, now)?;
                        if now - failing_since >= DISABLE_AFTER {
                            db::webhooks::disable_and_notify(c, org, endpoint, now)?;
                        }
                        Ok(())
                    })
                    .await
            }
        }
    }

    /// One POST of `job`, signed at `timestamp` (Unix seconds), to an address the guard
    /// allows now (no connection is attempted otherwise).
    async fn attempt(&self, job: &Job, timestamp: i64) -> Attempt {
        let Ok(url) = url::Url::parse(&job.url) else {
            return Attempt::Failed(None, "the endpoint URL is not valid".into());
        };
        let guard = self.guard.clone();
        let checked = {
            let url = url.clone();
            tokio::task::spawn_blocking(move || guard.check(&url)).await
        };
        let addrs = match checked {
            Ok(Ok(addrs)) => addrs,
            Ok(Err(refused)) => return Attempt::Failed(None, format!("refused: {refused}")),
            Err(e) => return Attempt::Failed(None, format!("address check failed: {e}")),
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .resolve_to_addrs(&host, &addrs)
            .user_agent("Joinery-Webhooks/1")
            .build()
        {
            Ok(client) => client,
            Err(e) => return Attempt::Failed(None, format!("client: {e}")),
        };
        let body = job.delivery.payload.clone();
        let signature = job.secret.sign(&job.delivery.id, timestamp, &body);
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &job.delivery.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => Attempt::Delivered(resp.status().as_u16()),
            Ok(resp) => {
                let status = resp.status();
                Attempt::Failed(Some(status.as_u16()), format!("answered {status}"))
            }
            Err(e) => Attempt::Failed(None, format!("could not deliver: {e}")),
        }
    }
}
