//! Settings → Notifications: "Notify me when team members join".

use crate::web::session::Session;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other};
use crate::db;
use crate::domain::Role;
use crate::domain::audit::AuditAction;
use crate::paths;
use crate::web::csrf::{CsrfForm, HasCsrfToken};
use crate::web::extractors::OrgMember;
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    action: String,
    notify_on_join: bool,
    is_owner: bool,
}

/// The person's own membership: notification settings belong to members, not to staff acting
/// in an organization they do not belong to.
fn own_membership(member: &OrgMember) -> Result<&crate::domain::Membership, AppError> {
    member.membership.as_ref().ok_or_else(|| {
        AppError::Forbidden(
            "Notification settings belong to members; you are acting here as platform staff."
                .into(),
        )
    })
}

/// GET /orgs/{org}/settings/notifications.
pub async fn notifications_page(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
) -> Result<HttpResponse, AppError> {
    let membership = own_membership(&member)?;
    render(&NotificationsPage {
        layout: Layout::new(&state, &session, "Notifications", Some(&member.user))?.in_org(&member),
        action: paths::notifications(member.org.id),
        notify_on_join: membership.notify_on_join,
        is_owner: member.role == Role::Owner,
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
    Meta(meta): Meta,
    CsrfForm(form): CsrfForm<NotificationsForm>,
) -> Result<HttpResponse, AppError> {
    let on = form.notify_on_join.is_some();
    let id = own_membership(&member)?.id;
    let org = member.org.id;
    let audit = member.audit(meta);
    let now = state.clock.now();
    state
        .db
        .run(move |c| {
            db::write_transaction(c, |c| {
                db::organizations::set_notify_on_join(c, id, on)?;
                let detail = format!(
                    "Notify me when team members join: {}",
                    if on { "on" } else { "off" }
                );
                db::audit::record(
                    c,
                    &audit,
                    Some(org),
                    AuditAction::SettingsChanged,
                    None,
                    Some(&detail),
                    now,
                )
            })
        })
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
