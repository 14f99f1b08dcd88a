//! Settings → Webhooks (issue 15 §2; Owner-only, like billing): the endpoints, "Add endpoint"
//! (the signing secret shown once, on the page the form answers with, sent no-store), each
//! endpoint's delivery log with Redeliver, turning a disabled endpoint back on, and removal
//! with a confirmation page. The rules are `service::webhooks`'; these handlers parse, call it
//! once and render.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::team::TimeView;
use super::{render, render_refused, see_other};
use crate::domain::webhook::EventType;
use crate::domain::{OrganizationId, Permission, WebhookEndpointId};
use crate::paths;
use crate::service::webhooks::{self as service, WebhookRefusal};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::{OrgRequest, on};
use crate::web::links::respond;
use crate::web::refusals::{Refusal, shown};
use crate::web::{AppError, Layout, flash};

/// An endpoint of an organization, from `/orgs/{org}/settings/webhooks/{id}…` (a malformed id
/// is a 404).
type EndpointPath = web::Path<(OrganizationId, WebhookEndpointId)>;

/// One endpoint as the list shows it.
struct EndpointRow {
    url: String,
    events: String,
    state: &'static str,
    since: Option<TimeView>,
    log_path: String,
}

/// The "Add endpoint" form as shown.
struct AddForm {
    url: String,
    chosen: Vec<&'static str>,
    url_error: Option<String>,
    events_error: Option<String>,
}

/// An endpoint just added: its URL and secret, shown once.
struct Added {
    url: String,
    secret: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    endpoints: Vec<EndpointRow>,
    events: [EventType; 8],
    add_path: String,
    form: AddForm,
    added: Option<Added>,
}

fn back(org: OrganizationId) -> impl Fn(AppError) -> AppError {
    move |e| e.back_to(paths::webhooks(org), "Back to Webhooks")
}

async fn page(
    req: &OrgRequest,
    form: AddForm,
    added: Option<Added>,
) -> Result<WebhooksPage, AppError> {
    let endpoints = req
        .call(|svc, actor, org, _| service::endpoints(svc, actor, org))
        .await?;
    let (org, now) = (req.org(), req.state.clock.now());
    Ok(WebhooksPage {
        layout: req.layout("Webhooks")?,
        endpoints: endpoints
            .into_iter()
            .map(|e| {
                let (state, since) = match (e.disabled_at, e.failing_since) {
                    (Some(at), _) => ("disabled", Some(TimeView::new(at, now))),
                    (None, Some(at)) => ("failing", Some(TimeView::new(at, now))),
                    (None, None) => ("active", None),
                };
                EndpointRow {
                    log_path: paths::webhook(org, e.id),
                    events: e
                        .events
                        .iter()
                        .map(|e| e.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    url: e.url,
                    state,
                    since,
                }
            })
            .collect(),
        events: EventType::ALL,
        add_path: paths::webhooks(org),
        form,
        added,
    })
}

/// GET /orgs/{org}/settings/webhooks — the endpoints and "Add endpoint". Owners (and staff)
/// only: others get 403.
pub async fn webhooks_page(req: OrgRequest) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let form = AddForm {
        url: String::new(),
        chosen: EventType::ALL.iter().map(|e| e.as_str()).collect(),
        url_error: None,
        events_error: None,
    };
    render(&page(&req, form, None).await?)
}

/// "Add endpoint" as submitted: the URL and one `event.{name}` checkbox per event.
#[derive(Debug, Deserialize)]
pub struct AddSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    url: String,
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl HasCsrfToken for AddSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/settings/webhooks — adds an endpoint and shows its signing secret once. A
/// bad or internal URL, or no event, re-shows the form with the input kept (422).
pub async fn add(
    req: OrgRequest,
    CsrfForm(input): CsrfForm<AddSubmission>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let events: Vec<EventType> = EventType::ALL
        .into_iter()
        .filter(|e| input.rest.contains_key(&format!("event.{}", e.as_str())))
        .collect();
    let mut form = AddForm {
        url: input.url.chars().take(2_000).collect(),
        chosen: events.iter().map(|e| e.as_str()).collect(),
        url_error: None,
        events_error: None,
    };
    let url = input.url.clone();
    let chosen = events.clone();
    let added = req
        .call(move |svc, actor, org, now| service::add(svc, actor, org, &url, &chosen, now))
        .await;
    match added {
        Ok((endpoint, secret)) => {
            let added = Added {
                url: endpoint.url,
                secret: secret.expose().to_owned(),
            };
            let fresh = AddForm {
                url: String::new(),
                chosen: EventType::ALL.iter().map(|e| e.as_str()).collect(),
                url_error: None,
                events_error: None,
            };
            respond(&page(&req, fresh, Some(added)).await?, StatusCode::OK)
        }
        Err(e) => {
            let (refusal, _) = shown(e)?;
            match &refusal {
                WebhookRefusal::Url(_) => form.url_error = Some(refusal.to_string()),
                WebhookRefusal::NoEvents => form.events_error = Some(refusal.to_string()),
                _ => return Err(crate::service::ServiceError::Refused(refusal).into()),
            }
            render_refused(&page(&req, form, None).await?, refusal.rejection(), None)
        }
    }
}

/// One delivery as the log shows it.
struct DeliveryView {
    id: String,
    event: String,
    status: String,
    code: Option<i32>,
    attempts: i32,
    error: Option<String>,
    created: TimeView,
    redeliver_path: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "webhook_log.html")]
struct LogPage {
    layout: Layout,
    url: String,
    events: String,
    disabled: Option<TimeView>,
    failing: Option<TimeView>,
    deliveries: Vec<DeliveryView>,
    enable_path: String,
    remove_path: String,
    back_path: String,
}

/// GET /orgs/{org}/settings/webhooks/{id} — the endpoint's newest 50 deliveries (event,
/// status, response code, attempts, time) with Redeliver; "Turn back on" when disabled.
pub async fn log_page(req: OrgRequest, path: EndpointPath) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let (org, id) = path.into_inner();
    let log = req
        .call(on(id, service::log_at))
        .await
        .map_err(|e| back(org)(e.into()))?;
    let now = req.state.clock.now();
    let e = &log.endpoint;
    render(&LogPage {
        layout: req.layout("Webhook deliveries")?,
        url: e.url.clone(),
        events: e
            .events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        disabled: e.disabled_at.map(|at| TimeView::new(at, now)),
        failing: e.failing_since.map(|at| TimeView::new(at, now)),
        deliveries: log
            .deliveries
            .iter()
            .map(|d| DeliveryView {
                id: d.id.clone(),
                event: d.event_type.clone(),
                status: d.status.clone(),
                code: d.last_status,
                attempts: d.attempts,
                error: d.last_error.clone(),
                created: TimeView::new(crate::db::from_db(d.created_at), now),
                redeliver_path: paths::redeliver(org, id, &d.id),
            })
            .collect(),
        enable_path: paths::enable_webhook(org, id),
        remove_path: paths::remove_webhook(org, id),
        back_path: paths::webhooks(org),
    })
}

/// POST /orgs/{org}/settings/webhooks/{id}/deliveries/{delivery}/redeliver — sends that
/// delivery again with the same `webhook-id`; back to the log.
pub async fn redeliver(
    req: OrgRequest,
    path: web::Path<(OrganizationId, WebhookEndpointId, String)>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let (org, id, delivery) = path.into_inner();
    let d = delivery.chars().take(80).collect::<String>();
    req.call(move |svc, actor, org, now| service::redeliver(svc, actor, org, id, &d, now))
        .await
        .map_err(|e| back(org)(e.into()))?;
    flash::success(&req.session, "Queued again: it goes out in a moment.");
    Ok(see_other(&paths::webhook(org, id)))
}

/// POST /orgs/{org}/settings/webhooks/{id}/enable — turns a disabled endpoint back on; its
/// waiting deliveries go out again.
pub async fn enable(
    req: OrgRequest,
    path: EndpointPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let (org, id) = path.into_inner();
    let endpoint = req
        .call(on(id, service::enable))
        .await
        .map_err(|e| back(org)(e.into()))?;
    flash::success(
        &req.session,
        format!("{} is on again; waiting events go out now.", endpoint.url),
    );
    Ok(see_other(&paths::webhook(org, id)))
}

#[derive(Template, WebTemplate)]
#[template(path = "webhook_remove.html")]
struct RemovePage {
    layout: Layout,
    url: String,
    action: String,
    back_path: String,
}

/// GET /orgs/{org}/settings/webhooks/{id}/remove — asks "Remove this endpoint?".
pub async fn remove_confirm(req: OrgRequest, path: EndpointPath) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let (org, id) = path.into_inner();
    let endpoint = req
        .call(on(id, |svc, actor, org, id, _| {
            service::find(svc, actor, org, id)
        }))
        .await
        .map_err(|e| back(org)(e.into()))?;
    render(&RemovePage {
        layout: req.layout("Remove webhook endpoint")?,
        url: endpoint.url,
        action: paths::remove_webhook(org, id),
        back_path: paths::webhook(org, id),
    })
}

/// POST /orgs/{org}/settings/webhooks/{id}/remove — removes the endpoint and its deliveries.
pub async fn remove(
    req: OrgRequest,
    path: EndpointPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let (org, id) = path.into_inner();
    let endpoint = req
        .call(on(id, service::remove))
        .await
        .map_err(|e| back(org)(e.into()))?;
    flash::success(
        &req.session,
        format!("{} was removed; nothing more is sent to it.", endpoint.url),
    );
    Ok(see_other(&paths::webhooks(org)))
}
