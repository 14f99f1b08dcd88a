//! Email templates. The HTML parts are `.html` templates, so askama escapes every value in
//! them; the text parts are `.txt` and carry text as typed.

use askama::Template;
use chrono::{DateTime, Utc};

use super::{MailError, OutgoingEmail};
use crate::domain::Role;

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
}

#[derive(Template)]
#[template(path = "emails/invitation.txt")]
struct InvitationText<'a> {
    e: &'a InvitationEmail<'a>,
    expires: String,
}

#[derive(Template)]
#[template(path = "emails/invitation.html")]
struct InvitationHtml<'a> {
    e: &'a InvitationEmail<'a>,
    expires: String,
}

fn expiry_text(at: DateTime<Utc>) -> String {
    at.format("%A %-d %B %Y at %H:%M UTC").to_string()
}

impl InvitationEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let expires = expiry_text(self.expires_at);
        Ok(OutgoingEmail {
            to: self.to.to_owned(),
            subject: format!(
                "{} invited you to join {} as {}",
                self.inviter_name,
                self.organization,
                self.role.label()
            ),
            text: InvitationText {
                e: self,
                expires: expires.clone(),
            }
            .render()?,
            html: InvitationHtml { e: self, expires }.render()?,
        })
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

#[derive(Template)]
#[template(path = "emails/member_joined.txt")]
struct JoinedText<'a> {
    e: &'a MemberJoinedEmail,
    role: &'a str,
    team_link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/member_joined.html")]
struct JoinedHtml<'a> {
    e: &'a MemberJoinedEmail,
    role: &'a str,
    team_link: &'a str,
}

impl MemberJoinedEmail {
    /// Renders the notification for `to`; `base_url` has no trailing slash.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self, to: &str, base_url: &str) -> Result<OutgoingEmail, MailError> {
        let role = self
            .role
            .parse::<Role>()
            .map(Role::label)
            .unwrap_or("member");
        let team_link = format!("{base_url}/orgs/{}/team", self.organization_id);
        Ok(OutgoingEmail {
            to: to.to_owned(),
            subject: format!(
                "{} joined {} as {}",
                self.member_name, self.organization, role
            ),
            text: JoinedText {
                e: self,
                role,
                team_link: &team_link,
            }
            .render()?,
            html: JoinedHtml {
                e: self,
                role,
                team_link: &team_link,
            }
            .render()?,
        })
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

#[derive(Template)]
#[template(path = "emails/renewal_request.txt")]
struct RenewalText<'a> {
    e: &'a RenewalRequestEmail,
    role: &'a str,
    expired: &'a str,
    team_link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/renewal_request.html")]
struct RenewalHtml<'a> {
    e: &'a RenewalRequestEmail,
    role: &'a str,
    expired: &'a str,
    team_link: &'a str,
}

impl RenewalRequestEmail {
    /// Renders the request for `to` (the inviter); `base_url` has no trailing slash.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self, to: &str, base_url: &str) -> Result<OutgoingEmail, MailError> {
        let role = self
            .role
            .parse::<Role>()
            .map(Role::label)
            .unwrap_or("member");
        let expired = expiry_text(self.expired_at);
        let team_link = format!("{base_url}/orgs/{}/team", self.organization_id);
        Ok(OutgoingEmail {
            to: to.to_owned(),
            subject: format!(
                "{} asks for a new invitation to {}",
                self.invitee_email, self.organization
            ),
            text: RenewalText {
                e: self,
                role,
                expired: &expired,
                team_link: &team_link,
            }
            .render()?,
            html: RenewalHtml {
                e: self,
                role,
                expired: &expired,
                team_link: &team_link,
            }
            .render()?,
        })
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

#[derive(Template)]
#[template(path = "emails/signup.txt")]
struct SignupText<'a> {
    e: &'a SignupLinkEmail<'a>,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "emails/signup.html")]
struct SignupHtml<'a> {
    e: &'a SignupLinkEmail<'a>,
    expires: &'a str,
}

impl SignupLinkEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let expires = expiry_text(self.expires_at);
        Ok(OutgoingEmail {
            to: self.to.to_owned(),
            subject: "Finish signing up for Joinery".into(),
            text: SignupText {
                e: self,
                expires: &expires,
            }
            .render()?,
            html: SignupHtml {
                e: self,
                expires: &expires,
            }
            .render()?,
        })
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
}

#[derive(Template)]
#[template(path = "emails/join_link.txt")]
struct JoinLinkText<'a> {
    e: &'a JoinLinkEmail<'a>,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "emails/join_link.html")]
struct JoinLinkHtml<'a> {
    e: &'a JoinLinkEmail<'a>,
    expires: &'a str,
}

impl JoinLinkEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let expires = expiry_text(self.expires_at);
        Ok(OutgoingEmail {
            to: self.to.to_owned(),
            subject: format!(
                "Confirm your email to join {} as {}",
                self.organization,
                self.role.label()
            ),
            text: JoinLinkText {
                e: self,
                expires: &expires,
            }
            .render()?,
            html: JoinLinkHtml {
                e: self,
                expires: &expires,
            }
            .render()?,
        })
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

#[derive(Template)]
#[template(path = "emails/signup_existing.txt")]
struct SignupExistingText<'a> {
    e: &'a SignupExistingEmail<'a>,
}

#[derive(Template)]
#[template(path = "emails/signup_existing.html")]
struct SignupExistingHtml<'a> {
    e: &'a SignupExistingEmail<'a>,
}

impl SignupExistingEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        Ok(OutgoingEmail {
            to: self.to.to_owned(),
            subject: "You already have a Joinery account".into(),
            text: SignupExistingText { e: self }.render()?,
            html: SignupExistingHtml { e: self }.render()?,
        })
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

#[derive(Template)]
#[template(path = "emails/tenant_invitation.txt")]
struct TenantText<'a> {
    e: &'a TenantInvitationEmail<'a>,
    expires: String,
}

#[derive(Template)]
#[template(path = "emails/tenant_invitation.html")]
struct TenantHtml<'a> {
    e: &'a TenantInvitationEmail<'a>,
    expires: String,
}

impl TenantInvitationEmail<'_> {
    /// Renders subject, text and HTML.
    ///
    /// # Errors
    /// [`MailError::Template`] if a template fails.
    pub fn render(&self) -> Result<OutgoingEmail, MailError> {
        let expires = expiry_text(self.expires_at);
        Ok(OutgoingEmail {
            to: self.to.to_owned(),
            subject: format!(
                "{} invited you to set up your organization on Joinery",
                self.inviter_name
            ),
            text: TenantText {
                e: self,
                expires: expires.clone(),
            }
            .render()?,
            html: TenantHtml { e: self, expires }.render()?,
        })
    }
}
