//! Settings → Notifications: "Notify me when team members join". Settings belong to members
//! (not to staff acting without a membership) and a change is audited: both rules are
//! `service::organizations`'.

use actix_web::HttpResponse;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::{render, see_other};
use crate::paths;
use crate::service::organizations as service;
use crate::web::csrf::{CsrfForm, HasCsrfToken};
use crate::web::extractors::OrgRequest;
use crate::web::{AppError, Layout, flash};

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    action: String,
    notify_on_join: bool,
    is_owner: bool,
    /// The organization's invitation reminders, for Owners.
    reminders: Option<bool>,
    reminders_action: String,
}

/// GET /orgs/{org}/settings/notifications.
pub async fn notifications_page(req: OrgRequest) -> Result<HttpResponse, AppError> {
    let settings = req
        .call(|svc, actor, org, _| service::notifications(svc, actor, org))
        .await?;
    render(&NotificationsPage {
        layout: req.layout("Notifications")?,
        action: paths::notifications(req.org()),
        notify_on_join: settings.notify_on_join,
        is_owner: settings.is_owner,
        reminders: settings.reminders,
        reminders_action: paths::reminders(req.org()),
    })
}

/// The notifications form; an unticked checkbox is simply absent.
#[derive(Debug, Deserialize)]
pub struct NotificationsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    notify_on_join: Option<String>,
}

impl HasCsrfToken for NotificationsForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/settings/notifications.
pub async fn save_notifications(
    req: OrgRequest,
    CsrfForm(form): CsrfForm<NotificationsForm>,
) -> Result<HttpResponse, AppError> {
    let on = form.notify_on_join.is_some();
    req.call(move |svc, actor, org, now| service::set_notifications(svc, actor, org, on, now))
        .await?;
    flash::success(
        &req.session,
        if on {
            "Saved: you will get an email when someone joins."
        } else {
            "Saved: you will not get an email when someone joins."
        },
    );
    Ok(see_other(&paths::notifications(req.org())))
}

/// The reminders form; an unticked checkbox is simply absent.
#[derive(Debug, Deserialize)]
pub struct RemindersForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reminders: Option<String>,
}

impl HasCsrfToken for RemindersForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/settings/reminders — turns the organization's invitation reminders on or
/// off (Owners; others get 403).
pub async fn save_reminders(
    req: OrgRequest,
    CsrfForm(form): CsrfForm<RemindersForm>,
) -> Result<HttpResponse, AppError> {
    req.require(crate::domain::Permission::Billing)?;
    let on = form.reminders.is_some();
    req.call(move |svc, actor, org, now| service::set_reminders(svc, actor, org, on, now))
        .await?;
    flash::success(
        &req.session,
        if on {
            "Saved: invitees who have not answered get reminders on days 2 and 5."
        } else {
            "Saved: invitees get no reminders."
        },
    );
    Ok(see_other(&paths::notifications(req.org())))
}
