//! Every path of the site, defined once. The router registers each [`Route`]'s pattern
//! (`web::routes`), and pages, emails and tests build links with the typed function beside it
//! (`paths::team(org)`), so a path cannot drift between where it is served and where it is
//! linked. Links in emails are the configured base URL followed by one of these paths, never
//! the request's Host.

use std::fmt::Display;

use crate::domain::csv_import::ImportId;
use crate::domain::{InvitationId, InviteLinkId, MembershipId, OrganizationId};

/// A path pattern as the router matches it: literal segments and `{name}` segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route(&'static str);

impl Route {
    /// The pattern, e.g. `/orgs/{org}/team`, for the router.
    pub const fn pattern(self) -> &'static str {
        self.0
    }

    /// The path with each `{…}` segment replaced by the next of `args`, in order.
    pub fn with(self, args: &[&dyn Display]) -> String {
        let mut path = String::with_capacity(self.0.len() + 40);
        let mut args = args.iter();
        let mut rest = self.0;
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |i| open + i + 1);
            if let Some(arg) = args.next() {
                path.push_str(&arg.to_string());
            }
            rest = &rest[close..];
        }
        path.push_str(rest);
        path
    }
}

/// Declares each route's pattern (a `Route` constant) and the typed function that builds its
/// path, from one line.
macro_rules! routes {
    ($(
        $(#[doc = $doc:literal])*
        $konst:ident = $pattern:literal => $fname:ident($($arg:ident: $ty:ty),*);
    )*) => {
        $(
            $(#[doc = $doc])*
            pub const $konst: Route = Route($pattern);

            $(#[doc = $doc])*
            pub fn $fname($($arg: $ty),*) -> String {
                $konst.with(&[$(&$arg),*])
            }
        )*

        /// Every route, for the test that each function fills its pattern.
        #[cfg(test)]
        const ALL: &[Route] = &[$($konst),*];
    };
}

routes! {
    /// The start page: the person's organization, or the chooser.
    HOME = "/" => home();
    /// The stylesheet.
    APP_CSS = "/static/app.css" => app_css();
    /// The progressive-enhancement script.
    APP_JS = "/static/app.js" => app_js();
    /// Liveness.
    HEALTHZ = "/healthz" => healthz();
    /// Readiness (the database answers).
    READYZ = "/readyz" => readyz();
    /// Log in (GET the form, POST it).
    LOGIN = "/login" => login();
    /// Log out (POST).
    LOGOUT = "/logout" => logout();
    /// Self-serve sign-up: the form, and where it posts.
    SIGNUP = "/signup" => signup();
    /// A mailed sign-up (or join) link's page, and where its form posts.
    SIGNUP_LINK = "/signup/{token}" => signup_link(token: &str);
    /// The development mailbox (`--dev` only).
    DEV_MAILBOX = "/dev/mailbox" => dev_mailbox();

    /// The organization's dashboard.
    DASHBOARD = "/orgs/{org}" => dashboard(org: OrganizationId);
    /// The Team Management page.
    TEAM = "/orgs/{org}/team" => team(org: OrganizationId);
    /// The members of the Team page as a CSV download.
    EXPORT_MEMBERS = "/orgs/{org}/team/members.csv" => export_members(org: OrganizationId);
    /// The invite form as a page of its own (no JavaScript).
    INVITE = "/orgs/{org}/team/invite" => invite(org: OrganizationId);
    /// Where the invite form posts.
    SEND_INVITATIONS = "/orgs/{org}/invitations" => send_invitations(org: OrganizationId);
    /// Resend one invitation (POST).
    RESEND = "/orgs/{org}/invitations/{id}/resend" => resend(org: OrganizationId, id: InvitationId);
    /// Revoke one invitation (GET asks for confirmation, POST does it).
    REVOKE = "/orgs/{org}/invitations/{id}/revoke" => revoke(org: OrganizationId, id: InvitationId);
    /// Change a member's role (POST).
    MEMBER_ROLE = "/orgs/{org}/members/{id}/role" => member_role(org: OrganizationId, id: MembershipId);
    /// Remove a member (GET asks for confirmation, POST does it).
    REMOVE_MEMBER = "/orgs/{org}/members/{id}/remove" => remove_member(org: OrganizationId, id: MembershipId);
    /// Leave the organization (GET asks, POST does it).
    LEAVE = "/orgs/{org}/leave" => leave(org: OrganizationId);
    /// The Billing page.
    BILLING = "/orgs/{org}/billing" => billing(org: OrganizationId);
    /// Notification settings.
    NOTIFICATIONS = "/orgs/{org}/settings/notifications" => notifications(org: OrganizationId);
    /// The organization's audit log.
    AUDIT = "/orgs/{org}/audit" => audit(org: OrganizationId);
    /// The "Create invite link" form (GET).
    NEW_INVITE_LINK = "/orgs/{org}/invite-links/new" => new_invite_link(org: OrganizationId);
    /// Where the "Create invite link" form posts.
    CREATE_INVITE_LINK = "/orgs/{org}/invite-links" => create_invite_link(org: OrganizationId);
    /// Revoke one invite link (GET asks for confirmation, POST does it).
    REVOKE_INVITE_LINK = "/orgs/{org}/invite-links/{id}/revoke" => revoke_invite_link(org: OrganizationId, id: InviteLinkId);
    /// The CSV import's upload form (GET) and where it posts (POST).
    IMPORT = "/orgs/{org}/invitations/import" => import_invitations(org: OrganizationId);
    /// An example CSV file to fill in.
    IMPORT_EXAMPLE = "/orgs/{org}/invitations/import/example.csv" => import_example(org: OrganizationId);
    /// One uploaded import's preview (GET) and its confirmation (POST).
    IMPORT_PREVIEW = "/orgs/{org}/invitations/import/{id}" => import_preview(org: OrganizationId, id: ImportId);
    /// Cancel an uploaded import (POST).
    IMPORT_CANCEL = "/orgs/{org}/invitations/import/{id}/cancel" => import_cancel(org: OrganizationId, id: ImportId);
    /// What happened to each row of a sent import (GET; where the confirmation redirects).
    IMPORT_RESULT = "/orgs/{org}/invitations/import/{id}/result" => import_result(org: OrganizationId, id: ImportId);

    /// The staff console.
    STAFF = "/staff" => staff();
    /// Set an organization's plan (POST, staff).
    STAFF_PLAN = "/staff/orgs/{org}/plan" => staff_plan(org: OrganizationId);
    /// Set or clear an organization's seat limit override (POST, staff).
    STAFF_SEATS = "/staff/orgs/{org}/seats" => staff_seats(org: OrganizationId);
    /// Send a tenant-owner invitation (POST, staff).
    TENANT_INVITATIONS = "/staff/tenant-invitations" => tenant_invitations();
    /// Resend a tenant-owner invitation (POST, staff).
    TENANT_RESEND = "/staff/tenant-invitations/{id}/resend" => tenant_resend(id: InvitationId);
    /// Revoke a tenant-owner invitation (GET asks, POST does it; staff).
    TENANT_REVOKE = "/staff/tenant-invitations/{id}/revoke" => tenant_revoke(id: InvitationId);

    /// An invitation's page (member or tenant-owner invitation).
    INVITATION = "/invitations/{token}" => invitation(token: &str);
    /// Create the organization of a tenant-owner invitation (POST).
    INVITATION_ORGANIZATION = "/invitations/{token}/organization" => invitation_organization(token: &str);
    /// Decline a tenant-owner invitation (POST).
    INVITATION_DECLINE_ORGANIZATION = "/invitations/{token}/decline-organization" => invitation_decline_organization(token: &str);
    /// "Create account & join" (POST).
    INVITATION_REGISTER = "/invitations/{token}/register" => invitation_register(token: &str);
    /// "Log in & accept" (POST).
    INVITATION_LOGIN = "/invitations/{token}/login" => invitation_login(token: &str);
    /// "Accept invitation" (POST).
    INVITATION_ACCEPT = "/invitations/{token}/accept" => invitation_accept(token: &str);
    /// "Decline" (POST).
    INVITATION_DECLINE = "/invitations/{token}/decline" => invitation_decline(token: &str);
    /// "Request a new invitation" from an expired link (POST).
    INVITATION_REQUEST_NEW = "/invitations/{token}/request-new" => invitation_request_new(token: &str);

    /// Where an invite link leads.
    JOIN = "/join/{token}" => join(token: &str);
    /// "Email me a link to join" (POST).
    JOIN_REGISTER = "/join/{token}/register" => join_register(token: &str);
    /// "Log in & join" (POST).
    JOIN_LOGIN = "/join/{token}/login" => join_login(token: &str);
    /// "Join" for a signed-in person (POST).
    JOIN_ACCEPT = "/join/{token}/accept" => join_accept(token: &str);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_fills_each_segment_in_order() {
        let org: OrganizationId = "0b5a9a64-3bd4-4c0c-9d7e-7a3c6d0c3a11".parse().unwrap();
        let id: InvitationId = "7d0d5f2e-9a4e-4a43-8d43-0a1c0c5f6e21".parse().unwrap();
        assert_eq!(
            resend(org, id),
            "/orgs/0b5a9a64-3bd4-4c0c-9d7e-7a3c6d0c3a11/invitations/7d0d5f2e-9a4e-4a43-8d43-0a1c0c5f6e21/resend"
        );
        assert_eq!(login(), "/login");
        assert_eq!(invitation("abc"), "/invitations/abc");
    }

    #[test]
    fn every_path_is_matched_by_its_own_pattern() {
        for route in ALL {
            let pattern = route.pattern();
            let segments = pattern.matches('{').count();
            let args: Vec<String> = (0..segments).map(|i| format!("x{i}")).collect();
            let args: Vec<&dyn Display> = args.iter().map(|a| a as &dyn Display).collect();
            let path = route.with(&args);
            assert!(!path.contains('{'), "{pattern} → {path}");
            let def = actix_web::dev::ResourceDef::new(pattern);
            assert!(def.is_match(&path), "{pattern} does not match {path}");
        }
    }
}
