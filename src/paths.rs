//! Every path of the site, defined once. The router registers each [`Route`]'s pattern
//! (`web::routes`), and pages, emails and tests build links with the typed function beside it
//! (`paths::team(org)`), so a path cannot drift between where it is served and where it is
//! linked. Links in emails are the configured base URL followed by one of these paths, never
//! the request's Host.

use std::fmt::Display;

use crate::domain::csv_import::ImportId;
use crate::domain::{
    ApiTokenId, DomainId, InvitationId, InviteLinkId, JoinRequestId, MembershipId, OrganizationId,
    UserId, WebhookEndpointId,
};

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
/// path, from one line. Routes come in groups under a common prefix; a group's parameter (the
/// organization, a link's token) is the first argument of each of its functions.
macro_rules! routes {
    (@all [$($all:ident)*]) => {
        /// Every route: for the test that each function fills its pattern, and the one that
        /// the OpenAPI document lists every route of `/api/v1`.
        pub const ALL: &[Route] = &[$($all),*];
    };
    (@all $all:tt $prefix:literal ($parg:ident: $pty:ty) { $($routes:tt)* } $($rest:tt)*) => {
        routes!(@group $prefix [$parg: $pty,] [&$parg,] $all [$($rest)*] $($routes)*);
    };
    (@all $all:tt $prefix:literal () { $($routes:tt)* } $($rest:tt)*) => {
        routes!(@group $prefix [] [] $all [$($rest)*] $($routes)*);
    };
    // One route at a time, so the group's parameter can be spliced into each function.
    (@group $prefix:literal $param:tt $pass:tt [$($all:ident)*] [$($rest:tt)*]) => {
        routes!(@all [$($all)*] $($rest)*);
    };
    (@group $prefix:literal [$($param:tt)*] [$($pass:tt)*] [$($all:ident)*] $rest:tt
        $(#[doc = $doc:literal])*
        $konst:ident = $pattern:literal => $fname:ident($($arg:ident: $ty:ty),*);
        $($routes:tt)*
    ) => {
        $(#[doc = $doc])*
        pub const $konst: Route = Route(concat!($prefix, $pattern));

        $(#[doc = $doc])*
        pub fn $fname($($param)* $($arg: $ty),*) -> String {
            $konst.with(&[$($pass)* $(&$arg),*])
        }

        routes!(@group $prefix [$($param)*] [$($pass)*] [$($all)* $konst] $rest $($routes)*);
    };
    ($($groups:tt)*) => {
        routes!(@all [] $($groups)*);
    };
}

routes! {
    "" () {
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
    }
    "/orgs/{org}" (org: OrganizationId) {
        /// The organization's dashboard.
        DASHBOARD = "" => dashboard();
        /// The Team Management page.
        TEAM = "/team" => team();
        /// The members of the Team page as a CSV download.
        EXPORT_MEMBERS = "/team/members.csv" => export_members();
        /// The invite form as a page of its own (no JavaScript).
        INVITE = "/team/invite" => invite();
        /// Where the invite form posts.
        SEND_INVITATIONS = "/invitations" => send_invitations();
        /// Resend one invitation (POST).
        RESEND = "/invitations/{id}/resend" => resend(id: InvitationId);
        /// Revoke one invitation (GET asks for confirmation, POST does it).
        REVOKE = "/invitations/{id}/revoke" => revoke(id: InvitationId);
        /// One invitation with its delivery timeline (GET).
        INVITATION_HISTORY = "/invitations/{id}/history" => invitation_history(id: InvitationId);
        /// "Fix address" of a bounced invitation: revoke it and open the invite form (POST).
        FIX_ADDRESS = "/invitations/{id}/fix" => fix_address(id: InvitationId);
        /// Change a member's role (POST).
        MEMBER_ROLE = "/members/{id}/role" => member_role(id: MembershipId);
        /// Remove a member (GET asks for confirmation, POST does it).
        REMOVE_MEMBER = "/members/{id}/remove" => remove_member(id: MembershipId);
        /// Leave the organization (GET asks, POST does it).
        LEAVE = "/leave" => leave();
        /// The Billing page.
        BILLING = "/billing" => billing();
        /// Notification settings.
        NOTIFICATIONS = "/settings/notifications" => notifications();
        /// The organization's invitation reminders, on or off (POST, Owners).
        REMINDERS = "/settings/reminders" => reminders();
        /// The organization's audit log.
        AUDIT = "/audit" => audit();
        /// Settings → Domains (GET), and where "Add a domain" posts (POST).
        DOMAINS = "/settings/domains" => domains();
        /// Restrict invitations to verified domains, or not (POST).
        DOMAIN_RESTRICTION = "/settings/domains/restriction" => domain_restriction();
        /// Enter a domain's code (POST).
        DOMAIN_VERIFY = "/settings/domains/{id}/verify" => domain_verify(id: DomainId);
        /// Mail a domain a new code (POST).
        DOMAIN_CODE = "/settings/domains/{id}/code" => domain_code(id: DomainId);
        /// Set a verified domain's enrollment mode and default role (POST).
        DOMAIN_ENROLLMENT = "/settings/domains/{id}/enrollment" => domain_enrollment(id: DomainId);
        /// Remove a domain (GET asks for confirmation, POST does it).
        DOMAIN_REMOVE = "/settings/domains/{id}/remove" => domain_remove(id: DomainId);
        /// Settings → API tokens (GET), and where "Create token" posts (POST).
        API_TOKENS = "/settings/api" => api_tokens();
        /// Revoke an API token (GET asks for confirmation, POST does it).
        REVOKE_API_TOKEN = "/settings/api/{id}/revoke" => revoke_api_token(id: ApiTokenId);
        /// Settings → Webhooks (GET), and where "Add endpoint" posts (POST).
        WEBHOOKS = "/settings/webhooks" => webhooks();
        /// One endpoint: its delivery log (GET).
        WEBHOOK = "/settings/webhooks/{id}" => webhook(id: WebhookEndpointId);
        /// Remove an endpoint (GET asks for confirmation, POST does it).
        REMOVE_WEBHOOK = "/settings/webhooks/{id}/remove" => remove_webhook(id: WebhookEndpointId);
        /// Turn a disabled endpoint back on (POST).
        ENABLE_WEBHOOK = "/settings/webhooks/{id}/enable" => enable_webhook(id: WebhookEndpointId);
        /// Send one delivery again, with the same webhook-id (POST).
        REDELIVER = "/settings/webhooks/{id}/deliveries/{delivery}/redeliver" => redeliver(id: WebhookEndpointId, delivery: &str);
        /// "Join {org}" through a verified domain in Automatic mode (POST).
        DOMAIN_JOIN = "/domain-join" => domain_join();
        /// "Request to join {org}" through a verified domain in Suggest mode (POST).
        DOMAIN_REQUEST = "/domain-request" => domain_request();
        /// Approve a join request with the role chosen (POST).
        APPROVE_JOIN_REQUEST = "/join-requests/{id}/approve" => approve_join_request(id: JoinRequestId);
        /// Reject a join request (GET asks for confirmation, POST does it).
        REJECT_JOIN_REQUEST = "/join-requests/{id}/reject" => reject_join_request(id: JoinRequestId);
        /// The "Create invite link" form (GET).
        NEW_INVITE_LINK = "/invite-links/new" => new_invite_link();
        /// Where the "Create invite link" form posts.
        CREATE_INVITE_LINK = "/invite-links" => create_invite_link();
        /// Revoke one invite link (GET asks for confirmation, POST does it).
        REVOKE_INVITE_LINK = "/invite-links/{id}/revoke" => revoke_invite_link(id: InviteLinkId);
        /// The CSV import's upload form (GET) and where it posts (POST).
        IMPORT = "/invitations/import" => import_invitations();
        /// An example CSV file to fill in.
        IMPORT_EXAMPLE = "/invitations/import/example.csv" => import_example();
        /// One uploaded import's preview (GET) and its confirmation (POST).
        IMPORT_PREVIEW = "/invitations/import/{id}" => import_preview(id: ImportId);
        /// Cancel an uploaded import (POST).
        IMPORT_CANCEL = "/invitations/import/{id}/cancel" => import_cancel(id: ImportId);
        /// What happened to each row of a sent import (GET; where the confirmation redirects).
        IMPORT_RESULT = "/invitations/import/{id}/result" => import_result(id: ImportId);
    }
    "/staff" () {
        /// The staff console.
        STAFF = "" => staff();
        /// Set an organization's plan (POST, staff).
        STAFF_PLAN = "/orgs/{org}/plan" => staff_plan(org: OrganizationId);
        /// Set or clear an organization's seat limit override (POST, staff).
        STAFF_SEATS = "/orgs/{org}/seats" => staff_seats(org: OrganizationId);
        /// Send a tenant-owner invitation (POST, staff).
        TENANT_INVITATIONS = "/tenant-invitations" => tenant_invitations();
        /// Resend a tenant-owner invitation (POST, staff).
        TENANT_RESEND = "/tenant-invitations/{id}/resend" => tenant_resend(id: InvitationId);
        /// Revoke a tenant-owner invitation (GET asks, POST does it; staff).
        TENANT_REVOKE = "/tenant-invitations/{id}/revoke" => tenant_revoke(id: InvitationId);
    }
    "/api/v1" () {
        /// The OpenAPI 3.1 document of the JSON API.
        API_OPENAPI = "/openapi.json" => api_openapi();
        /// The JSON API's reference page.
        API_DOCS = "/docs" => api_docs();
        /// An organization (GET).
        API_ORG = "/orgs/{org}" => api_org(org: OrganizationId);
        /// Its members (GET).
        API_MEMBERS = "/orgs/{org}/members" => api_members(org: OrganizationId);
        /// One member (PATCH its role, DELETE to remove).
        API_MEMBER = "/orgs/{org}/members/{user}" => api_member(org: OrganizationId, user: UserId);
        /// Its invitations (GET), and where invitations are sent (POST).
        API_INVITATIONS = "/orgs/{org}/invitations" => api_invitations(org: OrganizationId);
        /// One invitation with its timeline (GET); DELETE revokes it.
        API_INVITATION = "/orgs/{org}/invitations/{id}" => api_invitation(org: OrganizationId, id: InvitationId);
        /// Resend one invitation (POST).
        API_RESEND = "/orgs/{org}/invitations/{id}/resend" => api_resend(org: OrganizationId, id: InvitationId);
        /// Its audit trail (GET).
        API_AUDIT = "/orgs/{org}/audit" => api_audit(org: OrganizationId);
    }
    "/invitations/{token}" (token: &str) {
        /// An invitation's page (member or tenant-owner invitation).
        INVITATION = "" => invitation();
        /// Create the organization of a tenant-owner invitation (POST).
        INVITATION_ORGANIZATION = "/organization" => invitation_organization();
        /// Decline a tenant-owner invitation (POST).
        INVITATION_DECLINE_ORGANIZATION = "/decline-organization" => invitation_decline_organization();
        /// "Create account & join" (POST).
        INVITATION_REGISTER = "/register" => invitation_register();
        /// "Log in & accept" (POST).
        INVITATION_LOGIN = "/login" => invitation_login();
        /// "Accept invitation" (POST).
        INVITATION_ACCEPT = "/accept" => invitation_accept();
        /// "Decline" (POST).
        INVITATION_DECLINE = "/decline" => invitation_decline();
        /// "Request a new invitation" from an expired link (POST).
        INVITATION_REQUEST_NEW = "/request-new" => invitation_request_new();
    }
    "/join/{token}" (token: &str) {
        /// Where an invite link leads.
        JOIN = "" => join();
        /// "Email me a link to join" (POST).
        JOIN_REGISTER = "/register" => join_register();
        /// "Log in & join" (POST).
        JOIN_LOGIN = "/login" => join_login();
        /// "Join" for a signed-in person (POST).
        JOIN_ACCEPT = "/accept" => join_accept();
        /// "Request to join" on a "request access" link, for a signed-in person (POST).
        JOIN_REQUEST = "/request" => join_request();
    }
}

/// `path`, one of `org`'s paths (`/orgs/{org}/…`), as a link relative to the Team page
/// (`/orgs/{org}/team`), against which a browser resolves it back to `path`: `members/{id}/role`.
/// The Team page's rows use it for their links and buttons: spelled out, the organization's
/// 43-byte prefix would be sent a few hundred times with every page, and the page has a weight
/// budget (README, "Benchmarks": at most 80 KB for 50 members and 50 pending invitations).
/// Only for pages at `/orgs/{org}/{one segment}` (no trailing slash); a path outside the
/// organization comes back as it is.
pub fn relative_to_team(org: OrganizationId, path: String) -> String {
    let prefix = dashboard(org);
    match path
        .strip_prefix(prefix.as_str())
        .and_then(|p| p.strip_prefix('/'))
    {
        Some(relative) => relative.to_owned(),
        None => path,
    }
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
    fn a_path_relative_to_the_team_page_leads_back_to_itself() {
        let org: OrganizationId = "0b5a9a64-3bd4-4c0c-9d7e-7a3c6d0c3a11".parse().unwrap();
        let id: InvitationId = "7d0d5f2e-9a4e-4a43-8d43-0a1c0c5f6e21".parse().unwrap();
        let relative = relative_to_team(org, resend(org, id));
        assert_eq!(
            relative,
            "invitations/7d0d5f2e-9a4e-4a43-8d43-0a1c0c5f6e21/resend"
        );
        let page = url::Url::parse("https://example.test")
            .unwrap()
            .join(&format!("{}?members_page=2", team(org)))
            .unwrap();
        assert_eq!(page.join(&relative).unwrap().path(), resend(org, id));
        assert_eq!(relative_to_team(org, login()), "/login");
        let other: OrganizationId = "1b5a9a64-3bd4-4c0c-9d7e-7a3c6d0c3a11".parse().unwrap();
        assert_eq!(relative_to_team(org, team(other)), team(other));
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
