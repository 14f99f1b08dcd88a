//! Builds and runs the application: database, mailer, outbox worker and HTTP server, from one
//! [`Settings`] value and a [`Clock`].

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_web::cookie::SameSite;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::middleware::{Compress, ErrorHandlers};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use tokio::sync::watch;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::Db;
use crate::domain::Clock;
use crate::mail::Mailer;
use crate::mail::outbox::{MailLinks, OutboxWorker};
use crate::web::error::{AppError, render_429, render_500};
use crate::web::headers::{default_headers, login_rate_limit};
use crate::web::limits::Limits;
use crate::web::request_span::RedactedRootSpan;
use crate::web::session_store::DbSessionStore;
use crate::web::{AppState, routes};

/// Password checks that may wait per password thread before more are refused with "try again"
/// (at ~50 ms a hash, half a second to a couple of seconds of waiting).
const PASSWORD_QUEUE_PER_THREAD: usize = 32;
/// The largest form body accepted, in bytes (a 1,000-address invite fits comfortably).
pub const MAX_FORM_BYTES: usize = 512 * 1024;

/// How long [`Application::run_until_stopped`] waits, after the server and the outbox have
/// stopped, for the last database connection to close.
const POOL_CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How often maintenance runs: the expiry sweep and the removal of expired sessions and CSV
/// imports.
pub const MAINTENANCE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// Writes Expired onto overdue invitations and join requests (so the Team page and history
/// agree with what acceptance already enforces), queues the invitation reminders due, and
/// deletes expired sessions and CSV imports, every [`MAINTENANCE_INTERVAL`], until `shutdown`
/// turns true.
async fn maintenance(
    services: crate::service::Services,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (now, svc) = (clock.now(), services.clone());
        let result = tokio::task::spawn_blocking(move || {
            crate::service::maintenance::sweep(&svc, now, chrono::Utc::now())
        })
        .await;
        match result {
            Ok(Ok(swept)) if swept == crate::service::maintenance::Swept::default() => {}
            Ok(Ok(swept)) => tracing::info!(
                expired = swept.invitations,
                sessions = swept.sessions,
                imports = swept.imports,
                join_requests = swept.join_requests,
                reminders = swept.reminders,
                "maintenance"
            ),
            Ok(Err(e)) => tracing::error!(error = %e, "maintenance failed"),
            Err(e) => tracing::error!(error = %e, "maintenance task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(MAINTENANCE_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// How often the in-memory rate limits forget clients and accounts that no longer limit
/// anything, which bounds their memory by the keys seen in about this long.
pub const LIMITS_PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Prunes `limits` every [`LIMITS_PRUNE_INTERVAL`] until `shutdown` turns true.
async fn prune_limits(limits: Limits, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LIMITS_PRUNE_INTERVAL) => limits.prune(),
            _ = shutdown.changed() => return,
        }
    }
}

/// The answer to a form body that could not be read: 413 when it is over its limit (DESIGN.md,
/// the status policy), 400 otherwise.
fn form_error(e: &actix_web::error::UrlencodedError) -> AppError {
    match e {
        actix_web::error::UrlencodedError::Overflow { .. } => AppError::PayloadTooLarge(
            format!(
                "That form is too large (at most {} KiB). Send fewer addresses at a time.",
                MAX_FORM_BYTES / 1024
            )
            .into(),
        ),
        other => AppError::BadRequest(format!("The form could not be read: {other}").into()),
    }
}

/// A built application, bound to its port and ready to run.
pub struct Application {
    port: u16,
    base_url: String,
    server: Server,
    /// The metrics listener (`--metrics-bind`) and its bound address, when configured.
    metrics_server: Option<(Server, std::net::SocketAddr)>,
    /// The outbox delivery tasks and the maintenance task, stopped by `shutdown`.
    background: Vec<tokio::task::JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    db: Db,
}

impl Application {
    /// Opens the database (running migrations), sets up email, binds `settings.bind` and
    /// starts the outbox worker. The server runs once [`Application::run_until_stopped`] is
    /// awaited.
    ///
    /// # Errors
    /// When the database cannot be opened or migrated, the mailer is misconfigured, or the
    /// address cannot be bound.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating {}", settings.data_dir.display()))?;
        let metrics = web::Data::new(
            crate::metrics::Metrics::new().context("setting up the metrics registry")?,
        );
        let pool = crate::db::PoolOptions {
            max_connections: settings.db_pool_size,
            checkout_timeout: settings.db_checkout_timeout,
            observer: Some(metrics.clone().into_inner()),
        };
        let db = Db::connect_with(&settings.database_url, pool).with_context(|| {
            format!(
                "opening database {}",
                crate::db::redacted_url(&settings.database_url)
            )
        })?;
        let ran = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || db.migrate()).await??
        };
        if ran > 0 {
            tracing::info!(migrations = ran, "database migrated");
        }
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let addr = listener.local_addr()?;
        let base_url = settings
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let mailer = match &settings.smtp_url {
            Some(url) => Mailer::smtp(url, &settings.mail_from)?,
            None => Mailer::mailbox(settings.data_dir.join("mailbox"), &settings.mail_from)?,
        };
        if settings.smtp_url.is_none() {
            tracing::info!(dir = %settings.data_dir.join("mailbox").display(), "no SMTP URL: email goes to the mailbox directory");
        }
        let outbox = OutboxWorker::new(
            db.clone(),
            mailer.clone(),
            clock.clone(),
            MailLinks {
                base_url: base_url.clone(),
                token_key: settings.token_key.clone(),
            },
            settings.outbox_poll_interval,
        )
        .with_lease(settings.outbox_lease)
        .with_metrics(metrics.clone().into_inner());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut background: Vec<_> = (0..settings.outbox_workers.max(1))
            .map(|_| tokio::spawn(outbox.clone().run(shutdown_rx.clone())))
            .collect();
        let webhooks = crate::webhooks::worker::WebhookWorker::new(
            db.clone(),
            clock.clone(),
            crate::webhooks::guard::Guard::of(&settings),
            settings.outbox_poll_interval,
        );
        background.push(tokio::spawn(webhooks.run(shutdown_rx.clone())));
        let limits = Limits::new(settings.token_lookup_misses_per_minute, clock.clone());
        background.push(tokio::spawn(prune_limits(
            limits.clone(),
            shutdown_rx.clone(),
        )));

        let https = base_url.starts_with("https://");
        let session_key = settings.session_key.clone();
        // Log-in shares this budget with the POSTs that hash or verify a password (`routes`).
        let login_limit = login_rate_limit(
            settings.login_attempts_per_minute,
            &settings.trusted_proxies,
            Some(metrics.refusals("login")),
        );
        // Sign-up requests send email: the same per-IP budget, counted separately.
        let signup_limit = login_rate_limit(
            settings.login_attempts_per_minute,
            &settings.trusted_proxies,
            Some(metrics.refusals("signup")),
        );
        let password_threads = settings.password_threads;
        let cookies = Arc::new(crate::web::session::CookieConfig::new(
            &settings.session_key,
            https,
        ));
        let passwords = crate::password_pool::PasswordPool::new(
            password_threads,
            password_threads * PASSWORD_QUEUE_PER_THREAD,
        )
        .context("starting the password threads")?;
        let services = crate::service::Services {
            db: db.clone(),
            passwords: passwords.clone(),
            settings: Arc::new(settings.clone()),
            outbox: outbox.signal(),
            login_failures: Arc::new(crate::web::limits::CountedLoginFailures {
                budget: limits.login_failures.clone(),
                metrics: metrics.clone().into_inner(),
            }),
        };
        background.push(tokio::spawn(maintenance(
            services.clone(),
            clock.clone(),
            shutdown_rx,
        )));
        let metrics_server = match &settings.metrics_bind {
            Some(bind) => {
                let listener = TcpListener::bind(bind)
                    .with_context(|| format!("binding the metrics listener {bind}"))?;
                let addr = listener.local_addr()?;
                let server = crate::metrics::server(
                    listener,
                    metrics.clone().into_inner(),
                    db.clone(),
                    clock.clone(),
                )?;
                tracing::info!(%addr, "metrics listening at /metrics");
                Some((server, addr))
            }
            None => None,
        };
        // Requests are counted and timed only when someone can read the counts.
        let track_requests = metrics_server.is_some();
        let blocking_threads = settings.db_pool_size as usize + 2;
        let state = web::Data::new(AppState {
            db: db.clone(),
            clock,
            settings,
            base_url: base_url.clone(),
            outbox,
            mailer,
            cookies,
            passwords,
            limits,
            services,
            pages: Default::default(),
        });
        let store_db = db.clone();
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(
                DbSessionStore::new(store_db.clone()),
                session_key.clone(),
            )
            .cookie_name(
                if https {
                    "__Host-joinery_session"
                } else {
                    "joinery_session"
                }
                .to_owned(),
            )
            .cookie_secure(https)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_path("/".to_owned())
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(
                BrowserSession::default().state_ttl(actix_web::cookie::time::Duration::hours(12)),
            )
            .build();
            App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(
                    web::FormConfig::default()
                        .limit(MAX_FORM_BYTES)
                        .error_handler(|e, _| form_error(&e).into()),
                )
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| AppError::NotFound.into()),
                )
                .app_data(web::QueryConfig::default().error_handler(|e, _| {
                    AppError::BadRequest(format!("The address has a malformed query: {e}").into())
                        .into()
                }))
                .wrap(actix_web::middleware::from_fn(crate::web::session::cookies))
                .wrap(sessions)
                .wrap(actix_web::middleware::from_fn(
                    crate::web::error::database_errors,
                ))
                .wrap(
                    ErrorHandlers::new()
                        .handler(StatusCode::INTERNAL_SERVER_ERROR, render_500)
                        .handler(StatusCode::TOO_MANY_REQUESTS, render_429),
                )
                .wrap(default_headers(https))
                .wrap(actix_web::middleware::from_fn(
                    crate::web::request_body::read_small_bodies,
                ))
                .wrap(Compress::default())
                .wrap(actix_web::middleware::from_fn(
                    crate::web::request_span::request_id_header,
                ))
                .wrap(actix_web::middleware::Condition::new(
                    track_requests,
                    actix_web::middleware::from_fn(crate::metrics::track_requests),
                ))
                .wrap(TracingLogger::<RedactedRootSpan>::new())
                .configure(|cfg| routes(cfg, &login_limit, &signup_limit))
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(AppError::NotFound)
                }))
        })
        .listen(listener)?
        // Each worker's blocking pool (tokio's default: 512 threads shared out) only ever runs
        // database work, which waits for one of the pool's connections anyway: more threads
        // than connections only add stacks and malloc use (issue 16: 52 threads during the
        // bench). Two spare threads per worker for a task between connections.
        .worker_max_blocking_threads(blocking_threads)
        .shutdown_timeout(30)
        .run();
        tracing::info!(%addr, %base_url, "Joinery listening");
        Ok(Self {
            port: addr.port(),
            base_url,
            server,
            metrics_server,
            background,
            shutdown,
            db,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The metrics listener's address, when `--metrics-bind` is set.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_server.as_ref().map(|(_, addr)| *addr)
    }

    /// The base URL links are built from.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The database handle (tests seed through it).
    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// Serves until SIGINT/SIGTERM (or a stop through [`Application::server_handle`]): stops
    /// accepting, finishes in-flight requests, lets the outbox worker finish its batch and a
    /// running maintenance pass finish, closes the database connections (waiting up to 5
    /// seconds for the last), then returns.
    ///
    /// # Errors
    /// When the server fails (after the same clean-up).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        // The metrics listener runs beside the public server, and is stopped after it has
        // drained (so the drain itself can be watched).
        let metrics = self.metrics_server.map(|(server, _)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        // A failed server still stops the background tasks and closes the pool below.
        let served = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(false).await;
            let _ = task.await;
        }
        let _ = self.shutdown.send(true);
        for task in self.background {
            let _ = task.await;
        }
        // The server's worker threads drop their pool handles just after the server future
        // ends. Close every connection before returning, so none is still open on another
        // thread while the process exits.
        let pool = self.db.watch();
        drop(self.db);
        if !pool.wait(POOL_CLOSE_TIMEOUT).await {
            tracing::warn!("database connections were still open at exit");
        }
        served?;
        tracing::info!("Joinery stopped");
        Ok(())
    }

    /// A handle that stops the server (as SIGTERM does, or at once), for an embedding that
    /// runs it without signals, such as the tests.
    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }
}
