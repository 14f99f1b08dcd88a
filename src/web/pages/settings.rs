//! Settings → Notifications: "Notify me when team members join".

use actix_session::Session;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{paths, render, see_other};
use crate::db;
use crate::domain::Role;
use crate::web::csrf::{CsrfForm, HasCsrfToken};
use crate::web::extractors::OrgMember;
use crate::web::{AppError, AppState, Layout, flash};

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    action: String,
    notify_on_join: bool,
    is_owner: bool,
}

/// GET /orgs/{org}/settings/notifications.
pub async fn notifications_page(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
) -> Result<HttpResponse, AppError> {
    render(&NotificationsPage {
        layout: Layout::new(&state, &session, "Notifications", Some(&member.user))?
            .in_org(&member.org),
        action: paths::notifications(member.org.id),
        notify_on_join: member.membership.notify_on_join,
        is_owner: member.membership.role == Role::Owner,
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
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    CsrfForm(form): CsrfForm<NotificationsForm>,
) -> Result<HttpResponse, AppError> {
    let on = form.notify_on_join.is_some();
    let id = member.membership.id;
    state
        .db
        .run(move |c| db::organizations::set_notify_on_join(c, id, on))
        .await?;
    flash::success(
        &session,
        if on {
            "Saved: you will get an email when someone joins."
        } else {
            "Saved: you will not get an email when someone joins."
        },
    );
    Ok(see_other(&paths::notifications(member.org.id)))
}
