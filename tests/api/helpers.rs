//! `spawn_app()` and a small browser: a cookie-keeping client that reads forms (hidden CSRF
//! field included) out of the HTML it receives and submits them, and a reader for the emails
//! the app delivered into its mailbox directory.

#![allow(dead_code)] // Shared by every test module; not each module uses every helper.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration as StdDuration;

use actix_web::dev::ServerHandle;
use chrono::{TimeZone, Utc};
use joinery::config::Settings;
use joinery::db::{self, Db};
use joinery::domain::password::{Password, hash_password};
use joinery::domain::text::{OrganizationName, PersonName};
use joinery::domain::{EmailAddress, ManualClock, OrganizationId, Plan, Role, UserId};
use joinery::startup::Application;
use reqwest::header::HeaderMap;
use scraper::{Html, Selector};

/// The password every seeded account gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running app and what a test needs to reach it. Dropping it stops the app and waits until
/// its database connections have closed (see [`Teardown`]).
pub struct TestApp {
    pub address: String,
    pub clock: ManualClock,
    pub db: Db,
    pub mailbox: PathBuf,
    /// The settings the app was started with (its database URL and keys included).
    pub settings: Settings,
    /// `http://ADDR` of the metrics listener, when `settings.metrics_bind` was set.
    pub metrics_address: Option<String>,
    seen_mail: Mutex<HashSet<PathBuf>>,
    // Fields drop in order: `db` above goes first, then the teardown stops the app.
    _teardown: Teardown,
    _data_dir: tempfile::TempDir,
}

/// Starts the app with test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app after `adjust` has changed the test settings.
///
/// The app runs on a thread of its own with its own runtime, as the real binary does, so
/// the test can stop it and wait for it when it ends rather than abandoning it half-running
/// when the test's runtime goes away.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(data_dir.path());
    // With JOINERY_TEST_POSTGRES_URL set, every test gets its own PostgreSQL database.
    let database = TestDatabase::from_env();
    if let Some(database) = &database {
        settings.database_url = database.url.clone();
    }
    adjust(&mut settings);
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let (started, app) = tokio::sync::oneshot::channel();
    let app_thread = {
        let settings = settings.clone();
        let clock = std::sync::Arc::new(clock.clone());
        std::thread::Builder::new()
            .name("test-app".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let app = Application::build(settings, clock).await.unwrap();
                    let running = (
                        app.base_url().to_owned(),
                        app.db(),
                        app.server_handle(),
                        app.metrics_addr().map(|a| format!("http://{a}")),
                    );
                    if started.send(running).is_ok() {
                        app.run_until_stopped().await.unwrap();
                    }
                });
            })
            .unwrap()
    };
    let (address, db, server, metrics_address) = app
        .await
        .expect("the app failed to start; see its panic above");
    TestApp {
        address,
        clock,
        _teardown: Teardown {
            server,
            app_thread: Some(app_thread),
            pool: db.watch(),
            database,
        },
        db,
        mailbox: data_dir.path().join("mailbox"),
        settings,
        metrics_address,
        seen_mail: Mutex::new(HashSet::new()),
        _data_dir: data_dir,
    }
}

/// The last part of a [`TestApp`] to go (after its `db` handle): stops the server at once
/// (nothing of the test is in flight any more), waits for the app's thread, which ends once
/// the outbox has stopped and the pool has closed every connection (`run_until_stopped`
/// waits up to 5 s for that), checks that it did, and only then drops the
/// test's PostgreSQL database. So no connection is cut under the app, and nothing is left
/// talking to the database when the test process exits (libpq's TLS state is torn down by
/// OpenSSL's exit handler, under any thread still using it).
struct Teardown {
    server: ServerHandle,
    app_thread: Option<std::thread::JoinHandle<()>>,
    pool: db::PoolWatch,
    database: Option<TestDatabase>,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        drop(self.server.stop(false));
        if let Some(thread) = self.app_thread.take() {
            let _ = thread.join();
        }
        // The app's thread waited for its pool to end before returning.
        if !self.pool.is_closed() && !std::thread::panicking() {
            panic!("the app stopped with database connections still open");
        }
    }
}

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
    /// A fresh browser (its own cookie jar — a private window).
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::limited(10))
                // Below the server's 5 s keep-alive, so a POST never goes out on a connection
                // the server is closing at that moment (a race no client retries).
                .pool_idle_timeout(StdDuration::from_secs(2))
                .build()
                .unwrap(),
            base: self.address.clone(),
        }
    }

    /// Creates an account.
    pub fn create_user(&self, email: &str, name: &str) -> UserId {
        let hash = hash_password(&Password::new_account(PASSWORD).unwrap()).unwrap();
        let email = EmailAddress::parse(email).unwrap();
        let name = PersonName::parse(name).unwrap();
        let now = self.clock_now();
        self.db
            .with_conn(|c| db::users::insert(c, &email, &name, &hash, false, now))
            .unwrap()
    }

    /// Creates an organization on `plan`.
    pub fn create_org(&self, name: &str, plan: Plan) -> OrganizationId {
        let name = OrganizationName::parse(name).unwrap();
        let now = self.clock_now();
        self.db
            .with_conn(|c| db::organizations::insert(c, &name, plan, now))
            .unwrap()
            .id
    }

    /// Adds a member.
    pub fn add_member(&self, org: OrganizationId, user: UserId, role: Role) {
        let now = self.clock_now();
        self.db
            .with_conn(|c| db::organizations::add_member(c, org, user, role, None, None, now))
            .unwrap();
    }

    /// An organization on `plan` with a member of `role` (email `{role}@{slug}.test`); returns
    /// the organization and a browser already logged in as that member.
    pub async fn org_with(&self, name: &str, plan: Plan, role: Role) -> (OrganizationId, Browser) {
        let org = self.create_org(name, plan);
        let slug: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase();
        let email = format!("{}@{slug}.test", role.as_str());
        let user = self.create_user(&email, &format!("{} {}", role.label(), name));
        self.add_member(org, user, role);
        let browser = self.browser();
        let page = browser.login(&email, PASSWORD).await;
        assert_eq!(page.status, 200, "login failed: {}", page.text());
        (org, browser)
    }

    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use joinery::domain::Clock;
        self.clock.now()
    }

    /// Runs a query against the app's database.
    pub fn query<R>(&self, f: impl FnOnce(&mut db::Conn) -> Result<R, db::DbError>) -> R {
        self.db.with_conn(f).unwrap()
    }

    /// Counts the rows of the invitations table.
    pub fn invitation_count(&self) -> i64 {
        use diesel::prelude::*;
        self.query(|c| {
            Ok(db::schema::invitations::table
                .count()
                .get_result::<i64>(c)?)
        })
    }

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

    /// Advances the app's clock.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }
}

/// A response as a browser sees it.
pub struct Page {
    pub status: u16,
    /// The final URL after redirects.
    pub url: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    /// The path of the final URL.
    pub fn path(&self) -> String {
        reqwest::Url::parse(&self.url).unwrap().path().to_owned()
    }

    /// The visible text, whitespace collapsed.
    pub fn text(&self) -> String {
        let html = self.html();
        let body = Selector::parse("body").unwrap();
        let text: Vec<String> = html
            .select(&body)
            .flat_map(|b| b.text())
            .map(str::to_owned)
            .collect();
        text.join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether the visible text contains `needle`.
    pub fn shows(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }

    /// The text of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let sel = Selector::parse(css).unwrap();
        self.html()
            .select(&sel)
            .map(|e| {
                e.text()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The value of `attr` on every element matching `css`.
    pub fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let sel = Selector::parse(css).unwrap();
        self.html()
            .select(&sel)
            .filter_map(|e| e.value().attr(attr).map(str::to_owned))
            .collect()
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        self.attrs("input[name=csrf_token]", "value")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no CSRF token on {}: {}", self.url, self.text()))
    }

    /// The first form matching `css`: its action and its current field values.
    pub fn form(&self, css: &str) -> Form {
        let html = self.html();
        let sel = Selector::parse(css).unwrap();
        let form = html
            .select(&sel)
            .next()
            .unwrap_or_else(|| panic!("no form {css} on {}: {}", self.url, self.text()));
        let action = form.value().attr("action").unwrap_or("").to_owned();
        let mut fields = Vec::new();
        let inputs = Selector::parse("input[name], textarea[name], select[name]").unwrap();
        for input in form.select(&inputs) {
            let name = input.value().attr("name").unwrap().to_owned();
            let value = match input.value().name() {
                "textarea" => input.text().collect(),
                "select" => {
                    let selected = Selector::parse("option[selected]").unwrap();
                    let first = Selector::parse("option").unwrap();
                    input
                        .select(&selected)
                        .next()
                        .or_else(|| input.select(&first).next())
                        .and_then(|o| o.value().attr("value"))
                        .unwrap_or("")
                        .to_owned()
                }
                _ => {
                    let kind = input.value().attr("type").unwrap_or("text");
                    if (kind == "checkbox" || kind == "radio")
                        && input.value().attr("checked").is_none()
                    {
                        continue;
                    }
                    input.value().attr("value").unwrap_or("").to_owned()
                }
            };
            fields.push((name, value));
        }
        Form { action, fields }
    }
}

/// How each of several racing requests ended, sorted: its status and the label of the first
/// `(text, label)` whose text its page shows ("something else" when none).
pub fn outcomes<'a>(pages: &[Page], labels: &[(&str, &'a str)]) -> Vec<(u16, &'a str)> {
    let mut outcomes: Vec<(u16, &str)> = pages
        .iter()
        .map(|p| {
            let shown = labels
                .iter()
                .find(|(text, _)| p.shows(text))
                .map_or("something else", |(_, label)| label);
            (p.status, shown)
        })
        .collect();
    outcomes.sort_unstable();
    outcomes
}

/// A form read from a page.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// Sets a field (replacing any value it had).
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a field (an unticked checkbox).
    pub fn unset(mut self, name: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self
    }
}

/// A browser: a client with its own cookie jar (a clone shares the jar, as a second tab does).
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    pub base: String,
}

impl Browser {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    async fn page(resp: reqwest::Response) -> Page {
        Page {
            status: resp.status().as_u16(),
            url: resp.url().to_string(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    /// GET, following redirects.
    pub async fn get(&self, path: &str) -> Page {
        Self::page(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// POSTs these fields; `Err` when the connection failed before a response was read.
    pub async fn try_post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<Page, reqwest::Error> {
        let resp = self.client.post(self.url(path)).form(fields).send().await?;
        Ok(Self::page(resp).await)
    }

    /// POSTs a body larger than the server accepts. The server answers after reading its limit
    /// and closes the connection; if that happens while the rest of the body is still being
    /// written, the client sees a broken connection instead of the answer. Retries until the
    /// answer is read (up to 10 tries).
    pub async fn post_oversized(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut last = None;
        for _ in 0..10 {
            match self.try_post(path, fields).await {
                Ok(page) => return page,
                Err(e) => last = Some(e),
            }
        }
        panic!("no answer to an oversized POST after 10 tries: {last:?}");
    }

    /// POSTs a `multipart/form-data` body as a browser does for a form with a file input:
    /// these text fields, then `bytes` as the file `file_name` in field `file_field`. `Err`
    /// when the connection failed before a response was read.
    pub async fn try_upload(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<Page, reqwest::Error> {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text((*name).to_owned(), (*value).to_owned());
        }
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str("text/csv")
            .unwrap();
        let resp = self
            .client
            .post(self.url(path))
            .multipart(form.part(file_field.to_owned(), part))
            .send()
            .await?;
        Ok(Self::page(resp).await)
    }

    /// POSTs exactly these fields (no CSRF token unless given).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::page(
            self.client
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Submits a form read from a page.
    pub async fn submit(&self, form: &Form) -> Page {
        Self::page(
            self.client
                .post(self.url(&form.action))
                .form(&form.fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens `/login`, fills it and submits.
    pub async fn login(&self, email: &str, password: &str) -> Page {
        let page = self.get("/login").await;
        let form = page
            .form("form[action='/login']")
            .set("email", email)
            .set("password", password);
        self.submit(&form).await
    }

    /// Opens the Team page and sends the invite form with these values.
    pub async fn invite(
        &self,
        org: OrganizationId,
        emails: &str,
        role: &str,
        message: &str,
    ) -> Page {
        let team = self.get(&format!("/orgs/{org}/team/invite")).await;
        let form = team
            .form("form.invite-form")
            .set("emails", emails)
            .set("role", role)
            .set("message", message);
        self.submit(&form).await
    }

    /// Clicks a button whose form posts to `action`, on the page at `page_path`.
    pub async fn click(&self, page_path: &str, action: &str) -> Page {
        let page = self.get(page_path).await;
        let form = page.form(&format!("form[action='{action}']"));
        self.submit(&form).await
    }
}

/// The value of the cookie `name` that `jar` would send to `url`, if any.
pub fn cookie_value(jar: &reqwest::cookie::Jar, url: &str, name: &str) -> Option<String> {
    use reqwest::cookie::CookieStore as _;
    let header = jar.cookies(&reqwest::Url::parse(url).unwrap())?;
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

impl TestApp {
    /// A browser whose cookie jar the test holds (to read the session cookie, or to plant one
    /// as another browser would send it), optionally not following redirects so the test sees
    /// each `303` and its `Location`.
    pub fn browser_with_jar(
        &self,
        jar: std::sync::Arc<reqwest::cookie::Jar>,
        follow_redirects: bool,
    ) -> Browser {
        let policy = if follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        Browser {
            client: reqwest::Client::builder()
                .cookie_provider(jar)
                .redirect(policy)
                .build()
                .unwrap(),
            base: self.address.clone(),
        }
    }

    /// A browser that does not follow redirects (it keeps cookies).
    pub fn browser_without_redirects(&self) -> Browser {
        self.browser_with_jar(std::sync::Arc::new(reqwest::cookie::Jar::default()), false)
    }
}

impl Page {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

impl Browser {
    /// Submits a form with extra request headers (e.g. a forged `Host`).
    pub async fn submit_with_headers(&self, form: &Form, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.post(self.url(&form.action)).form(&form.fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::page(request.send().await.unwrap()).await
    }
}

/// The environment variable naming a PostgreSQL server for the tests (a URL to a database the
/// tests may connect to in order to create and drop their own, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`). Unset: the tests run on SQLite.
pub const POSTGRES_ENV: &str = "JOINERY_TEST_POSTGRES_URL";

/// A fresh PostgreSQL database for one test, dropped (with its connections) when the test ends.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl TestDatabase {
    /// A new database on the server named by [`POSTGRES_ENV`], or `None` when it is unset.
    pub fn from_env() -> Option<Self> {
        let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|u| !u.is_empty())?;
        Some(Self::create(&admin_url))
    }

    /// Creates a uniquely named database on the server of `admin_url`.
    pub fn create(admin_url: &str) -> Self {
        use diesel::Connection as _;
        use diesel::RunQueryDsl as _;
        let name = format!("joinery_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("cannot reach {POSTGRES_ENV}={admin_url}: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        let mut url = reqwest::Url::parse(admin_url).unwrap();
        url.set_path(&name);
        Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        use diesel::Connection as _;
        use diesel::RunQueryDsl as _;
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

pub use smtp_sink::SmtpServer;

#[path = "../support/smtp_sink.rs"]
mod smtp_sink;

/// A loopback port with nothing listening on it (for an SMTP server that is down).
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestApp {
    /// Creates a platform staff account (password [`PASSWORD`]).
    pub fn create_staff(&self, email: &str, name: &str) -> UserId {
        let id = self.create_user(email, name);
        self.db
            .with_conn(|c| db::users::set_staff(c, id, true))
            .unwrap();
        id
    }

    /// A browser logged in as `email` (password [`PASSWORD`]).
    pub async fn logged_in(&self, email: &str) -> Browser {
        let b = self.browser();
        let page = b.login(email, PASSWORD).await;
        assert_eq!(page.status, 200, "login as {email} failed: {}", page.text());
        b
    }

    /// The id of `email`'s membership of `org`.
    pub fn membership_id(&self, org: OrganizationId, email: &str) -> joinery::domain::MembershipId {
        let email = EmailAddress::parse(email).unwrap();
        let user = self
            .query(|c| db::users::find_credentials(c, &email))
            .unwrap()
            .user
            .id;
        self.query(|c| db::organizations::membership(c, org, user))
            .unwrap()
            .id
    }

    /// `email`'s role in `org`, if a member.
    pub fn role_of(&self, org: OrganizationId, email: &str) -> Option<Role> {
        let email = EmailAddress::parse(email).unwrap();
        let user = self
            .query(|c| db::users::find_credentials(c, &email))?
            .user
            .id;
        self.query(|c| db::organizations::membership(c, org, user))
            .map(|m| m.role)
    }

    /// The audit actions recorded for `org`, oldest first.
    pub fn audit_actions(&self, org: OrganizationId) -> Vec<(String, bool)> {
        let (rows, _) = self.query(|c| db::audit::list(c, org, None, None, 1000, 0));
        rows.into_iter()
            .rev()
            .map(|r| (r.action, r.actor_is_staff))
            .collect()
    }
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// Every table of the app's database (migration bookkeeping included), sorted.
pub fn table_names(app: &TestApp) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    let sql = match app.db.backend() {
        db::Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name"
        }
        db::Backend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY name"
        }
    };
    let names: Vec<Name> = app.query(|c| Ok(diesel::sql_query(sql).load(c)?));
    names.into_iter().map(|n| n.name).collect()
}

/// The columns of `table`, in table order.
pub fn column_names(app: &TestApp, table: &str) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    let sql = match app.db.backend() {
        db::Backend::Sqlite => {
            format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")
        }
        db::Backend::Postgres => format!(
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' \
             ORDER BY ordinal_position"
        ),
    };
    let names: Vec<Name> = app.query(|c| Ok(diesel::sql_query(sql).load(c)?));
    names.into_iter().map(|n| n.name).collect()
}

/// Every row of `table` as `column=value, …` over all its columns (NULL as `NULL`), sorted:
/// a snapshot to compare before and after something that must not write to it.
pub fn table_rows(app: &TestApp, table: &str) -> Vec<String> {
    use diesel::RunQueryDsl as _;
    let row = column_names(app, table)
        .iter()
        .map(|c| format!("'{c}=' || COALESCE(CAST(\"{c}\" AS TEXT), 'NULL')"))
        .collect::<Vec<_>>()
        .join(" || ', ' || ");
    let sql = format!("SELECT {row} AS name FROM \"{table}\" ORDER BY 1");
    let rows: Vec<Name> = app.query(|c| Ok(diesel::sql_query(sql).load(c)?));
    rows.into_iter().map(|r| r.name).collect()
}

/// Every `(table, column)` of the database whose text contains `needle`.
pub fn columns_containing(app: &TestApp, needle: &str) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // The substring test in each backend's dialect.
    let contains = match app.db.backend() {
        db::Backend::Sqlite => "instr(CAST(\"{column}\" AS TEXT), ?) > 0",
        db::Backend::Postgres => "strpos(CAST(\"{column}\" AS TEXT), $1) > 0",
    };
    let mut hits = Vec::new();
    for table in table_names(app) {
        for column in column_names(app, &table) {
            let sql = format!(
                "SELECT count(*) AS n FROM \"{table}\" WHERE {}",
                contains.replace("{column}", &column)
            );
            let found: Count = app.query(|c| {
                Ok(diesel::sql_query(sql)
                    .bind::<Text, _>(needle)
                    .get_result(c)?)
            });
            if found.n > 0 {
                hits.push((table.clone(), column));
            }
        }
    }
    hits
}

/// A POST whose body is still being sent: the server has the request's head (and its session)
/// but not all of its form yet. [`HeldPost::finish`] sends the rest and returns the answer.
pub struct HeldPost {
    rest: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    response: tokio::task::JoinHandle<Page>,
}

impl HeldPost {
    /// Sends `rest` as the last part of the body and waits for the answer.
    pub async fn finish(self, rest: &str) -> Page {
        self.rest.send(Ok(rest.as_bytes().to_vec())).await.unwrap();
        drop(self.rest);
        self.response.await.unwrap()
    }
}

impl Browser {
    /// Starts a form POST to `path` with a chunked body, sending `first` now and holding the
    /// rest until [`HeldPost::finish`]; returns once the server has had a moment to read the
    /// request's head (its session is loaded before the body is read).
    pub async fn post_held(&self, path: &str, first: &str) -> HeldPost {
        let (rest, chunks) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        rest.send(Ok(first.as_bytes().to_vec())).await.unwrap();
        let body = reqwest::Body::wrap_stream(futures::stream::unfold(chunks, |mut rx| async {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        let request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let response = tokio::spawn(async move { Self::page(request.send().await.unwrap()).await });
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        HeldPost { rest, response }
    }
}
