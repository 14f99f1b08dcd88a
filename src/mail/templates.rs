//! Email templates. The HTML parts are `.html` templates, so askama escapes every value in
//! them; the text parts are `.txt` and carry text as typed. Each email is a pair of templates
//! (text and HTML) over the same values, declared once by `email_templates!`.

use askama::Template;
use chrono::{DateTime, Utc};

use super::{MailError, OutgoingEmail};
use crate::domain::Role;

/// Declares, for each email, a module holding its text and HTML templates (two structs with
/// the same fields, one per file) and `email(to, subject, fields…)`, which renders both into
/// an [`OutgoingEmail`]. The fields are references, so both parts share one set of values.
macro_rules! email_templates {
    ($(
        $module:ident: $text:literal, $html:literal { $($field:ident: $ty:ty),* $(,)? }
    )*) => {$(
        mod $module {
            use super::*;

            #[derive(Template)]
            #[template(path = $text)]
            struct Text<'a> {
                $($field: $ty,)*
            }

            #[derive(Template)]
            #[template(path = $html)]
            struct Html<'a> {
                $($field: $ty,)*
            }

            /// Renders both parts for `to` under `subject`.
            pub(super) fn email<'a>(
                to: &str,
                subject: String,
                $($field: $ty,)*
            ) -> Result<OutgoingEmail, MailError> {
                Ok(OutgoingEmail {
                    to: to.to_owned(),
                    subject,
                    text: Text { $($field,)* }.render()?,
                    html: Html { $($field,)* }.render()?,
                })
            }
        }
    )*};
}

email_templates! {
    invitation: "emails/invitation.txt", "emails/invitation.html" {
        e: &'a InvitationEmail<'a>, expires: &'a str
    }
    member_joined: "emails/member_joined.txt", "emails/member_joined.html" {
        e: &'a MemberJoinedEmail, role: &'a str, team_link: &'a str
    }
    renewal_request: "emails/renewal_request.txt", "emails/renewal_request.html" {
        e: &'a RenewalRequestEmail, role: &'a str, expired: &'a str, team_link: &'a str
    }
    signup: "emails/signup.txt", "emails/signup.html" {
        e: &'a SignupLinkEmail<'a>, expires: &'a str
    }
    join_link: "emails/join_link.txt", "emails/join_link.html" {
        e: &'a JoinLinkEmail<'a>, expires: &'a str
    }
    signup_existing: "emails/signup_existing.txt", "emails/signup_existing.html" {
        e: &'a SignupExistingEmail<'a>
    }
    tenant_invitation: "emails/tenant_invitation.txt", "emails/tenant_invitation.html" {
        e: &'a TenantInvitationEmail<'a>, expires: &'a str
    }
    domain_code: "emails/domain_code.txt", "emails/domain_code.html" {
        e: &'a DomainCodeEmail<'a>, expires: &'a str
    }
    invitation_bounced: "emails/invitation_bounced.txt", "emails/invitation_bounced.html" {
        e: &'a InvitationBouncedEmail<'a>
    }
    webhook_disabled: "emails/webhook_disabled.txt", "emails/webhook_disabled.html" {
        e: &'a WebhookDisabledEmail, settings_link: &'a str
    }
    join_request: "emails/join_request.txt", "emails/join_request.html" {
        e: &'a JoinRequestEmail, team_link: &'a str
    }
    join_request_answer: "emails/join_request_answer.txt", "emails/join_request_answer.html" {
        e: &'a JoinRequestAnswerEmail, role: Option<&'a str>, link: &'a str
    }
}

/// How emails write a time: "Monday 1 June 2026 at 14:00 UTC".
fn expiry_text(at: DateTime<Utc>) -> String {
    at.format("%A %-d %B %Y at %H:%M UTC").to_string()
}

/// The label of a role stored by name, "member" for a name no longer known.
fn role_label(stored: &str) -> &'static str {
    stored.parse::<Role>().map(Role::label).unwrap_or("member")
}

/// The Team page of the organization with id `organization_id` under `base_url` (no
/// trailing slash), from `crate::paths`.
fn team_link(base_url: &str, organization_id: &str) -> String {
    format!("{base_url}{}", crate::paths::TEAM.with(&[&organization_id]))
}

/// What an invitation email says (DESIGN.md, "Emails").
#[derive(Debug, Clone)]
pub struct InvitationEmail<'a> {
    /// The invitee's address.
    pub to: &'a str,
    /// Who invited them.
    pub inviter_name: &'a str,
    /// The inviter's address.
    pub inviter_email: &'a str,
    /// The organization's name.
    pub organization: &'a str,
    /// The role offered.
    pub role: Role,
    /// The inviter's personal message.
    pub message: Option<&'a str>,
    /// The acceptance link.
    pub link: &'a str,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// A reminder of the invitation (issue 15 §3) rather than the invitation itself.
    pub reminder: bool,
}

impl InvitationEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let subject = format!(
            "{}{} invited you to join {} as {}",
            if self.reminder { "Reminder: " } else { "" },
            self.inviter_name,
            self.organization,
            self.role.label()
        );
        invitation::email(self.to, subject, self, &expiry_text(self.expires_at))
    }
}

/// What the "member joined" notification to Owners says.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct MemberJoinedEmail {
    /// The organization's name.
    pub organization: String,
    /// The organization's id, for the link to the Team page.
    pub organization_id: String,
    /// Who joined.
    pub member_name: String,
    /// Their address.
    pub member_email: String,
    /// The role they joined with (stored name).
    pub role: String,
    /// Who invited them.
    pub invited_by: String,
}

impl MemberJoinedEmail {
    /// Renders the notification for `to`; `base_url` has no trailing slash.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self, to: &str, base_url: &str) -> Result<OutgoingEmail, MailError> {
        let role = role_label(&self.role);
        let subject = format!(
            "{} joined {} as {}",
            self.member_name, self.organization, role
        );
        let team_link = team_link(base_url, &self.organization_id);
        member_joined::email(to, subject, self, role, &team_link)
    }
}

/// What the "please send me a new invitation" email to an inviter says (DESIGN.md, "Request
/// a new invitation"). Rendered at delivery from the outbox row's payload.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RenewalRequestEmail {
    /// The organization's name.
    pub organization: String,
    /// The organization's id, for the link to the Team page.
    pub organization_id: String,
    /// Who asks: their account ("Name <email>") or the invited address when signed out.
    pub requested_by: String,
    /// The address the expired invitation was sent to.
    pub invitee_email: String,
    /// The invited role (stored name).
    pub role: String,
    /// When the invitation expired.
    pub expired_at: DateTime<Utc>,
}

impl RenewalRequestEmail {
    /// Renders the request for `to` (the inviter); `base_url` has no trailing slash.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self, to: &str, base_url: &str) -> Result<OutgoingEmail, MailError> {
        let subject = format!(
            "{} asks for a new invitation to {}",
            self.invitee_email, self.organization
        );
        let expired = expiry_text(self.expired_at);
        let team_link = team_link(base_url, &self.organization_id);
        let role = role_label(&self.role);
        renewal_request::email(to, subject, self, role, &expired, &team_link)
    }
}

/// What a domain's verification email says: who asked to verify which domain for which
/// organization, and the 6-digit code (derived at delivery, never stored).
#[derive(Debug, Clone)]
pub struct DomainCodeEmail<'a> {
    /// The address at the domain.
    pub to: &'a str,
    /// The domain.
    pub domain: &'a str,
    /// The organization claiming it.
    pub organization: &'a str,
    /// The Owner who asked.
    pub requester: &'a str,
    /// The code.
    pub code: &'a str,
    /// When the code stops working.
    pub expires_at: DateTime<Utc>,
}

impl DomainCodeEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let subject = format!("{} is your code to verify {}", self.code, self.domain);
        domain_code::email(self.to, subject, self, &expiry_text(self.expires_at))
    }
}

/// What the self-serve sign-up email says: the link that proves the address.
#[derive(Debug, Clone)]
pub struct SignupLinkEmail<'a> {
    /// The address signing up.
    pub to: &'a str,
    /// The sign-up link (from the base URL and the token derived at delivery).
    pub link: &'a str,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl SignupLinkEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let subject = "Finish signing up for Joinery".into();
        signup::email(self.to, subject, self, &expiry_text(self.expires_at))
    }
}

/// What a request to join through an invite link sends: who invited them (the link's
/// creator) to which organization and as what, like an invitation, and the link that proves
/// the address before anything is created.
#[derive(Debug, Clone)]
pub struct JoinLinkEmail<'a> {
    /// The address to prove.
    pub to: &'a str,
    /// The invite link's creator.
    pub inviter_name: &'a str,
    /// The organization's name.
    pub organization: &'a str,
    /// The role the invite link grants.
    pub role: Role,
    /// The mailed link (from the base URL and the token derived at delivery).
    pub link: &'a str,
    /// When the mailed link stops working.
    pub expires_at: DateTime<Utc>,
    /// A "request access" link: following the mailed link sends a join request that Owners or
    /// Admins approve, rather than joining.
    pub approval: bool,
}

impl JoinLinkEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let subject = if self.approval {
            format!("Confirm your email to ask to join {}", self.organization)
        } else {
            format!(
                "Confirm your email to join {} as {}",
                self.organization,
                self.role.label()
            )
        };
        join_link::email(self.to, subject, self, &expiry_text(self.expires_at))
    }
}

/// What a sign-up with an address that already has an account sends instead of a link.
#[derive(Debug, Clone)]
pub struct SignupExistingEmail<'a> {
    /// The address.
    pub to: &'a str,
    /// The log-in page, from the base URL.
    pub login_link: &'a str,
}

impl SignupExistingEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let subject = "You already have a Joinery account".into();
        signup_existing::email(self.to, subject, self)
    }
}

/// What a tenant-owner invitation email says: who at Joinery invited them to set up an
/// organization, on which plan, the message, the link and the expiry.
#[derive(Debug, Clone)]
pub struct TenantInvitationEmail<'a> {
    /// The invitee's address.
    pub to: &'a str,
    /// The staff member who sent it.
    pub inviter_name: &'a str,
    /// The plan of the organization to be created.
    pub plan: crate::domain::Plan,
    /// The staff member's message.
    pub message: Option<&'a str>,
    /// The acceptance link.
    pub link: &'a str,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl TenantInvitationEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let subject = format!(
            "{} invited you to set up your organization on Joinery",
            self.inviter_name
        );
        tenant_invitation::email(self.to, subject, self, &expiry_text(self.expires_at))
    }
}

/// What the "{person} asks to join {organization}" email to Owners and Admins says (issue 14
/// §3). Rendered at delivery from the outbox row's payload.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct JoinRequestEmail {
    /// The organization's name.
    pub organization: String,
    /// The organization's id, for the link to the Team page.
    pub organization_id: String,
    /// Who asks.
    pub requester_name: String,
    /// Their address.
    pub requester_email: String,
    /// Through what: "invite link", "domain example.com".
    pub via: String,
    /// Their note (empty for none).
    #[serde(default)]
    pub note: String,
}

impl JoinRequestEmail {
    /// Renders the email for `to`; `base_url` has no trailing slash.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self, to: &str, base_url: &str) -> Result<OutgoingEmail, MailError> {
        let subject = format!("{} asks to join {}", self.requester_name, self.organization);
        let team_link = team_link(base_url, &self.organization_id);
        join_request::email(to, subject, self, &team_link)
    }
}

/// What the answer to a join request says to the requester: approved (with the role) or
/// rejected. Rendered at delivery from the outbox row's payload.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct JoinRequestAnswerEmail {
    /// The organization's name.
    pub organization: String,
    /// The organization's id, for the link to its dashboard.
    pub organization_id: String,
    /// Whether it was approved.
    pub approved: bool,
    /// The role granted (stored name), when approved.
    #[serde(default)]
    pub role: Option<String>,
}

impl JoinRequestAnswerEmail {
    /// Renders the email for `to`; `base_url` has no trailing slash.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self, to: &str, base_url: &str) -> Result<OutgoingEmail, MailError> {
        let role = self.role.as_deref().map(role_label);
        let (subject, link) = if self.approved {
            (
                format!("You joined {}", self.organization),
                format!(
                    "{base_url}{}",
                    crate::paths::DASHBOARD.with(&[&self.organization_id])
                ),
            )
        } else {
            (
                format!(
                    "Your request to join {} was not approved",
                    self.organization
                ),
                format!("{base_url}{}", crate::paths::home()),
            )
        };
        join_request_answer::email(to, subject, self, role, &link)
    }
}

/// What the inviter of a bounced invitation is told (issue 15 §3).
#[derive(Debug, Clone)]
pub struct InvitationBouncedEmail<'a> {
    /// The inviter's address.
    pub to: &'a str,
    /// The invited address that bounced.
    pub invitee: &'a str,
    /// The organization's name.
    pub organization: &'a str,
    /// The Team page, where "Fix address" is.
    pub team_link: &'a str,
}

impl InvitationBouncedEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let subject = format!("Your invitation to {} could not be delivered", self.invitee);
        invitation_bounced::email(self.to, subject, self)
    }
}

/// What an organization's Owners are told when a webhook endpoint failing for 3 days is
/// disabled (issue 15 §2). Rendered at delivery from the outbox row's payload.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct WebhookDisabledEmail {
    /// The organization's name.
    pub organization: String,
    /// Its id, for the link to Settings → Webhooks.
    pub organization_id: String,
    /// The endpoint's URL.
    pub url: String,
}

impl WebhookDisabledEmail {
    /// Renders the email for `to`; `base_url` has no trailing slash.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self, to: &str, base_url: &str) -> Result<OutgoingEmail, MailError> {
        let subject = format!("A webhook endpoint of {} was disabled", self.organization);
        let link = format!(
            "{base_url}{}",
            crate::paths::WEBHOOKS.with(&[&self.organization_id])
        );
        webhook_disabled::email(to, subject, self, &link)
    }
}
