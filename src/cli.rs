//! The `joinery` command line (clap). Every flag has an environment fallback, shown by `--help`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::cookie::Key;
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::config::{Settings, decode_key, load_or_create_key_file, normalize_base_url};
use crate::db::{self, Db};
use crate::domain::password::Password;
use crate::domain::text::{OrganizationName, PersonName};
use crate::domain::token::{TokenKey, fill_random};
use crate::domain::{Clock, EmailAddress, OrganizationId, Plan, Role, SystemClock};
use crate::password_pool::PasswordPool;
use crate::service::Services;
use crate::service::accounts::{self, AccountSet, AccountSetup};
use crate::service::maintenance;
use crate::service::organizations::{self, OrganizationSetup};
use crate::web::limits::Limits;

/// Team membership and invitations for multi-tenant products.
#[derive(Debug, Parser)]
#[command(name = "joinery", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

// The settings every subcommand takes (each flag is global: it may come before or after the
// subcommand's name). A plain comment: a doc comment here would become the about text.
#[derive(Debug, Args)]
#[command(mut_args(|arg| arg.global(true)))]
struct SettingsArgs {
    /// Database URL: `postgres://user:pass@host/db` for PostgreSQL, or `sqlite://PATH` or a file
    /// path for SQLite. Default: `joinery.db` in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Address and port to listen on.
    #[arg(long, env = "JOINERY_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Public base URL, e.g. `https://team.example.com`; every link in every email is built from
    /// it. Default: `http://` + the bind address.
    #[arg(long, env = "JOINERY_BASE_URL")]
    base_url: Option<String>,
    /// Directory for the SQLite file, development keys and the development mailbox.
    #[arg(long, env = "JOINERY_DATA_DIR", default_value = "joinery-data")]
    data_dir: PathBuf,
    /// SMTP server, e.g. `smtp://user:pass@mail.example.com:587?tls=required`. Without it,
    /// email is written to `{data-dir}/mailbox`.
    #[arg(long, env = "JOINERY_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// The From address of every email.
    #[arg(
        long,
        env = "JOINERY_MAIL_FROM",
        default_value = "Joinery <no-reply@joinery.localhost>"
    )]
    mail_from: String,
    /// Session cookie key: at least 64 bytes, hex or base64. Required unless `--dev`, which
    /// generates one and keeps it in the data directory.
    #[arg(long, env = "JOINERY_SESSION_KEY", hide_env_values = true)]
    session_key: Option<String>,
    /// Invitation token key: at least 32 bytes, hex or base64. Rotating it invalidates every
    /// outstanding invitation link. Required unless `--dev`.
    #[arg(long, env = "JOINERY_TOKEN_KEY", hide_env_values = true)]
    token_key: Option<String>,
    /// Development mode: generates missing keys and serves the mailbox at `/dev/mailbox`.
    #[arg(long, env = "JOINERY_DEV", value_parser = clap::builder::FalseyValueParser::new())]
    dev: bool,
    /// Hours an invitation stays usable.
    #[arg(long, env = "JOINERY_INVITATION_TTL_HOURS", default_value_t = 168)]
    invitation_ttl_hours: u32,
    /// The most invitations one organization may send per rolling hour.
    #[arg(long, env = "JOINERY_INVITATIONS_PER_HOUR", default_value_t = 1000)]
    invitations_per_hour: u32,
    /// Log-in attempts allowed per client IP per minute: one budget for every POST that hashes
    /// or verifies a password (sign-up requests get one of the same size of their own).
    #[arg(long, env = "JOINERY_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    login_attempts_per_minute: u32,
    /// Token look-ups (invitation, invite and sign-up links) that find nothing allowed per
    /// client per minute; past them every token look-up from that client gets 429 until one
    /// more would be allowed.
    #[arg(
        long,
        env = "JOINERY_TOKEN_LOOKUP_MISSES_PER_MINUTE",
        default_value_t = 20
    )]
    token_lookup_misses_per_minute: u32,
    /// Database connections in the pool.
    #[arg(long, env = "JOINERY_DB_POOL_SIZE", default_value_t = 8)]
    db_pool_size: u32,
    /// Threads that hash and verify passwords (argon2id, ~19 MiB each while hashing): the
    /// most hashes in flight at once. Default: half the CPUs, at least 1.
    #[arg(long, env = "JOINERY_PASSWORD_THREADS")]
    password_threads: Option<usize>,
    /// Outbox delivery tasks in this instance; several instances may each run some.
    #[arg(long, env = "JOINERY_OUTBOX_WORKERS", default_value_t = 2)]
    outbox_workers: u32,
    /// Milliseconds an idle outbox worker waits before looking for due email again (new
    /// email wakes it at once).
    #[arg(long, env = "JOINERY_OUTBOX_POLL_MS", default_value_t = 2000)]
    outbox_poll_ms: u64,
    /// Let webhook endpoints be loopback, private or link-local addresses (an internal
    /// receiver on the same network). Off by default: such endpoints are refused, at
    /// registration and again at delivery after DNS resolution (SSRF).
    #[arg(long, env = "JOINERY_WEBHOOKS_ALLOW_PRIVATE")]
    webhooks_allow_private: bool,
    /// Reverse proxies (IP addresses or CIDR networks, comma-separated) whose X-Forwarded-For
    /// header is believed for the client IP recorded in the audit log.
    #[arg(long, env = "JOINERY_TRUSTED_PROXIES", default_value = "")]
    trusted_proxies: String,
    /// Log filter, e.g. `info` or `joinery=debug,actix_web=info`.
    #[arg(long, env = "JOINERY_LOG", default_value = "info")]
    log: String,
    /// Log line format: `text` for people, `json` for log collectors (one JSON object per
    /// line, with the request's span — route pattern and request id — on every line logged
    /// during a request).
    #[arg(
        long,
        env = "JOINERY_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    log_format: LogFormat,
    /// Address and port of a separate listener serving Prometheus metrics at `/metrics`
    /// (e.g. `127.0.0.1:9100`). Off unless set; never served on `--bind`.
    #[arg(long, env = "JOINERY_METRICS_BIND")]
    metrics_bind: Option<String>,
    /// Milliseconds a request waits for a database connection before it is answered 503
    /// (bounds how long requests hang while the database is down).
    #[arg(long, env = "JOINERY_DB_CHECKOUT_TIMEOUT_MS", default_value_t = 2000)]
    db_checkout_timeout_ms: u64,
    /// Seconds a delivery task holds the outbox rows it claimed; if its instance dies, another
    /// instance sends them once this has passed. Keep it well above the time a batch can take
    /// (50 emails, SMTP commands time out after 20 s).
    #[arg(long, env = "JOINERY_OUTBOX_LEASE_SECS", default_value_t = 600)]
    outbox_lease_secs: u32,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// tracing's human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON formatter).
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create an organization with an Owner (the password comes from JOINERY_PASSWORD or a
    /// prompt when the owner has no account yet).
    CreateOrg {
        /// The organization's name.
        #[arg(long, env = "JOINERY_ORG_NAME")]
        name: String,
        /// trial, starter, professional or enterprise.
        #[arg(long, env = "JOINERY_ORG_PLAN", default_value = "trial")]
        plan: String,
        /// The Owner's email.
        #[arg(long, env = "JOINERY_OWNER_EMAIL")]
        owner_email: String,
        /// The Owner's name (used when the account is new).
        #[arg(long, env = "JOINERY_OWNER_NAME")]
        owner_name: String,
        /// The seat limit, overriding the plan's default (Trial 1, Starter 10, Professional
        /// 100, Enterprise unlimited); omit it to keep the plan's default.
        #[arg(long, env = "JOINERY_ORG_SEATS")]
        seats: Option<String>,
    },
    /// Create a platform staff account (password from JOINERY_PASSWORD or a prompt), or mark an
    /// existing account as staff.
    CreateStaff {
        /// The staff member's email.
        #[arg(long, env = "JOINERY_STAFF_EMAIL")]
        email: String,
        /// The staff member's name.
        #[arg(long, env = "JOINERY_STAFF_NAME")]
        name: String,
    },
    /// Write Expired onto pending invitations past their time and delete expired CSV imports,
    /// then exit.
    Sweep,
    /// Create (idempotently) a demo organization on a paid plan with an Owner, print how to log
    /// in, and serve in development mode.
    Demo,
    /// Copy the SQLite database, consistently, into a new file while the server keeps running
    /// (SQLite's online backup API). For PostgreSQL use `pg_dump` (README, "Backup and
    /// upgrade").
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
}

impl SettingsArgs {
    fn resolve(&self, force_dev: bool) -> anyhow::Result<Settings> {
        let dev = self.dev || force_dev;
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))?;
        let session_key = match (&self.session_key, dev) {
            (Some(text), _) => decode_key("JOINERY_SESSION_KEY", text, 64)?,
            (None, true) => load_or_create_key_file(&self.data_dir, "session.key", 64)?,
            (None, false) => bail!("JOINERY_SESSION_KEY is required (or run with --dev)"),
        };
        let token_key = match (&self.token_key, dev) {
            (Some(text), _) => decode_key("JOINERY_TOKEN_KEY", text, 32)?,
            (None, true) => load_or_create_key_file(&self.data_dir, "token.key", 32)?,
            (None, false) => bail!("JOINERY_TOKEN_KEY is required (or run with --dev)"),
        };
        let mut token = [0u8; 32];
        token.copy_from_slice(&token_key[..32]);
        Ok(Settings {
            database_url: self.database_url(),
            bind: self.bind.clone(),
            base_url: self
                .base_url
                .as_deref()
                .map(normalize_base_url)
                .transpose()?,
            data_dir: self.data_dir.clone(),
            smtp_url: self.smtp_url.clone().filter(|s| !s.trim().is_empty()),
            mail_from: self.mail_from.clone(),
            session_key: Key::try_from(&session_key[..])
                .context("JOINERY_SESSION_KEY is too short")?,
            token_key: TokenKey::from_bytes(token),
            dev,
            invitation_ttl: chrono::Duration::hours(i64::from(self.invitation_ttl_hours.max(1))),
            invitations_per_hour: i64::from(self.invitations_per_hour),
            login_attempts_per_minute: self.login_attempts_per_minute.max(1),
            token_lookup_misses_per_minute: self.token_lookup_misses_per_minute.max(1),
            db_pool_size: self.db_pool_size.clamp(1, 64),
            outbox_workers: self.outbox_workers.clamp(1, 32),
            password_threads: self
                .password_threads
                .unwrap_or_else(crate::password_pool::default_threads)
                .clamp(1, 64),
            webhooks_allow_private: self.webhooks_allow_private,
            webhook_hosts: Vec::new(),
            outbox_poll_interval: std::time::Duration::from_millis(
                self.outbox_poll_ms.clamp(10, 60_000),
            ),
            trusted_proxies: crate::config::parse_trusted_proxies(&self.trusted_proxies)?,
            metrics_bind: self.metrics_bind.clone().filter(|s| !s.trim().is_empty()),
            db_checkout_timeout: std::time::Duration::from_millis(
                self.db_checkout_timeout_ms.clamp(50, 60_000),
            ),
            outbox_lease: chrono::Duration::seconds(i64::from(self.outbox_lease_secs.max(1))),
        })
    }

    /// The database URL as given, or the SQLite file in the data directory.
    fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| self.data_dir.join("joinery.db").display().to_string())
    }
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // Each line carries the span it was logged in (`span`: the request's method, route
        // pattern and request id) and every enclosing span (`spans`).
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

/// Reads a password from `JOINERY_PASSWORD`, or asks twice without echo on a terminal.
fn read_new_password(prompt_for: &str) -> anyhow::Result<Password> {
    let text = match std::env::var("JOINERY_PASSWORD") {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password(format!("Password for {prompt_for}: "))?;
            let second = rpassword::prompt_password("Repeat the password: ")?;
            if first != second {
                bail!("the passwords did not match");
            }
            first
        }
        Err(_) => bail!("set JOINERY_PASSWORD or run on a terminal to be asked for a password"),
    };
    Password::new_account(&text).map_err(|e| anyhow::anyhow!("password refused: {e}"))
}

fn open_db(settings: &Settings) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.database_url, 2)?;
    db.migrate()?;
    Ok(db)
}

/// The service layer over `db`, for the commands that set things up: one password thread, no
/// outbox worker (these commands queue no email), and log-in limits nobody here uses.
fn services(settings: &Settings, db: Db) -> anyhow::Result<Services> {
    Ok(Services {
        db,
        passwords: PasswordPool::new(1, 1).context("starting a password thread")?,
        settings: Arc::new(settings.clone()),
        outbox: Arc::new(tokio::sync::Notify::new()),
        login_failures: Limits::new(1, Arc::new(SystemClock)).login_failures,
    })
}

/// The account `email` asks for: its password read only when the account is new (an existing
/// account keeps its password).
fn account_setup(
    svc: &Services,
    email: EmailAddress,
    name: PersonName,
) -> anyhow::Result<AccountSetup> {
    let password = if accounts::exists(svc, &email)? {
        None
    } else {
        Some(read_new_password(email.as_str())?)
    };
    Ok(AccountSetup {
        email,
        name,
        password,
    })
}

/// Parses the command line and runs it; the process's exit status follows the result.
///
/// # Errors
/// Whatever the chosen command fails with, as a readable chain.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.settings.log, cli.settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.settings.resolve(false)?),
        Command::Backup { to } => {
            let url = cli.settings.database_url();
            if db::Backend::of(&url) == db::Backend::Postgres {
                bail!(
                    "`joinery backup` copies a SQLite database; {} is PostgreSQL. Back it up with \
                     pg_dump instead: pg_dump --format=custom --file=joinery.dump \"$DATABASE_URL\" \
                     (README, \"Backup and upgrade\")",
                    db::redacted_url(&url)
                );
            }
            let copied =
                db::backup::backup_sqlite(std::path::Path::new(db::sqlite_path(&url)), &to)?;
            println!(
                "Backed up {} to {} ({} pages of {} bytes)",
                url,
                to.display(),
                copied.pages,
                copied.page_size
            );
            Ok(())
        }
        Command::Migrate => {
            let settings = cli.settings.resolve(true)?;
            let db = Db::connect(&settings.database_url, 1)?;
            let ran = db.migrate()?;
            println!(
                "Applied {ran} migration(s) to {}",
                db::redacted_url(&settings.database_url)
            );
            Ok(())
        }
        Command::Sweep => {
            let settings = cli.settings.resolve(true)?;
            let svc = services(&settings, open_db(&settings)?)?;
            let now = SystemClock.now();
            let swept = maintenance::sweep(&svc, now, now)?;
            println!("Marked {} invitation(s) as expired", swept.invitations);
            println!("Deleted {} expired CSV import(s)", swept.imports);
            println!("Deleted {} expired session(s)", swept.sessions);
            println!("Marked {} join request(s) as expired", swept.join_requests);
            Ok(())
        }
        Command::CreateOrg {
            name,
            plan,
            owner_email,
            owner_name,
            seats,
        } => {
            let settings = cli.settings.resolve(true)?;
            let org_name =
                OrganizationName::parse(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
            let plan: Plan = plan.parse()?;
            let email = EmailAddress::parse(&owner_email)
                .map_err(|e| anyhow::anyhow!("--owner-email: {e}"))?;
            let owner =
                PersonName::parse(&owner_name).map_err(|e| anyhow::anyhow!("--owner-name: {e}"))?;
            let seats = seats
                .as_deref()
                .map(crate::domain::seats::parse_custom_limit)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--seats: {e}"))?
                .flatten();
            let svc = services(&settings, open_db(&settings)?)?;
            let cmd = OrganizationSetup {
                name: org_name,
                plan,
                owner: account_setup(&svc, email, owner)?,
            };
            let id = organizations::create_with_owner(&svc, &cmd, SystemClock.now())?.org;
            if let Some(limit) = seats {
                crate::service::seats::set_limit_by_operator(
                    &svc,
                    id,
                    Some(limit),
                    SystemClock.now(),
                )?;
            }
            let limit = crate::domain::seats::SeatLimit::of(plan, seats);
            println!(
                "Organization {:?} ({id}) on {} with Owner {} ({limit} seats)",
                cmd.name.as_str(),
                plan.label(),
                cmd.owner.email
            );
            Ok(())
        }
        Command::CreateStaff { email, name } => {
            let settings = cli.settings.resolve(true)?;
            let email = EmailAddress::parse(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            let name = PersonName::parse(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
            let svc = services(&settings, open_db(&settings)?)?;
            let cmd = account_setup(&svc, email, name)?;
            match accounts::create_staff(&svc, &cmd, SystemClock.now())? {
                AccountSet::Existed => println!("{} is now staff", cmd.email),
                AccountSet::Created => println!("Created staff account {}", cmd.email),
            }
            Ok(())
        }
        Command::Demo => {
            let settings = cli.settings.resolve(true)?;
            let svc = services(&settings, open_db(&settings)?)?;
            let mut bytes = [0u8; 12];
            fill_random(&mut bytes);
            let password_text = hex::encode(bytes);
            let password =
                Password::new_account(&password_text).map_err(|e| anyhow::anyhow!("{e}"))?;
            let (id, second) = seed_demo(&svc, &password)?;
            let token = demo_token(&svc, id)?;
            drop(svc);
            let base = settings
                .base_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", settings.bind));
            println!();
            println!("  Joinery demo is starting at {base}/login");
            println!("  Organization: Demo Company (Professional plan), {base}/orgs/{id}");
            println!(
                "  Second org:   Demo Labs (Trial plan, you are its Admin), {base}/orgs/{second}"
            );
            println!("  Log in as:    {DEMO_OWNER_EMAIL}");
            println!("  Staff:        {DEMO_STAFF_EMAIL} (staff console at {base}/staff)");
            println!(
                "  Password:     {password_text}   (both accounts; new on every run of `joinery demo`)"
            );
            println!("  Mailbox:      {base}/dev/mailbox");
            println!(
                "  API token:    {token}   (Admin of Demo Company, 30 days; a new one on every run)"
            );
            println!(
                "  Try:          curl -H 'Authorization: Bearer {token}' {base}/api/v1/orgs/{id}/members"
            );
            println!();
            serve(settings)
        }
    }
}

/// The demo's Owner of Demo Company.
const DEMO_OWNER_EMAIL: &str = "owner@demo.example.com";
/// The demo's platform staff account.
const DEMO_STAFF_EMAIL: &str = "staff@demo.example.com";

/// An account of the demo: `password` becomes its password unless `keep_password` and it
/// exists already.
fn demo_account(
    svc: &Services,
    email: &str,
    name: &str,
    password: &Password,
    keep_password: bool,
) -> anyhow::Result<AccountSetup> {
    let email = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let keep = keep_password && accounts::exists(svc, &email)?;
    Ok(AccountSetup {
        email,
        name: PersonName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?,
        password: (!keep).then(|| password.clone()),
    })
}

/// The demo, idempotently, through the service layer: "Demo Company" (Professional) owned by
/// the demo owner; a second organization, "Demo Labs" (Trial), with its own Owner
/// (labs-owner@demo.example.com; every organization has one — rule 4) and the demo owner as
/// an Admin; and a staff account. The demo owner and staff get `password` on every run; the
/// Labs owner gets it when created. Returns both organizations' ids.
fn seed_demo(
    svc: &Services,
    password: &Password,
) -> anyhow::Result<(OrganizationId, OrganizationId)> {
    let now = SystemClock.now();
    let org_name = |name: &str| OrganizationName::parse(name).map_err(|e| anyhow::anyhow!("{e}"));
    let company = OrganizationSetup {
        name: org_name("Demo Company")?,
        plan: Plan::Professional,
        owner: demo_account(svc, DEMO_OWNER_EMAIL, "Olivia Owner", password, false)?,
    };
    let company = organizations::create_with_owner(svc, &company, now)?;
    let staff = demo_account(svc, DEMO_STAFF_EMAIL, "Sam Staff", password, false)?;
    accounts::create_staff(svc, &staff, now)?;
    let labs = OrganizationSetup {
        name: org_name("Demo Labs")?,
        plan: Plan::Trial,
        owner: demo_account(
            svc,
            "labs-owner@demo.example.com",
            "Lena Labs",
            password,
            true,
        )?,
    };
    let labs = organizations::create_with_owner(svc, &labs, now)?;
    organizations::add_member_if_absent(
        svc,
        labs.org,
        company.owner,
        Role::Admin,
        Some(labs.owner),
        now,
    )?;
    Ok((company.org, labs.org))
}

/// A new API token of Demo Company for the README's curl examples, made by its Owner through
/// the service layer as Settings → API tokens does (Admin, 30 days). Returns its secret.
fn demo_token(svc: &Services, org: OrganizationId) -> anyhow::Result<String> {
    use crate::domain::api_token::TokenExpiry;
    use crate::service::api_tokens::{self, CreateToken};
    let email = EmailAddress::parse(DEMO_OWNER_EMAIL).map_err(|e| anyhow::anyhow!("{e}"))?;
    let owner = svc
        .db
        .with_conn(|c| db::users::find_credentials(c, &email))?
        .context("the demo owner exists")?
        .user;
    let actor = crate::service::Actor::new(owner, crate::db::audit::RequestMeta::default());
    let cmd = CreateToken {
        name: "Demo API token".into(),
        role: Role::Admin,
        expiry: TokenExpiry::Days30,
    };
    let (_, secret) = api_tokens::create(svc, &actor, org, &cmd, SystemClock.now())
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(secret.expose())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    // The background tasks (outbox, webhooks, sweeps) run here and hand their database work to
    // this runtime's blocking pool; like the HTTP workers' (`Application::build`), it gets no
    // more threads than there are connections to use, plus two (issue 16: peak RSS).
    let blocking_threads = settings.db_pool_size as usize + 2;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(blocking_threads)
        .build()
        .context("starting the async runtime")?;
    actix_web::rt::System::with_tokio_rt(move || runtime).block_on(async move {
        let app = crate::startup::Application::build(settings, Arc::new(SystemClock)).await?;
        app.run_until_stopped().await
    })
}
