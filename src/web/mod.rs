//! How Joinery is *shown*: routes (all registered in [`routes`]), extractors for the signed-in
//! user and their membership, forms, CSRF, sessions, security headers and error pages. Actix
//! and askama stay in this module; handlers parse input into domain types, ask the domain,
//! store the result through `db`, and render or redirect.

pub mod csrf;
pub mod error;
pub mod extractors;
pub mod flash;
pub mod headers;
pub mod limits;
pub mod listing;
pub mod pages;
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
use crate::db::users::User;
use crate::domain::Clock;
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
}

/// What a page says when every password thread is busy and the queue is full.
const PASSWORDS_BUSY: &str =
    "Too many sign-ins are being checked right now. Wait a moment and try again.";

impl AppState {
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

    /// Checks `password` against `stored_hash` on the password threads.
    ///
    /// # Errors
    /// [`AppError::TooManyRequests`] when the password threads' queue is full.
    pub async fn verify_password(
        &self,
        password: crate::domain::password::Password,
        stored_hash: String,
    ) -> Result<bool, AppError> {
        self.passwords
            .run(move || crate::domain::password::verify_password(&password, &stored_hash))
            .await
            .map_err(|_| AppError::too_many(PASSWORDS_BUSY, 1))
    }
}

/// The signed-in person as the page header shows them.
#[derive(Debug, Clone)]
pub struct NavUser {
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Whether they are platform staff (the header links the staff console).
    pub is_staff: bool,
}

/// What the shared layout (`base.html`) needs on every page.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The page title (the `<title>` adds " · Joinery").
    pub title: String,
    /// The signed-in person, if any (shows "Log out").
    pub user: Option<NavUser>,
    /// The CSRF token for forms on the page, including "Log out".
    pub csrf: String,
    /// A one-shot message from the previous action.
    pub flash: Option<flash::Flash>,
    /// The organization the page belongs to: (id, name).
    pub org: Option<(String, String)>,
    /// Whether `/dev/mailbox` exists (development mode).
    pub dev: bool,
    /// Whether the person acts here as platform staff (a banner says so).
    pub as_staff: bool,
    /// The person's organizations for the header's switcher: (id, name), when more than one.
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
        self.org = Some((org.id.to_string(), org.name.clone()));
        self.as_staff = member.as_staff;
        if member.organizations.len() > 1 {
            self.switcher = member
                .organizations
                .iter()
                .map(|o| (o.id.to_string(), o.name.clone()))
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

/// The CSV import's routes (issue 5, feature 2). `example.csv` comes before `{id}`.
fn csv_import_routes(cfg: &mut web::ServiceConfig) {
    use pages::csv_import;
    cfg.route(
        "/orgs/{org}/invitations/import",
        web::get().to(csv_import::upload_page),
    )
    .route(
        "/orgs/{org}/invitations/import",
        web::post().to(csv_import::upload),
    )
    .route(
        "/orgs/{org}/invitations/import/example.csv",
        web::get().to(csv_import::example),
    )
    .route(
        "/orgs/{org}/invitations/import/{id}",
        web::get().to(csv_import::preview),
    )
    .route(
        "/orgs/{org}/invitations/import/{id}",
        web::post().to(csv_import::confirm),
    )
    .route(
        "/orgs/{org}/invitations/import/{id}/cancel",
        web::post().to(csv_import::cancel),
    )
    .route(
        "/orgs/{org}/invitations/import/{id}/result",
        web::get().to(csv_import::result),
    );
}

/// Registers every route. Page paths live here and in `pages::paths`, nowhere else.
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
    use pages::{
        acceptance, assets, auth, billing, dashboard, dev, health, invite_links, members, settings,
        staff, team, tenant_acceptance,
    };
    cfg.route("/", web::get().to(dashboard::home))
        .route("/static/app.css", web::get().to(assets::app_css))
        .route("/static/app.js", web::get().to(assets::app_js))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::resource("/login")
                .route(web::get().to(auth::login_page))
                .route(web::post().to(auth::login))
                .wrap(headers::limit(login_limit)),
        )
        .route("/logout", web::post().to(auth::logout))
        .service(
            web::resource("/signup")
                .route(web::get().to(pages::signup::signup_page))
                .route(web::post().to(pages::signup::request_link))
                .wrap(headers::limit(signup_limit)),
        )
        .service(
            // The POST hashes or verifies a password (a new account, or an account holder
            // joining through an invite link): the per-client log-in budget applies.
            web::resource("/signup/{token}")
                .route(web::get().to(pages::signup::show))
                .route(web::post().to(pages::signup::complete))
                .wrap(headers::limit(login_limit))
                .wrap(from_fn(limits::token_lookups)),
        )
        .route("/orgs/{org}", web::get().to(dashboard::dashboard))
        .route("/staff", web::get().to(staff::console_page))
        .route("/staff/orgs/{org}/plan", web::post().to(staff::set_plan))
        .route("/staff/tenant-invitations", web::post().to(staff::send))
        .route(
            "/staff/tenant-invitations/{id}/resend",
            web::post().to(staff::resend),
        )
        .route(
            "/staff/tenant-invitations/{id}/revoke",
            web::get().to(staff::revoke_confirm),
        )
        .route(
            "/staff/tenant-invitations/{id}/revoke",
            web::post().to(staff::revoke),
        )
        .route("/orgs/{org}/team", web::get().to(team::team_page))
        .route(
            "/orgs/{org}/team/members.csv",
            web::get().to(pages::member_export::export_members),
        )
        .route("/orgs/{org}/audit", web::get().to(pages::audit::audit_page))
        .route(
            "/orgs/{org}/members/{id}/role",
            web::post().to(members::change_role),
        )
        .route(
            "/orgs/{org}/members/{id}/remove",
            web::get().to(members::remove_confirm),
        )
        .route(
            "/orgs/{org}/members/{id}/remove",
            web::post().to(members::remove),
        )
        .route("/orgs/{org}/leave", web::get().to(members::leave_confirm))
        .route("/orgs/{org}/leave", web::post().to(members::leave))
        .route("/orgs/{org}/billing", web::get().to(billing::billing_page))
        .route("/orgs/{org}/team/invite", web::get().to(team::invite_page))
        .route(
            "/orgs/{org}/invitations",
            web::post().to(team::send_invitations),
        )
        .configure(csv_import_routes)
        .route(
            "/orgs/{org}/invitations/{id}/resend",
            web::post().to(team::resend),
        )
        .route(
            "/orgs/{org}/invitations/{id}/revoke",
            web::get().to(team::revoke_confirm),
        )
        .route(
            "/orgs/{org}/invitations/{id}/revoke",
            web::post().to(team::revoke),
        )
        .route(
            "/orgs/{org}/settings/notifications",
            web::get().to(settings::notifications_page),
        )
        .route(
            "/orgs/{org}/settings/notifications",
            web::post().to(settings::save_notifications),
        )
        .service(
            web::resource("/invitations/{token}")
                .route(web::get().to(tenant_acceptance::show))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/invitations/{token}/organization")
                .route(web::post().to(tenant_acceptance::create_organization))
                .wrap(headers::limit(login_limit))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/invitations/{token}/decline-organization")
                .route(web::post().to(tenant_acceptance::decline))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/invitations/{token}/register")
                .route(web::post().to(acceptance::register))
                .wrap(headers::limit(login_limit))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/invitations/{token}/login")
                .route(web::post().to(acceptance::log_in_and_accept))
                .wrap(headers::limit(login_limit))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/invitations/{token}/accept")
                .route(web::post().to(acceptance::accept))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/invitations/{token}/decline")
                .route(web::post().to(acceptance::decline))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/invitations/{token}/request-new")
                .route(web::post().to(acceptance::request_new))
                .wrap(from_fn(limits::token_lookups)),
        )
        .route(
            "/orgs/{org}/invite-links/new",
            web::get().to(invite_links::new_page),
        )
        .route(
            "/orgs/{org}/invite-links",
            web::post().to(invite_links::create),
        )
        .route(
            "/orgs/{org}/invite-links/{id}/revoke",
            web::get().to(invite_links::revoke_confirm),
        )
        .route(
            "/orgs/{org}/invite-links/{id}/revoke",
            web::post().to(invite_links::revoke),
        )
        .service(
            web::resource("/join/{token}")
                .route(web::get().to(invite_links::show))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            // "Email me a link": sends email, like sign-up, on sign-up's per-client budget.
            web::resource("/join/{token}/register")
                .route(web::post().to(invite_links::request_link))
                .wrap(headers::limit(signup_limit))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/join/{token}/login")
                .route(web::post().to(invite_links::log_in_and_join))
                .wrap(headers::limit(login_limit))
                .wrap(from_fn(limits::token_lookups)),
        )
        .service(
            web::resource("/join/{token}/accept")
                .route(web::post().to(invite_links::accept))
                .wrap(from_fn(limits::token_lookups)),
        )
        .route("/dev/mailbox", web::get().to(dev::mailbox));
}
