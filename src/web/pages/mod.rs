//! Page handlers, one module per area. Each handler reads like a sentence: who is asking →
//! parse the form into domain types → ask the domain → store the result → render or redirect.

pub mod acceptance;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod csv_import;
pub mod dashboard;
pub mod dev;
pub mod health;
pub mod invite_links;
pub mod member_export;
pub mod members;
pub mod settings;
pub mod signup;
pub mod staff;
pub mod team;
pub mod tenant_acceptance;

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use askama::Template;

use super::AppError;
use super::error::Rejection;

/// Paths of pages that handlers link or redirect to (the route table is `web::routes`).
pub mod paths {
    use crate::domain::csv_import::ImportId;
    use crate::domain::{InvitationId, InviteLinkId, MembershipId, OrganizationId};

    /// The organization's dashboard.
    pub fn dashboard(org: OrganizationId) -> String {
        format!("/orgs/{org}")
    }

    /// The Team Management page.
    pub fn team(org: OrganizationId) -> String {
        format!("/orgs/{org}/team")
    }

    /// The members of the Team page as a CSV download.
    pub fn export_members(org: OrganizationId) -> String {
        format!("/orgs/{org}/team/members.csv")
    }

    /// The invite form as a page of its own (no JavaScript).
    pub fn invite(org: OrganizationId) -> String {
        format!("/orgs/{org}/team/invite")
    }

    /// Where the invite form posts.
    pub fn send_invitations(org: OrganizationId) -> String {
        format!("/orgs/{org}/invitations")
    }

    /// Resend one invitation.
    pub fn resend(org: OrganizationId, id: InvitationId) -> String {
        format!("/orgs/{org}/invitations/{id}/resend")
    }

    /// Revoke one invitation (GET asks for confirmation, POST does it).
    pub fn revoke(org: OrganizationId, id: InvitationId) -> String {
        format!("/orgs/{org}/invitations/{id}/revoke")
    }

    /// Change a member's role (POST).
    pub fn member_role(org: OrganizationId, id: MembershipId) -> String {
        format!("/orgs/{org}/members/{id}/role")
    }

    /// Remove a member (GET asks for confirmation, POST does it).
    pub fn remove_member(org: OrganizationId, id: MembershipId) -> String {
        format!("/orgs/{org}/members/{id}/remove")
    }

    /// Leave the organization (GET asks, POST does it).
    pub fn leave(org: OrganizationId) -> String {
        format!("/orgs/{org}/leave")
    }

    /// The Billing page.
    pub fn billing(org: OrganizationId) -> String {
        format!("/orgs/{org}/billing")
    }

    /// Notification settings.
    pub fn notifications(org: OrganizationId) -> String {
        format!("/orgs/{org}/settings/notifications")
    }

    /// The organization's audit log.
    pub fn audit(org: OrganizationId) -> String {
        format!("/orgs/{org}/audit")
    }

    /// The "Create invite link" form (GET).
    pub fn new_invite_link(org: OrganizationId) -> String {
        format!("/orgs/{org}/invite-links/new")
    }

    /// Where the "Create invite link" form posts.
    pub fn create_invite_link(org: OrganizationId) -> String {
        format!("/orgs/{org}/invite-links")
    }

    /// Revoke one invite link (GET asks for confirmation, POST does it).
    pub fn revoke_invite_link(org: OrganizationId, id: InviteLinkId) -> String {
        format!("/orgs/{org}/invite-links/{id}/revoke")
    }

    /// Where an invite link leads, as a path (prefix the configured base URL for the link
    /// shown to its creator; never the request's Host).
    pub fn join(token: &str) -> String {
        format!("/join/{token}")
    }

    /// The CSV import's upload form (GET) and where it posts (POST). The Team page links here.
    pub fn import_invitations(org: OrganizationId) -> String {
        format!("/orgs/{org}/invitations/import")
    }

    /// An example CSV file to fill in.
    pub fn import_example(org: OrganizationId) -> String {
        format!("/orgs/{org}/invitations/import/example.csv")
    }

    /// One uploaded import's preview (GET) and its confirmation (POST).
    pub fn import_preview(org: OrganizationId, id: ImportId) -> String {
        format!("/orgs/{org}/invitations/import/{id}")
    }

    /// Cancel an uploaded import (POST).
    pub fn import_cancel(org: OrganizationId, id: ImportId) -> String {
        format!("/orgs/{org}/invitations/import/{id}/cancel")
    }

    /// What happened to each row of a sent import (GET; where the confirmation redirects).
    pub fn import_result(org: OrganizationId, id: ImportId) -> String {
        format!("/orgs/{org}/invitations/import/{id}/result")
    }
}

/// A 303 redirect to `location` (after a POST, so a reload does not resubmit).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Renders `page` as HTML with `status` (for form errors: 400 or 422 with the form re-shown).
///
/// # Errors
/// [`AppError::Internal`] if the template fails.
pub fn render_with_status(
    page: &impl Template,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

/// Renders `page` — a form re-shown with its input kept and why it was refused — with the
/// status of `rejection` (the status policy, `web::error::Rejection`), and for a rate limit
/// `Retry-After: retry_after` seconds (at least 1).
///
/// # Errors
/// [`AppError::Internal`] if the template fails.
pub fn render_refused(
    page: &impl Template,
    rejection: Rejection,
    retry_after: Option<u64>,
) -> Result<HttpResponse, AppError> {
    let mut response = render_with_status(page, rejection.status())?;
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(seconds.max(1)),
        );
    }
    Ok(response)
}

/// Seconds from `now` until `at`, at least 1 (for `Retry-After`).
pub fn seconds_until(at: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
}

/// Renders `page` as a 200 HTML response.
///
/// # Errors
/// [`AppError::Internal`] if the template fails.
pub fn render(page: &impl Template) -> Result<HttpResponse, AppError> {
    render_with_status(page, StatusCode::OK)
}
