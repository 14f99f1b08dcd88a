//! Settings → Webhooks (issue 15 §2; Owner-only, like billing): add an endpoint (a URL the
//! SSRF guard allows, the events to send, a signing secret shown once), see its delivery log,
//! send a delivery again, turn a disabled endpoint back on, and remove it. Every change reads
//! the Owner's standing under the organization's lock and is audited as a settings change.
//! The events themselves are written where their changes are (`db::webhooks::emit`).

use chrono::{DateTime, Utc};

use super::{Actor, NoStanding, ServiceError, Services, refuse};
use crate::db::webhooks::{DeliveryRow, Endpoint};
use crate::db::{self, Conn, audit};
use crate::domain::audit::AuditAction;
use crate::domain::webhook::{EventType, SigningSecret, UrlRefused, parse_url};
use crate::domain::{OrganizationId, Permission, WebhookEndpointId};
use crate::webhooks::guard::Guard;

/// How many deliveries an endpoint's log shows.
pub const LOG_ROWS: i64 = 50;

/// Why a change on Settings → Webhooks was refused. `Display` is what the page says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// Only Owners (and staff) manage webhooks.
    #[error("Only Owners manage the organization's webhooks.")]
    NotPermitted,
    /// No such endpoint (or delivery) in this organization.
    #[error("No such webhook endpoint")]
    NotFound,
    /// The URL is not acceptable (beside the URL field).
    #[error("URL: {0}.")]
    Url(#[from] UrlRefused),
    /// No event chosen.
    #[error("Choose at least one event to send.")]
    NoEvents,
}

type Result<T> = std::result::Result<T, ServiceError<WebhookRefusal>>;

/// `actor`'s standing as an Owner (`billing`; staff act as Owners), under the lock when `lock`.
fn owner_in(c: &mut Conn, org: OrganizationId, actor: &Actor, lock: bool) -> Result<super::Acting> {
    let denied = WebhookRefusal::NotPermitted;
    super::permitted_in(c, org, actor, lock, Permission::Billing, denied)
}

/// `org`'s endpoints, for its Owners (and staff). Reads only.
///
/// # Errors
/// [`WebhookRefusal::NotPermitted`] below Owner; no standing; storage failures.
pub fn endpoints(svc: &Services, actor: &Actor, org: OrganizationId) -> Result<Vec<Endpoint>> {
    let mut conn = svc.conn()?;
    owner_in(&mut conn, org, actor, false)?;
    Ok(db::webhooks::endpoints(&mut conn, org)?)
}

/// Adds an endpoint of `org` for `url` and `events` as `actor` (an Owner): the URL must be
/// absolute http(s) and pass the SSRF guard now (resolved: no loopback, private or
/// link-local address unless `--webhooks-allow-private`). Returns it with its signing secret
/// — the only time the secret is shown. Audited.
///
/// # Errors
/// [`WebhookRefusal`] (nothing written): not an Owner; a bad or internal URL; no event.
pub fn add(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    url: &str,
    events: &[EventType],
    now: DateTime<Utc>,
) -> Result<(Endpoint, SigningSecret)> {
    let parsed = parse_url(url).map_err(WebhookRefusal::Url);
    // The address is resolved before the transaction (DNS may be slow).
    let checked = parsed.clone().and_then(|u| {
        Guard::of(&svc.settings)
            .check(&u)
            .map(|_| u)
            .map_err(WebhookRefusal::Url)
    });
    let secret = SigningSecret::generate();
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        let url = checked.clone().or_else(refuse)?;
        if events.is_empty() {
            return refuse(WebhookRefusal::NoEvents);
        }
        let id = WebhookEndpointId::new();
        let url = url.as_str();
        db::webhooks::insert_endpoint(c, id, org, url, events, &secret, actor.user.id, now)?;
        let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
        let details = format!("webhook endpoint {url} added for {}", names.join(", "));
        let ctx = acting.audit(actor);
        let action = AuditAction::SettingsChanged;
        audit::record(c, &ctx, Some(org), action, None, Some(&details), now)?;
        let endpoint = db::webhooks::endpoint(c, org, id)?
            .ok_or_else(|| db::DbError::Corrupt("endpoint vanished".into()))?;
        Ok((endpoint, secret.clone()))
    })
}

/// An endpoint with its newest deliveries.
#[derive(Debug, Clone)]
pub struct EndpointLog {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its newest deliveries (at most [`LOG_ROWS`]).
    pub deliveries: Vec<DeliveryRow>,
}

/// Endpoint `id` of `org` with its delivery log, for its Owners. Reads only.
///
/// # Errors
/// [`WebhookRefusal`]: not an Owner; no such endpoint.
pub fn log(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: WebhookEndpointId,
) -> Result<EndpointLog> {
    let mut conn = svc.conn()?;
    owner_in(&mut conn, org, actor, false)?;
    let Some(endpoint) = db::webhooks::endpoint(&mut conn, org, id)? else {
        return refuse(WebhookRefusal::NotFound);
    };
    let deliveries = db::webhooks::log(&mut conn, id, LOG_ROWS)?;
    Ok(EndpointLog {
        endpoint,
        deliveries,
    })
}

/// [`log`], in the shape of the other per-item operations (the time is not needed).
///
/// # Errors
/// As [`log`].
pub fn log_at(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: WebhookEndpointId,
    _now: DateTime<Utc>,
) -> Result<EndpointLog> {
    log(svc, actor, org, id)
}

/// "Redeliver": queues delivery `delivery` of endpoint `id` of `org` again now, with the same
/// `webhook-id` and body.
///
/// # Errors
/// [`WebhookRefusal`]: not an Owner; no such endpoint or delivery (or it is being sent).
pub fn redeliver(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: WebhookEndpointId,
    delivery: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        owner_in(c, org, actor, true)?;
        if db::webhooks::endpoint(c, org, id)?.is_none()
            || !db::webhooks::redeliver(c, id, delivery, now)?
        {
            return refuse(WebhookRefusal::NotFound);
        }
        Ok(())
    })
}

/// Turns endpoint `id` of `org` back on (after a fix): its waiting deliveries go out again.
/// Audited.
///
/// # Errors
/// [`WebhookRefusal`]: not an Owner; no such endpoint.
pub fn enable(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: WebhookEndpointId,
    now: DateTime<Utc>,
) -> Result<Endpoint> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        if !db::webhooks::enable(c, org, id)? {
            return refuse(WebhookRefusal::NotFound);
        }
        let endpoint = db::webhooks::endpoint(c, org, id)?
            .ok_or_else(|| db::DbError::Corrupt("endpoint vanished".into()))?;
        let details = format!("webhook endpoint {} turned back on", endpoint.url);
        let ctx = acting.audit(actor);
        audit::record(
            c,
            &ctx,
            Some(org),
            AuditAction::SettingsChanged,
            None,
            Some(&details),
            now,
        )?;
        Ok(endpoint)
    })
}

/// Endpoint `id` of `org` for its removal confirmation. Reads only.
///
/// # Errors
/// [`WebhookRefusal`]: not an Owner; no such endpoint.
pub fn find(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: WebhookEndpointId,
) -> Result<Endpoint> {
    let mut conn = svc.conn()?;
    owner_in(&mut conn, org, actor, false)?;
    db::webhooks::endpoint(&mut conn, org, id)?.map_or_else(|| refuse(WebhookRefusal::NotFound), Ok)
}

/// Removes endpoint `id` of `org` and its deliveries (nothing more is sent to it). Audited.
///
/// # Errors
/// [`WebhookRefusal`]: not an Owner; no such endpoint.
pub fn remove(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: WebhookEndpointId,
    now: DateTime<Utc>,
) -> Result<Endpoint> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = owner_in(c, org, actor, true)?;
        let Some(endpoint) = db::webhooks::endpoint(c, org, id)? else {
            return refuse(WebhookRefusal::NotFound);
        };
        db::webhooks::delete_endpoint(c, org, id)?;
        let details = format!("webhook endpoint {} removed", endpoint.url);
        let ctx = acting.audit(actor);
        audit::record(
            c,
            &ctx,
            Some(org),
            AuditAction::SettingsChanged,
            None,
            Some(&details),
            now,
        )?;
        Ok(endpoint)
    })
}
