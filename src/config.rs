//! Joinery's resolved configuration: one value built by the CLI and passed to `startup`, never
//! a global.

use std::path::{Path, PathBuf};

use actix_web::cookie::Key;
use anyhow::{Context, bail};
use base64::Engine as _;
use chrono::Duration;

use crate::domain::token::{TokenKey, fill_random};

/// Everything the server needs to run.
#[derive(Clone)]
pub struct Settings {
    /// `postgres://…` for PostgreSQL; `sqlite://PATH` or a path for SQLite.
    pub database_url: String,
    /// Address to listen on, e.g. `127.0.0.1:8080`; port 0 picks a free port.
    pub bind: String,
    /// The public base URL (no trailing slash); the only source of links in emails. `None`
    /// means `http://{bound address}`.
    pub base_url: Option<String>,
    /// Where the SQLite file, development keys and the mailbox live.
    pub data_dir: PathBuf,
    /// SMTP server URL; without it email goes to `{data_dir}/mailbox`.
    pub smtp_url: Option<String>,
    /// The From address of every email.
    pub mail_from: String,
    /// Signs and encrypts the session cookie (64 bytes).
    pub session_key: Key,
    /// Derives invitation tokens (32 bytes).
    pub token_key: TokenKey,
    /// Development mode: enables `/dev/mailbox`.
    pub dev: bool,
    /// How long a new invitation stays usable.
    pub invitation_ttl: Duration,
    /// The most invitations one organization may create per rolling hour.
    pub invitations_per_hour: i64,
    /// Log-in attempts allowed per client IP per minute; also the budget of every other POST
    /// that hashes or verifies a password.
    pub login_attempts_per_minute: u32,
    /// Token look-ups that find nothing (404) allowed per client per minute; past them every
    /// token look-up from the client gets 429 for a while (`web::limits::token_lookups`).
    pub token_lookup_misses_per_minute: u32,
    /// Connections in the database pool.
    pub db_pool_size: u32,
    /// Outbox delivery tasks in this instance (each claims its own batches).
    pub outbox_workers: u32,
    /// Threads that hash and verify passwords (argon2id): the most hashes in flight at once,
    /// which bounds the memory and CPU a flood of log-ins can take.
    pub password_threads: usize,
    /// How often an idle outbox worker looks for due email.
    pub outbox_poll_interval: std::time::Duration,
    /// Whether webhook endpoints may be loopback, private or link-local addresses
    /// (`--webhooks-allow-private`; off: such endpoints are refused at registration and at
    /// delivery, after DNS resolution).
    pub webhooks_allow_private: bool,
    /// Host names the webhook guard resolves to these addresses instead of asking DNS: a stub
    /// resolver for tests (empty in production).
    pub webhook_hosts: Vec<(String, std::net::IpAddr)>,
    /// Proxies whose `X-Forwarded-For` is believed (DESIGN.md: the audit log records the peer
    /// address, or a forwarded one only from these).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where `/metrics` is served (its own listener, never the public one); `None` serves no
    /// metrics.
    pub metrics_bind: Option<String>,
    /// How long a request (or a background task) waits for a database connection before it is
    /// answered 503: it bounds how long requests hang while the database is down.
    pub db_checkout_timeout: std::time::Duration,
    /// How long a claimed outbox row stays leased to its delivery task (a task that dies
    /// holding rows delays them this long).
    pub outbox_lease: Duration,
}

/// How long a request waits for a database connection by default (`--db-checkout-timeout-ms`).
pub const DEFAULT_DB_CHECKOUT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &crate::db::redacted_url(&self.database_url))
            .field("bind", &self.bind)
            .field("base_url", &self.base_url)
            .field("data_dir", &self.data_dir)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("dev", &self.dev)
            .field("metrics_bind", &self.metrics_bind)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings for tests and tools: a SQLite file and fresh random keys under `data_dir`,
    /// bound to a free loopback port, development mode on.
    pub fn for_tests(data_dir: &Path) -> Self {
        let mut session = [0u8; 64];
        fill_random(&mut session);
        let mut token = [0u8; 32];
        fill_random(&mut token);
        Self {
            database_url: data_dir.join("joinery.db").display().to_string(),
            bind: "127.0.0.1:0".into(),
            base_url: None,
            data_dir: data_dir.to_path_buf(),
            smtp_url: None,
            mail_from: "Joinery <no-reply@joinery.test>".into(),
            session_key: Key::from(&session),
            token_key: TokenKey::from_bytes(token),
            dev: true,
            invitation_ttl: crate::domain::invitation::DEFAULT_TTL,
            invitations_per_hour: 1_000,
            login_attempts_per_minute: 10,
            token_lookup_misses_per_minute: 20,
            db_pool_size: 8,
            outbox_workers: 2,
            password_threads: 8,
            outbox_poll_interval: std::time::Duration::from_millis(100),
            webhooks_allow_private: false,
            webhook_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            metrics_bind: None,
            db_checkout_timeout: crate::db::DEFAULT_CHECKOUT_TIMEOUT,
            outbox_lease: crate::db::outbox::LEASE,
        }
    }

    /// Whether cookies must be `Secure` and `__Host-` prefixed: the base URL is https.
    pub fn https(&self) -> bool {
        self.base_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

/// Checks a base URL: absolute http(s), no query or fragment; returns it without a trailing
/// slash.
///
/// # Errors
/// When the URL does not parse or is not http(s).
pub fn normalize_base_url(input: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(input)
        .with_context(|| format!("JOINERY_BASE_URL {input:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("JOINERY_BASE_URL must be an http:// or https:// URL, got {input:?}");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("JOINERY_BASE_URL cannot have a query or fragment");
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Parses a comma-separated list of IP addresses and CIDR networks (`10.0.0.1, 10.1.0.0/16`).
///
/// # Errors
/// Naming the first entry that is neither.
pub fn parse_trusted_proxies(text: &str) -> anyhow::Result<Vec<ipnet::IpNet>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| {
                    format!("JOINERY_TRUSTED_PROXIES: {entry:?} is not an IP address or network")
                })
        })
        .collect()
}

/// Decodes a key given as hex or base64 and checks it has at least `min_len` bytes.
///
/// # Errors
/// When it decodes as neither or is too short.
pub fn decode_key(name: &str, text: &str, min_len: usize) -> anyhow::Result<Vec<u8>> {
    let text = text.trim();
    let bytes = hex::decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
        .with_context(|| format!("{name} must be hex or base64"))?;
    if bytes.len() < min_len {
        bail!(
            "{name} must hold at least {min_len} bytes (got {})",
            bytes.len()
        );
    }
    Ok(bytes)
}

/// Reads the key file `{data_dir}/{file}` (hex), creating it with `len` random bytes if it is
/// missing. For development only: production passes keys through the environment.
///
/// # Errors
/// When the file cannot be read or written.
pub fn load_or_create_key_file(data_dir: &Path, file: &str, len: usize) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(file);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return decode_key(&path.display().to_string(), &text, len);
    }
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes);
    std::fs::write(&path, hex::encode(&bytes))
        .with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    tracing::warn!(path = %path.display(), "generated a development key; set it explicitly in production");
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_database_password() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut settings = Settings::for_tests(dir.path());
        settings.database_url = "postgres://joinery:s3cret@db.internal/joinery".into();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://joinery:***@db.internal/joinery"),
            "{shown}"
        );
    }

    #[test]
    fn base_url_is_checked_and_trimmed() {
        assert_eq!(
            normalize_base_url("https://x.test/").unwrap(),
            "https://x.test"
        );
        assert_eq!(
            normalize_base_url("http://x.test/app/").unwrap(),
            "http://x.test/app"
        );
        assert!(normalize_base_url("ftp://x.test").is_err());
        assert!(normalize_base_url("x.test").is_err());
        assert!(normalize_base_url("https://x.test/?a=1").is_err());
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_networks() {
        let nets = parse_trusted_proxies("10.0.0.1, 192.168.0.0/16,::1").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[1].contains(&"192.168.4.5".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_trusted_proxies("10.0.0.1, bogus").is_err());
        assert!(parse_trusted_proxies("").unwrap().is_empty());
    }

    #[test]
    fn keys_decode_from_hex_or_base64_and_need_length() {
        assert_eq!(decode_key("k", &"ab".repeat(32), 32).unwrap().len(), 32);
        assert!(decode_key("k", &"ab".repeat(8), 32).is_err());
        assert!(decode_key("k", "not a key!", 1).is_err());
    }
}
