//! How Joinery is *shown*: routes (all registered in [`routes`]), extractors for the signed-in
//! user and their membership, forms, CSRF, sessions, security headers and error pages. Actix
//! and askama stay in this module; handlers parse input into domain types, ask the domain,
//! store the result through `db`, and render or redirect.

pub mod api;
pub mod csrf;
pub mod error;
pub mod extractors;
pub mod flash;
pub mod headers;
pub mod limits;
pub mod links;
pub mod listing;
pub mod page_cache;
pub mod pages;
pub mod refusals;
pub mod request_body;
pub mod request_meta;
pub mod request_span;
pub mod session;
pub mod session_store;

use std::sync::Arc;

use crate::web::session::Session;
use actix_web::middleware::from_fn;
use actix_web::web;

use crate::config::Settings;
use crate::db::Db;
use crate::domain::Clock;
use crate::domain::User;
use crate::mail::Mailer;
use crate::mail::outbox::OutboxWorker;
pub use error::AppError;

/// What every handler can reach.
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The source of "now".
    pub clock: Arc<dyn Clock>,
    /// The configuration.
    pub settings: Settings,
    /// The public base URL, no trailing slash.
    pub base_url: String,
    /// The outbox worker, woken after a commit that queued email.
    pub outbox: OutboxWorker,
    /// The mailer (for the development mailbox's directory).
    pub mailer: Mailer,
    /// The threads that hash and verify passwords.
    pub passwords: crate::password_pool::PasswordPool,
    /// The keys and names of the CSRF and flash cookies.
    pub cookies: Arc<session::CookieConfig>,
    /// Failed log-ins per account and token misses per client.
    pub limits: limits::Limits,
    /// The service layer, which every operation goes through.
    pub services: crate::service::Services,
    /// Rendered pages reused until what they show changes (the Team page).
    pub pages: Arc<page_cache::PageCache>,
}

use refusals::PASSWORDS_BUSY;

impl AppState {
    /// Runs one service operation on the blocking thread pool: the request's one hand-off for
    /// its work (database and password hashing alike stay off the async workers).
    ///
    /// # Errors
    /// Whatever `op` returns; [`ServiceError::Storage`](crate::service::ServiceError) if the
    /// blocking task failed.
    pub async fn call<T, R>(
        &self,
        op: impl FnOnce(&crate::service::Services) -> Result<T, crate::service::ServiceError<R>>
        + Send
        + 'static,
    ) -> Result<T, crate::service::ServiceError<R>>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        let (services, span) = (self.services.clone(), tracing::Span::current());
        tokio::task::spawn_blocking(move || span.in_scope(|| op(&services)))
            .await
            .map_err(|e| crate::db::DbError::Task(e.to_string()))?
    }

    /// Runs the read-only service operation `op` (a few indexed reads: who is signed in, their
    /// standing) as [`crate::db::Db::read`] runs reads: on SQLite on the current thread when a
    /// connection is idle, otherwise as [`AppState::call`].
    ///
    /// # Errors
    /// As [`AppState::call`].
    pub async fn read<T, R>(
        &self,
        op: impl FnOnce(&crate::service::Services) -> Result<T, crate::service::ServiceError<R>>
        + Send
        + 'static,
    ) -> Result<T, crate::service::ServiceError<R>>
    where
        T: Send + 'static,
        R: Send + 'static,
    {
        if self.db.runs_reads_inline() {
            op(&self.services)
        } else {
            self.call(op).await
        }
    }

    /// Hashes a new account's password on the password threads.
    ///
    /// # Errors
    /// [`AppError::TooManyRequests`] when the password threads' queue is full;
    /// [`AppError::Internal`] if argon2 fails.
    pub async fn hash_password(
        &self,
        password: crate::domain::password::Password,
    ) -> Result<String, AppError> {
        self.passwords
            .run(move || crate::domain::password::hash_password(&password))
            .await
            .map_err(|_| AppError::too_many(PASSWORDS_BUSY, 1))?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing failed: {e}")))
    }
}

/// The signed-in person as the page header shows them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NavUser {
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Whether they are platform staff (the header links the staff console).
    pub is_staff: bool,
}

/// What the shared layout (`base.html`) needs on every page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    /// The page title (the `<title>` adds " · Joinery").
    pub title: String,
    /// The signed-in person, if any (shows "Log out").
    pub user: Option<NavUser>,
    /// The CSRF token for forms on the page, including "Log out".
    pub csrf: String,
    /// A one-shot message from the previous action.
    pub flash: Option<flash::Flash>,
    /// The organization the page belongs to: (its dashboard's path, its name).
    pub org: Option<(String, String)>,
    /// Whether `/dev/mailbox` exists (development mode).
    pub dev: bool,
    /// Whether the person acts here as platform staff (a banner says so).
    pub as_staff: bool,
    /// The person's organizations for the header's switcher: (dashboard path, name), when more
    /// than one.
    pub switcher: Vec<(String, String)>,
}

impl Layout {
    /// The layout for a page titled `title`, taking the pending flash message.
    ///
    /// # Errors
    /// [`AppError::Internal`] if the session cannot be written (CSRF token).
    pub fn new(
        state: &AppState,
        session: &Session,
        title: impl Into<String>,
        user: Option<&User>,
    ) -> Result<Self, AppError> {
        Ok(Self {
            title: title.into(),
            user: user.map(|u| NavUser {
                name: u.name.clone(),
                email: u.email.to_string(),
                is_staff: u.is_staff,
            }),
            csrf: csrf::token(session),
            flash: flash::take(session),
            org: None,
            dev: state.settings.dev,
            as_staff: false,
            switcher: Vec::new(),
        })
    }

    /// The same layout inside `member`'s organization: the title and header name it, the
    /// switcher lists their other organizations, and staff see that they act as staff.
    pub fn in_org(mut self, member: &extractors::OrgMember) -> Self {
        let org = &member.org;
        self.title = format!("{} · {}", self.title, org.name);
        self.org = Some((crate::paths::dashboard(org.id), org.name.clone()));
        self.as_staff = member.as_staff;
        if member.organizations.len() > 1 {
            self.switcher = member
                .organizations
                .iter()
                .map(|o| (crate::paths::dashboard(o.id), o.name.clone()))
                .collect();
        }
        self
    }
}

/// Whether `next` is a safe local redirect target: an absolute path on this site, never
/// `//host` or `/\host` (which browsers treat as another site), and no control characters.
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2_000
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

/// The CSV import's routes (DESIGN.md, "Bulk"). `example.csv` comes before `{id}`.
fn csv_import_routes(cfg: &mut web::ServiceConfig) {
    use crate::paths as P;
    use pages::csv_import;
    cfg.route(P::IMPORT.pattern(), web::get().to(csv_import::upload_page))
        .route(P::IMPORT.pattern(), web::post().to(csv_import::upload))
        .route(
            P::IMPORT_EXAMPLE.pattern(),
            web::get().to(csv_import::example),
        )
        .route(
            P::IMPORT_PREVIEW.pattern(),
            web::get().to(csv_import::preview),
        )
        .route(
            P::IMPORT_PREVIEW.pattern(),
            web::post().to(csv_import::confirm),
        )
        .route(
            P::IMPORT_CANCEL.pattern(),
            web::post().to(csv_import::cancel),
        )
        .route(
            P::IMPORT_RESULT.pattern(),
            web::get().to(csv_import::result),
        );
}

/// The routes of the links people receive (`/invitations/{token}…`, `/join/{token}…`):
/// registered first, because actix-web tries the app's patterns in order and these are the
/// busiest pages nobody signs in for (issue 16: each pattern tried before the match costs a
/// regex search, once to route and once for the request's log span). None of them overlaps
/// another route, so their place changes nothing else.
fn token_link_routes(
    cfg: &mut web::ServiceConfig,
    login_limit: &headers::LoginRateLimit,
    signup_limit: &headers::LoginRateLimit,
) {
    use crate::paths as P;
    use pages::{acceptance, invite_links, tenant_acceptance};
    cfg.service(
        web::resource(P::INVITATION.pattern())
            .route(web::get().to(acceptance::show))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::INVITATION_ORGANIZATION.pattern())
            .route(web::post().to(tenant_acceptance::create_organization))
            .wrap(headers::limit(login_limit))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::INVITATION_DECLINE_ORGANIZATION.pattern())
            .route(web::post().to(tenant_acceptance::decline))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::INVITATION_REGISTER.pattern())
            .route(web::post().to(acceptance::register))
            .wrap(headers::limit(login_limit))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::INVITATION_LOGIN.pattern())
            .route(web::post().to(acceptance::log_in_and_accept))
            .wrap(headers::limit(login_limit))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::INVITATION_ACCEPT.pattern())
            .route(web::post().to(acceptance::accept))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::INVITATION_DECLINE.pattern())
            .route(web::post().to(acceptance::decline))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::INVITATION_REQUEST_NEW.pattern())
            .route(web::post().to(acceptance::request_new))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::JOIN.pattern())
            .route(web::get().to(invite_links::join::show))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        // "Email me a link": sends email, like sign-up, on sign-up's per-client budget.
        web::resource(P::JOIN_REGISTER.pattern())
            .route(web::post().to(invite_links::join::request_link))
            .wrap(headers::limit(signup_limit))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::JOIN_LOGIN.pattern())
            .route(web::post().to(invite_links::join::log_in_and_join))
            .wrap(headers::limit(login_limit))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::JOIN_ACCEPT.pattern())
            .route(web::post().to(invite_links::join::accept))
            .wrap(from_fn(limits::token_lookups)),
    )
    .service(
        web::resource(P::JOIN_REQUEST.pattern())
            .route(web::post().to(invite_links::join::request))
            .wrap(from_fn(limits::token_lookups)),
    );
}

/// Registers every route, each at its pattern in [`crate::paths`] (where pages, emails and tests
/// build the same paths).
///
/// `login_limit` is one per-client budget for log-in and the POSTs that hash or verify a
/// password (registration through an invitation or a sign-up link, tenant-owner acceptance,
/// log-in through an invitation or an invite link), so that spreading attempts over routes
/// gains nothing (DESIGN.md, "Security rules"); `signup_limit` counts sign-up requests (which
/// send email) and registration through an invite link. Every route
/// that looks a token up is wrapped in [`limits::token_lookups`], last, so that a refused
/// look-up spends nothing of the per-client POST budget.
pub fn routes(
    cfg: &mut web::ServiceConfig,
    login_limit: &headers::LoginRateLimit,
    signup_limit: &headers::LoginRateLimit,
) {
    use crate::paths as P;
    use pages::{
        api_tokens, assets, auth, billing, dashboard, dev, domains, health, invite_links,
        join_requests, members, settings, staff, team, webhooks,
    };
    cfg.configure(|cfg| token_link_routes(cfg, login_limit, signup_limit))
        .configure(api::routes)
        .route(P::HOME.pattern(), web::get().to(dashboard::home))
        .route(P::APP_CSS.pattern(), web::get().to(assets::app_css))
        .route(P::APP_JS.pattern(), web::get().to(assets::app_js))
        .route(P::HEALTHZ.pattern(), web::get().to(health::healthz))
        .route(P::READYZ.pattern(), web::get().to(health::readyz))
        .service(
            web::resource(P::LOGIN.pattern())
                .route(web::get().to(auth::login_page))
                .route(web::post().to(auth::login))
                .wrap(headers::limit(login_limit)),
        )
        .route(P::LOGOUT.pattern(), web::post().to(auth::logout))
        .service(
            web::resource(P::SIGNUP.pattern())
                .route(web::get().to(pages::signup::signup_page))
                .route(web::post().to(pages::signup::request_link))
                .wrap(headers::limit(signup_limit)),
        )
        .service(
            // The POST hashes or verifies a password (a new account, or an account holder
            // joining through an invite link): the per-client log-in budget applies.
            web::resource(P::SIGNUP_LINK.pattern())
                .route(web::get().to(pages::signup::show))
                .route(web::post().to(pages::signup::complete))
                .wrap(headers::limit(login_limit))
                .wrap(from_fn(limits::token_lookups)),
        )
        .route(P::DASHBOARD.pattern(), web::get().to(dashboard::dashboard))
        .route(P::STAFF.pattern(), web::get().to(staff::console_page))
        .route(P::STAFF_PLAN.pattern(), web::post().to(staff::set_plan))
        .route(P::STAFF_SEATS.pattern(), web::post().to(staff::set_seats))
        .route(P::TENANT_INVITATIONS.pattern(), web::post().to(staff::send))
        .route(P::TENANT_RESEND.pattern(), web::post().to(staff::resend))
        .route(
            P::TENANT_REVOKE.pattern(),
            web::get().to(staff::revoke_confirm),
        )
        .route(P::TENANT_REVOKE.pattern(), web::post().to(staff::revoke))
        .route(P::TEAM.pattern(), web::get().to(team::team_page))
        .route(
            P::EXPORT_MEMBERS.pattern(),
            web::get().to(pages::member_export::export_members),
        )
        .route(P::AUDIT.pattern(), web::get().to(pages::audit::audit_page))
        .route(
            P::MEMBER_ROLE.pattern(),
            web::post().to(members::change_role),
        )
        .route(
            P::REMOVE_MEMBER.pattern(),
            web::get().to(members::remove_confirm),
        )
        .route(P::REMOVE_MEMBER.pattern(), web::post().to(members::remove))
        .route(P::LEAVE.pattern(), web::get().to(members::leave_confirm))
        .route(P::LEAVE.pattern(), web::post().to(members::leave))
        .route(P::BILLING.pattern(), web::get().to(billing::billing_page))
        .route(P::DOMAINS.pattern(), web::get().to(domains::domains_page))
        .route(P::DOMAINS.pattern(), web::post().to(domains::add))
        .route(
            P::DOMAIN_RESTRICTION.pattern(),
            web::post().to(domains::set_restriction),
        )
        .route(P::DOMAIN_VERIFY.pattern(), web::post().to(domains::verify))
        .route(P::DOMAIN_CODE.pattern(), web::post().to(domains::new_code))
        .route(
            P::DOMAIN_ENROLLMENT.pattern(),
            web::post().to(domains::set_enrollment),
        )
        .route(
            P::DOMAIN_REMOVE.pattern(),
            web::get().to(domains::remove_confirm),
        )
        .route(P::DOMAIN_REMOVE.pattern(), web::post().to(domains::remove))
        .route(P::DOMAIN_JOIN.pattern(), web::post().to(domains::join))
        .route(
            P::API_TOKENS.pattern(),
            web::get().to(api_tokens::tokens_page),
        )
        .route(P::API_TOKENS.pattern(), web::post().to(api_tokens::create))
        .route(
            P::WEBHOOKS.pattern(),
            web::get().to(webhooks::webhooks_page),
        )
        .route(P::WEBHOOKS.pattern(), web::post().to(webhooks::add))
        .route(P::WEBHOOK.pattern(), web::get().to(webhooks::log_page))
        .route(P::REDELIVER.pattern(), web::post().to(webhooks::redeliver))
        .route(
            P::ENABLE_WEBHOOK.pattern(),
            web::post().to(webhooks::enable),
        )
        .route(
            P::REMOVE_WEBHOOK.pattern(),
            web::get().to(webhooks::remove_confirm),
        )
        .route(
            P::REMOVE_WEBHOOK.pattern(),
            web::post().to(webhooks::remove),
        )
        .route(
            P::REVOKE_API_TOKEN.pattern(),
            web::get().to(api_tokens::revoke_confirm),
        )
        .route(
            P::REVOKE_API_TOKEN.pattern(),
            web::post().to(api_tokens::revoke),
        )
        .route(
            P::DOMAIN_REQUEST.pattern(),
            web::post().to(join_requests::request_by_domain),
        )
        .route(
            P::APPROVE_JOIN_REQUEST.pattern(),
            web::post().to(join_requests::approve),
        )
        .route(
            P::REJECT_JOIN_REQUEST.pattern(),
            web::get().to(join_requests::reject_confirm),
        )
        .route(
            P::REJECT_JOIN_REQUEST.pattern(),
            web::post().to(join_requests::reject),
        )
        .route(P::INVITE.pattern(), web::get().to(team::invite_page))
        .route(
            P::SEND_INVITATIONS.pattern(),
            web::post().to(team::send_invitations),
        )
        .configure(csv_import_routes)
        .route(P::RESEND.pattern(), web::post().to(team::resend))
        .route(P::REVOKE.pattern(), web::get().to(team::revoke_confirm))
        .route(P::REVOKE.pattern(), web::post().to(team::revoke))
        .route(P::FIX_ADDRESS.pattern(), web::post().to(team::fix_address))
        .route(
            P::INVITATION_HISTORY.pattern(),
            web::get().to(team::invitation_history),
        )
        .route(
            P::NOTIFICATIONS.pattern(),
            web::get().to(settings::notifications_page),
        )
        .route(
            P::NOTIFICATIONS.pattern(),
            web::post().to(settings::save_notifications),
        )
        .route(
            P::REMINDERS.pattern(),
            web::post().to(settings::save_reminders),
        )
        .route(
            P::NEW_INVITE_LINK.pattern(),
            web::get().to(invite_links::new_page),
        )
        .route(
            P::CREATE_INVITE_LINK.pattern(),
            web::post().to(invite_links::create),
        )
        .route(
            P::REVOKE_INVITE_LINK.pattern(),
            web::get().to(invite_links::revoke_confirm),
        )
        .route(
            P::REVOKE_INVITE_LINK.pattern(),
            web::post().to(invite_links::revoke),
        )
        .route(P::DEV_MAILBOX.pattern(), web::get().to(dev::mailbox));
}
