//! Prometheus metrics, served as `/metrics` in the text exposition format on a listener of
//! their own (`--metrics-bind`, off by default), never on the public port.
//!
//! Each application has its own [`Metrics`] (a `prometheus::Registry` and its handles, no
//! global state), so several applications in one process — the tests — never mix counts.
//! Labels are only ever drawn from small fixed sets: a route's *pattern*
//! (`/invitations/{token}`), never its path, so no token or id reaches a label (DESIGN.md,
//! "Tokens").

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder as _, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::db::{Db, PoolObserver};
use crate::domain::Clock;

/// The route label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// Request latency buckets, in seconds (1 ms to 10 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets for short waits, in seconds (100 µs to 10 s): pool check-outs and the window
/// between the SMTP server's acceptance and the outbox row marked sent.
const WAIT_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Every metric Joinery exposes. Share it as `Arc<Metrics>` (or `web::Data<Metrics>`).
pub struct Metrics {
    registry: Registry,
    /// `joinery_http_requests_total{method, route, status}`: `status` is the class (`2xx`…).
    http_requests: IntCounterVec,
    /// `joinery_http_request_duration_seconds{method, route, status}`.
    http_duration: HistogramVec,
    /// `joinery_login_failures_total`: wrong password answers (401) on every route that
    /// checks one.
    login_failures: IntCounter,
    /// `joinery_rate_limited_total{limiter}`: requests refused by a rate limit.
    rate_limited: IntCounterVec,
    /// `joinery_emails_sent_total{kind}`.
    emails_sent: IntCounterVec,
    /// `joinery_emails_retried_total{kind}`: failed attempts that will be tried again.
    emails_retried: IntCounterVec,
    /// `joinery_emails_failed_total{kind}`: emails given up after the last attempt.
    emails_failed: IntCounterVec,
    /// `joinery_emails_cancelled_total{kind}`: emails not sent because what they announce is
    /// gone (a revoked invitation, a used link).
    emails_cancelled: IntCounterVec,
    /// `joinery_emails_bounced_total{kind}`: emails the SMTP server refused for good (5xx).
    emails_bounced: IntCounterVec,
    /// `joinery_email_unconfirmed_seconds`: from the SMTP server accepting a message to its
    /// row being marked sent — the window in which a crash sends the email again.
    email_unconfirmed: Histogram,
    /// `joinery_outbox_emails{status}`: rows queued or leased (sampled on scrape).
    outbox_emails: IntGaugeVec,
    /// `joinery_outbox_oldest_due_seconds`: how long the longest-waiting due email has been
    /// due (0 when none is; sampled on scrape).
    outbox_oldest_due: Gauge,
    /// `joinery_database_up`: 1 when the scrape's outbox sample could read the database.
    database_up: IntGauge,
    /// `joinery_db_pool_wait_seconds`: how long each connection check-out waited.
    pool_wait: Histogram,
    /// `joinery_db_pool_timeouts_total`: check-outs that gave up.
    pool_timeouts: IntCounter,
    /// `joinery_db_pool_connections{state}`: open connections, `idle` or `in_use`.
    pool_connections: IntGaugeVec,
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
) -> prometheus::Result<Histogram> {
    let metric = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Metrics {
    /// A fresh registry holding every metric at zero.
    ///
    /// # Errors
    /// Only if a metric's name or labels were invalid (a programming error, covered by a unit
    /// test).
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let r = &registry;
        let http_requests = counter_vec(
            r,
            "joinery_http_requests_total",
            "HTTP requests answered, by method, route pattern and status class.",
            &["method", "route", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "joinery_http_request_duration_seconds",
                "Time to answer an HTTP request, by method, route pattern and status class.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route", "status"],
        )?;
        r.register(Box::new(http_duration.clone()))?;
        let login_failures = IntCounter::new(
            "joinery_login_failures_total",
            "Log-in attempts answered 401 (wrong email or password, or a locked account).",
        )?;
        r.register(Box::new(login_failures.clone()))?;
        let rate_limited = counter_vec(
            r,
            "joinery_rate_limited_total",
            "Requests refused by a rate limit: login and signup (per client), token_lookup \
             (per client), account_lock (per account).",
            &["limiter"],
        )?;
        let kind = &["kind"];
        let emails_sent = counter_vec(r, "joinery_emails_sent_total", "Emails delivered.", kind)?;
        let emails_retried = counter_vec(
            r,
            "joinery_emails_retried_total",
            "Failed delivery attempts that will be retried.",
            kind,
        )?;
        let emails_failed = counter_vec(
            r,
            "joinery_emails_failed_total",
            "Emails given up after their last attempt.",
            kind,
        )?;
        let emails_cancelled = counter_vec(
            r,
            "joinery_emails_cancelled_total",
            "Emails not sent because what they announce is no longer usable.",
            kind,
        )?;
        let emails_bounced = counter_vec(
            r,
            "joinery_emails_bounced_total",
            "Emails the SMTP server refused for good (a 5xx reply).",
            kind,
        )?;
        let email_unconfirmed = histogram(
            r,
            "joinery_email_unconfirmed_seconds",
            "From the SMTP server accepting an email to its outbox row marked sent: a crash in \
             this window sends the email again.",
            WAIT_BUCKETS,
        )?;
        let outbox_emails = IntGaugeVec::new(
            Opts::new(
                "joinery_outbox_emails",
                "Outbox rows waiting (queued) or leased by a delivery task (sending).",
            ),
            &["status"],
        )?;
        r.register(Box::new(outbox_emails.clone()))?;
        let outbox_oldest_due = Gauge::new(
            "joinery_outbox_oldest_due_seconds",
            "How long the longest-waiting due email has been due (0 when none is).",
        )?;
        r.register(Box::new(outbox_oldest_due.clone()))?;
        let database_up = IntGauge::new(
            "joinery_database_up",
            "1 when this scrape could read the outbox from the database, else 0.",
        )?;
        r.register(Box::new(database_up.clone()))?;
        let pool_wait = histogram(
            r,
            "joinery_db_pool_wait_seconds",
            "Time each database connection check-out waited.",
            WAIT_BUCKETS,
        )?;
        let pool_timeouts = IntCounter::new(
            "joinery_db_pool_timeouts_total",
            "Database connection check-outs that gave up waiting.",
        )?;
        r.register(Box::new(pool_timeouts.clone()))?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "joinery_db_pool_connections",
                "Open database connections, idle or in use.",
            ),
            &["state"],
        )?;
        r.register(Box::new(pool_connections.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            login_failures,
            rate_limited,
            emails_sent,
            emails_retried,
            emails_failed,
            emails_cancelled,
            emails_bounced,
            email_unconfirmed,
            outbox_emails,
            outbox_oldest_due,
            database_up,
            pool_wait,
            pool_timeouts,
            pool_connections,
        })
    }

    /// Counts one answered request of `route` (a pattern, or [`UNMATCHED_ROUTE`]).
    pub fn request(&self, method: &str, route: &str, status: StatusCode, elapsed: Duration) {
        let class = status_class(status);
        let labels = [method, route, class];
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
        if status == StatusCode::UNAUTHORIZED {
            self.login_failures.inc();
        }
    }

    /// Counts a request refused by `limiter` (`login`, `signup`, `token_lookup`,
    /// `account_lock`).
    pub fn refused(&self, limiter: &str) {
        self.rate_limited.with_label_values(&[limiter]).inc();
    }

    /// The counter of `limiter`'s refusals, for code that counts without a [`Metrics`] at hand
    /// (the per-client limiters' key extractor).
    pub fn refusals(&self, limiter: &str) -> IntCounter {
        self.rate_limited.with_label_values(&[limiter])
    }

    /// An email of `kind` delivered; `unconfirmed` is how long after the SMTP server accepted
    /// it its row was marked sent.
    pub fn email_sent(&self, kind: &str, unconfirmed: Duration) {
        self.emails_sent.with_label_values(&[kind]).inc();
        self.email_unconfirmed.observe(unconfirmed.as_secs_f64());
    }

    /// A failed attempt at an email of `kind`; `retry` when it will be tried again.
    pub fn email_attempt_failed(&self, kind: &str, retry: bool) {
        let counter = if retry {
            &self.emails_retried
        } else {
            &self.emails_failed
        };
        counter.with_label_values(&[kind]).inc();
    }

    /// An email of `kind` the SMTP server refused for good.
    pub fn email_bounced(&self, kind: &str) {
        self.emails_bounced.with_label_values(&[kind]).inc();
    }

    /// An email of `kind` that will not be sent (what it announced is gone).
    pub fn email_cancelled(&self, kind: &str) {
        self.emails_cancelled.with_label_values(&[kind]).inc();
    }

    /// Samples the outbox and the pool, then renders every metric in the text format.
    pub async fn scrape(&self, db: &Db, clock: &dyn Clock) -> String {
        let now = clock.now();
        match db.run(move |c| crate::db::outbox::backlog(c, now)).await {
            Ok(backlog) => {
                self.database_up.set(1);
                self.outbox_emails
                    .with_label_values(&["queued"])
                    .set(backlog.queued);
                self.outbox_emails
                    .with_label_values(&["sending"])
                    .set(backlog.sending);
                let age = backlog.oldest_due.map_or(0.0, |due| {
                    (now - due).num_milliseconds().max(0) as f64 / 1000.0
                });
                self.outbox_oldest_due.set(age);
            }
            Err(e) => {
                // The outbox gauges keep their last values; `joinery_database_up` says why.
                self.database_up.set(0);
                tracing::warn!(error = %e, "metrics: could not sample the outbox");
            }
        }
        let (open, idle) = db.pool_state();
        self.pool_connections
            .with_label_values(&["idle"])
            .set(i64::from(idle));
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(i64::from(open.saturating_sub(idle)));
        self.render()
    }

    /// Every metric in the Prometheus text format, as it stands.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl PoolObserver for Metrics {
    fn checked_out(&self, waited: Duration) {
        self.pool_wait.observe(waited.as_secs_f64());
    }

    fn timed_out(&self, waited: Duration) {
        self.pool_timeouts.inc();
        self.pool_wait.observe(waited.as_secs_f64());
    }
}

/// `2xx`, `3xx`, `4xx` or `5xx` (or `1xx`).
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Middleware for the public application: counts and times every request by method, route
/// pattern and status class. The pattern is read before the request runs (the path is never
/// used).
///
/// # Errors
/// Those of the wrapped service (counted as their status).
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(metrics) = req.app_data::<web::Data<Metrics>>().cloned() else {
        return next.call(req).await;
    };
    let started = Instant::now();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let method = req.method().clone();
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    metrics.request(method.as_str(), &route, status, started.elapsed());
    result
}

/// What the metrics listener serves.
struct Scrape {
    metrics: Arc<Metrics>,
    db: Db,
    clock: Arc<dyn Clock>,
}

/// GET /metrics on the metrics listener.
async fn metrics_page(scrape: web::Data<Scrape>) -> HttpResponse {
    let body = scrape
        .metrics
        .scrape(&scrape.db, scrape.clock.as_ref())
        .await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

/// The metrics listener: `GET /metrics` on `listener`, one worker, no signal handling of its
/// own (the application stops it after the public server has drained).
///
/// # Errors
/// When the listener cannot be used.
pub fn server(
    listener: std::net::TcpListener,
    metrics: Arc<Metrics>,
    db: Db,
    clock: Arc<dyn Clock>,
) -> std::io::Result<actix_web::dev::Server> {
    let scrape = web::Data::new(Scrape { metrics, db, clock });
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(scrape.clone())
            .route("/metrics", web::get().to(metrics_page))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_registers_and_renders_with_its_help() {
        let metrics = Metrics::new().unwrap();
        metrics.request(
            "GET",
            "/invitations/{token}",
            StatusCode::NOT_FOUND,
            Duration::from_millis(3),
        );
        metrics.request("POST", "/login", StatusCode::UNAUTHORIZED, Duration::ZERO);
        metrics.refused("token_lookup");
        metrics.email_sent("invitation", Duration::from_micros(700));
        metrics.email_attempt_failed("invitation", true);
        metrics.checked_out(Duration::from_micros(50));
        let text = metrics.render();
        for needle in [
            "joinery_http_requests_total{method=\"GET\",route=\"/invitations/{token}\",status=\"4xx\"} 1",
            "joinery_http_request_duration_seconds_bucket{method=\"GET\",route=\"/invitations/{token}\",status=\"4xx\",le=\"0.005\"} 1",
            "joinery_login_failures_total 1",
            "joinery_rate_limited_total{limiter=\"token_lookup\"} 1",
            "joinery_emails_sent_total{kind=\"invitation\"} 1",
            "joinery_emails_retried_total{kind=\"invitation\"} 1",
            "joinery_email_unconfirmed_seconds_count 1",
            "joinery_db_pool_wait_seconds_count 1",
            "# HELP joinery_outbox_oldest_due_seconds",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }

    #[test]
    fn statuses_are_counted_by_class() {
        assert_eq!(status_class(StatusCode::SEE_OTHER), "3xx");
        assert_eq!(status_class(StatusCode::TOO_MANY_REQUESTS), "4xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
    }
}
