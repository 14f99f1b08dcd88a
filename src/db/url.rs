//! Database URLs: the path SQLite opens, and the form fit to show (passwords hidden).

use super::Backend;

/// A database URL fit to log or print: the password of a PostgreSQL URL (in its user
/// information or a `password=` query parameter) is replaced by `***`
/// (`postgres://user:secret@host/db` → `postgres://user:***@host/db`). A URL without a
/// password, and any SQLite path, comes back unchanged. Every place that shows a database URL
/// (settings' `Debug`, start-up errors, the CLI) goes through this.
pub fn redacted_url(database_url: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if Backend::of(database_url) != Backend::Postgres {
        return Cow::Borrowed(database_url);
    }
    let Some(scheme_end) = database_url.find("://").map(|i| i + 3) else {
        return Cow::Borrowed(database_url);
    };
    let (scheme, rest) = database_url.split_at(scheme_end);
    // The authority ends where the path, query or fragment begins (as libpq reads it); the
    // user information is what precedes its last `@`.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => match authority[..at].find(':') {
            Some(colon) => Cow::Owned(format!("{}:***{}", &authority[..colon], &authority[at..])),
            None => Cow::Borrowed(authority),
        },
        None => Cow::Borrowed(authority),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) if query.split(['&', '#']).any(is_password_param) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if is_password_param(pair) => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
            Cow::Owned(format!("{path}?{}{fragment}", query.join("&")))
        }
        _ => Cow::Borrowed(tail),
    };
    match (authority, tail) {
        (Cow::Borrowed(_), Cow::Borrowed(_)) => Cow::Borrowed(database_url),
        (authority, tail) => Cow::Owned(format!("{scheme}{authority}{tail}")),
    }
}

/// Whether a query pair (`key=value`) gives a password.
fn is_password_param(pair: &str) -> bool {
    pair.split_once('=')
        .is_some_and(|(key, _)| key.eq_ignore_ascii_case("password"))
}

/// Turns a `DATABASE_URL` into the path SQLite opens: `sqlite://path`, `sqlite:path` and a bare
/// path are all accepted.
pub fn sqlite_path(database_url: &str) -> &str {
    database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .unwrap_or(database_url)
}
