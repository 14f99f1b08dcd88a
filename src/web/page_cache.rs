//! Rendered pages reused while nothing they show has changed (issue 16): the Team page of a
//! large organization costs milliseconds to read and render, and is asked for again and again
//! unchanged.
//!
//! A page is stored under a [`PageKey`] that names everything it depends on:
//! - the organization and its **version**, which the database raises in the same transaction
//!   as every change to the organization's members, invitations, their emails' delivery
//!   states, invite links, join requests, domains and settings (migration
//!   `000120_organization_version`: triggers, so no way in can forget it);
//! - the viewer, and the role and standing read from the database on this request (DESIGN.md:
//!   roles are never cached);
//! - the query string (filter, sort and page of every table);
//! - the layout (the header, the CSRF token of the viewer's session);
//! - the current second: relative times ("3 minutes ago"), expiries and resend countdowns are
//!   never more than a second old.
//!
//! Pages with a one-shot message (a flash or an invite result) are never stored. Each stored
//! page carries a strong `ETag`, so a browser's revalidation (`If-None-Match`) is answered
//! with `304 Not Modified` and no body.

use std::hash::{Hash, Hasher};

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};

use super::Layout;
use crate::domain::{OrganizationId, Role, UserId};

/// How many bytes of rendered pages are kept at most (the least recently used go first).
pub const PAGE_CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// Everything a cached organization page depends on; equal keys mean equal pages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// Which page (e.g. `"team"`).
    pub page: &'static str,
    /// The organization.
    pub org: OrganizationId,
    /// Its version when the request read it.
    pub version: i64,
    /// Who is looking.
    pub viewer: UserId,
    /// The role they act with, read on this request.
    pub role: Role,
    /// Whether they act as platform staff.
    pub as_staff: bool,
    /// The request's query string, as sent.
    pub query: String,
    /// The page's layout (header, switcher, CSRF token); never one with a flash message.
    pub layout: Layout,
    /// The current second (Unix time).
    pub second: i64,
}

impl PageKey {
    /// The second of `now`, for [`PageKey::second`].
    pub fn second_of(now: DateTime<Utc>) -> i64 {
        now.timestamp()
    }
}

/// A rendered page and its entity tag.
#[derive(Debug, Clone)]
pub struct CachedPage {
    body: Bytes,
    etag: HeaderValue,
}

impl CachedPage {
    /// `html`, with a strong `ETag` computed from its bytes.
    pub fn new(html: String) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        html.hash(&mut hasher);
        let etag = HeaderValue::from_str(&format!("\"{:016x}-{:x}\"", hasher.finish(), html.len()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Self {
            body: Bytes::from(html),
            etag,
        }
    }

    /// The answer to `req`: `304 Not Modified` when its `If-None-Match` names this page's tag,
    /// else the page (200). Both carry the tag and `Cache-Control: private, no-cache`, so a
    /// browser keeps the page for this person only and asks again before reusing it.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let matches = req
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|tag| tag.trim())
            // If-None-Match compares weakly (RFC 9110, 13.1.2): a `W/` prefix still matches.
            .any(|tag| {
                tag == "*" || tag.trim_start_matches("W/").as_bytes() == self.etag.as_bytes()
            });
        let mut response = if matches {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        response
            .insert_header((header::ETAG, self.etag.clone()))
            .insert_header((header::CACHE_CONTROL, "private, no-cache"));
        if matches {
            response.finish()
        } else {
            response
                .content_type("text/html; charset=utf-8")
                .body(self.body.clone())
        }
    }
}

/// Counts a stored page's bytes against [`PAGE_CACHE_BYTES`].
#[derive(Debug, Clone, Copy)]
struct ByBytes;

impl quick_cache::Weighter<PageKey, CachedPage> for ByBytes {
    fn weight(&self, key: &PageKey, page: &CachedPage) -> u64 {
        (page.body.len() + key.query.len() + 512) as u64
    }
}

/// The rendered pages kept in this instance's memory (`quick_cache`: sharded, least recently
/// used evicted first, bounded by bytes).
pub struct PageCache {
    pages: quick_cache::sync::Cache<PageKey, CachedPage, ByBytes>,
}

impl PageCache {
    /// An empty cache holding at most `bytes` of pages.
    pub fn new(bytes: u64) -> Self {
        Self {
            pages: quick_cache::sync::Cache::with_weighter(64, bytes, ByBytes),
        }
    }

    /// The page stored under `key`, if any.
    pub fn get(&self, key: &PageKey) -> Option<CachedPage> {
        self.pages.get(key)
    }

    /// Stores `page` under `key`.
    pub fn insert(&self, key: PageKey, page: CachedPage) {
        self.pages.insert(key, page);
    }
}

impl Default for PageCache {
    fn default() -> Self {
        Self::new(PAGE_CACHE_BYTES)
    }
}
