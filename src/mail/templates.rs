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
