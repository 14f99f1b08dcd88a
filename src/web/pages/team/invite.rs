//! The invite form: a `<dialog>` on the Team page, or a page of its own without JavaScript;
//! one or many addresses with one role and one message. The rules are the service's
//! (`service::invitations::invite`); the handler checks the form, calls it once, and shows what
//! happened to every address typed.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::{InviteResult, OutcomeRow, RESULT_KEY, back_to_team, trial_message};
use crate::domain::email::{ListedAddress, parse_address_list};
use crate::domain::invitation::{
    AddressOutcome, InviteDenied, InviteEntry, SkipReason, authorize_invitation,
};
use crate::domain::seats::SeatUsage;
use crate::domain::text::{MAX_MESSAGE_CHARS, PersonalMessage};
use crate::domain::{Permission, Role};
use crate::paths;
use crate::service::ServiceError;
use crate::service::invitations::{self as service, InvitationRefusal};
use crate::web::csrf::{CsrfForm, HasCsrfToken};
use crate::web::error::Rejection;
use crate::web::extractors::{OrgMember, OrgRequest};
use crate::web::pages::{render, render_refused, see_other};
use crate::web::refusals::Refusal as _;
use crate::web::session::Session;
use crate::web::{AppError, Layout, flash};

/// The most addresses one submission of the invite form may hold.
pub const MAX_ADDRESSES_PER_SUBMISSION: usize = 1_000;
/// The largest "Email addresses" field accepted, in characters.
pub const MAX_ADDRESS_FIELD_CHARS: usize = 300_000;

/// The invite form as shown: the roles offered, what was typed, and errors beside fields.
#[derive(Debug, Clone)]
pub struct InviteForm {
    /// Where it posts.
    pub action: String,
    /// The roles the sender may assign, lowest first.
    pub roles: Vec<Role>,
    /// The selected role (Viewer by default).
    pub role: String,
    /// What was typed into "Email addresses".
    pub emails: String,
    /// What was typed into "Personal message".
    pub message: String,
    /// Error beside "Email addresses".
    pub emails_error: Option<String>,
    /// Error beside "Role".
    pub role_error: Option<String>,
    /// Error beside "Personal message".
    pub message_error: Option<String>,
    /// An error about the whole form.
    pub form_error: Option<String>,
    /// The CSRF token.
    pub csrf: String,
    /// The longest message, in characters.
    pub max_message: usize,
    /// "N of M seats left", shown before sending (`None` when unlimited or not known).
    pub seats_left: Option<String>,
}

impl InviteForm {
    pub(super) fn empty(member: &OrgMember, csrf: String) -> Self {
        Self {
            action: paths::send_invitations(member.org.id),
            roles: member.role.assignable_roles(),
            role: Role::Viewer.as_str().into(),
            emails: String::new(),
            message: String::new(),
            emails_error: None,
            role_error: None,
            message_error: None,
            form_error: None,
            csrf,
            max_message: MAX_MESSAGE_CHARS,
            seats_left: None,
        }
    }

    /// The form with the seats left shown (DESIGN.md, "Seats": before sending).
    pub fn with_seats(mut self, seats: &SeatUsage) -> Self {
        self.seats_left = seats.left();
        self
    }

    /// Shows a refusal of the service beside the fields: a role the rules refuse (`role`, as
    /// submitted) beside Role or above the form, anything else above the form.
    fn show_refusal(&mut self, role: Option<Role>, refusal: &InvitationRefusal) {
        match refusal {
            InvitationRefusal::Denied(denied) => {
                let role = role.unwrap_or(Role::Viewer);
                let judged = OfferedRole::judged(role, Err(*denied), "invite someone as");
                self.role_error = judged.role_error;
                self.form_error = judged.form_error;
            }
            InvitationRefusal::NoFreeSeats(no) => {
                self.seats_left = Some(format!("{} of {} seats left", no.free(), no.limit));
                self.form_error = Some(refusal.to_string());
            }
            other => self.form_error = Some(other.to_string()),
        }
    }

    fn has_errors(&self) -> bool {
        self.emails_error.is_some()
            || self.role_error.is_some()
            || self.message_error.is_some()
            || self.form_error.is_some()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invite.html")]
struct InvitePage {
    layout: Layout,
    team_path: String,
    trial_message: Option<&'static str>,
    form: InviteForm,
}

impl InvitePage {
    fn new(member: &OrgMember, layout: Layout, form: InviteForm) -> Self {
        InvitePage {
            layout,
            team_path: paths::team(member.org.id),
            trial_message: trial_message(member.org.plan),
            form,
        }
    }
}

/// What the invite page may be opened with, to fill the form ("Fix address" of a bounced
/// invitation): each is cut to the form's own bounds.
#[derive(Debug, Default, Deserialize)]
pub struct Prefill {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    message: String,
}

/// GET /orgs/{org}/team/invite — the invite form as its own page (works without JavaScript),
/// filled from `?email=&role=&message=` when given.
pub async fn invite_page(
    req: OrgRequest,
    prefill: web::Query<Prefill>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let layout = req.layout("Invite Team Member")?;
    let seats = req.call(crate::service::seats::seats).await?;
    let mut form = InviteForm::empty(&req.member, layout.csrf.clone()).with_seats(&seats);
    form.emails = prefill.email.chars().take(254).collect();
    form.message = prefill.message.chars().take(MAX_MESSAGE_CHARS).collect();
    if prefill
        .role
        .parse::<Role>()
        .is_ok_and(|r| form.roles.contains(&r))
    {
        form.role.clone_from(&prefill.role);
    }
    render(&InvitePage::new(&req.member, layout, form))
}

/// The invite form as submitted.
#[derive(Debug, Deserialize)]
pub struct InviteSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    emails: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    message: String,
}

impl HasCsrfToken for InviteSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The result of an invite submission: one row per entry typed, in order, and the summary
/// line "N invitations sent, N resent, N skipped, N invalid." followed by the first 20 entries
/// that were not sent, with why. `outcomes` holds one outcome per valid entry of `listed`, in
/// order (as `service::invitations::invite` returns them).
pub fn invite_result(listed: &[ListedAddress], outcomes: &[AddressOutcome]) -> InviteResult {
    let mut outcomes = outcomes.iter();
    let mut rows = Vec::with_capacity(listed.len());
    let (mut sent, mut resent, mut skipped, mut invalid) = (0, 0, 0, 0);
    let mut not_sent = Vec::new();
    for entry in listed {
        let (email, kind, label) = match entry {
            ListedAddress::Valid(email) => match outcomes.next() {
                Some(AddressOutcome::Sent) => {
                    sent += 1;
                    (email.to_string(), "sent", "Sent".to_owned())
                }
                Some(AddressOutcome::Resent) => {
                    resent += 1;
                    (
                        email.to_string(),
                        "resent",
                        "Resent: already invited with this role, the original link again"
                            .to_owned(),
                    )
                }
                Some(AddressOutcome::Skipped(reason)) => {
                    skipped += 1;
                    not_sent.push(format!("{email} ({reason})"));
                    let why = match reason {
                        SkipReason::AlreadyMember => "Skipped: already a member".to_owned(),
                        SkipReason::ResentRecently => {
                            "Skipped: pending with the same role, and sent again less than a minute ago"
                                .to_owned()
                        }
                        SkipReason::AboveYourRole(_) | SkipReason::OutsideVerifiedDomains => {
                            format!("Skipped: {reason}")
                        }
                    };
                    (email.to_string(), "skipped", why)
                }
                None => continue,
            },
            ListedAddress::Duplicate { input } => {
                skipped += 1;
                not_sent.push(format!("{input} (listed more than once)"));
                (
                    input.clone(),
                    "skipped",
                    "Skipped: listed more than once (invited once)".to_owned(),
                )
            }
            ListedAddress::Invalid { input, error } => {
                invalid += 1;
                not_sent.push(format!("{input} (invalid address: {error})"));
                (
                    input.clone(),
                    "invalid",
                    format!("Invalid address: {error}"),
                )
            }
        };
        rows.push(OutcomeRow {
            email,
            kind: kind.to_owned(),
            label,
        });
    }
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let mut summary = format!(
        "{sent} {} sent, {resent} resent, {skipped} skipped, {invalid} invalid",
        plural(sent, "invitation", "invitations"),
    );
    if !not_sent.is_empty() {
        const SHOWN: usize = 20;
        let more = not_sent.len().saturating_sub(SHOWN);
        not_sent.truncate(SHOWN);
        summary.push_str(": ");
        summary.push_str(&not_sent.join(", "));
        if more > 0 {
            summary.push_str(&format!(" and {more} more"));
        }
    }
    summary.push('.');
    InviteResult { summary, rows }
}

/// A role typed into an invite form, checked against the sender's ceiling and plan
/// (`domain::invitation::authorize_invitation`), with the messages the form shows and the
/// status the refusal gets (a role no form offers: 400; above the sender's own, a Trial plan or
/// no right to invite: 403).
pub struct OfferedRole {
    /// The role, when it names one (even if refused: the form keeps it selected).
    pub role: Option<Role>,
    /// Beside the Role field: not a role, or above the sender's own.
    pub role_error: Option<String>,
    /// About the whole form: the plan allows no invitations, or the sender may not invite.
    pub form_error: Option<String>,
    /// The kind of refusal, when the role is refused.
    pub rejection: Option<Rejection>,
}

impl OfferedRole {
    /// Checks `input` for `member`; `doing` completes "You cannot {doing} Owner: …" (e.g.
    /// "invite someone as", "create a link for").
    pub fn check(member: &OrgMember, input: &str, doing: &str) -> Self {
        let Ok(role) = input.parse::<Role>() else {
            return Self {
                role: None,
                role_error: Some("Choose one of the roles listed.".into()),
                form_error: None,
                rejection: Some(Rejection::Malformed),
            };
        };
        let verdict = authorize_invitation(member.inviter(), member.org.plan, role);
        Self::judged(role, verdict, doing)
    }

    /// `role` as rules 1–3 judged it (`verdict`), with the messages the form shows.
    pub fn judged(role: Role, verdict: Result<(), InviteDenied>, doing: &str) -> Self {
        let (role_error, form_error) = match verdict {
            Ok(()) => (None, None),
            Err(InviteDenied::AboveCeiling(_)) => (
                Some(format!(
                    "You cannot {doing} {}: you may only assign roles at or below your own.",
                    role.label()
                )),
                None,
            ),
            Err(denied) => (None, Some(denied.to_string())),
        };
        let refused = role_error.is_some() || form_error.is_some();
        Self {
            role: Some(role),
            role_error,
            form_error,
            rejection: refused.then_some(Rejection::Forbidden),
        }
    }

    /// The status for a form re-shown with errors: this refusal's, else 422 (a field that
    /// failed validation).
    pub fn form_rejection(&self) -> Rejection {
        self.rejection.unwrap_or(Rejection::Invalid)
    }
}

/// A submission checked field by field: the form as it is shown again, every entry typed, and
/// the invitations to send when nothing is wrong.
struct Checked {
    form: InviteForm,
    role: Option<Role>,
    listed: Vec<ListedAddress>,
    entries: Option<Vec<InviteEntry>>,
    /// The status when the form is shown again.
    rejection: Rejection,
}

impl Checked {
    /// Checks `input` for `member`, keeping what was typed in `form`.
    fn new(member: &OrgMember, mut form: InviteForm, input: &InviteSubmission) -> Self {
        form.emails = input.emails.chars().take(MAX_ADDRESS_FIELD_CHARS).collect();
        form.message = input.message.chars().take(MAX_MESSAGE_CHARS * 2).collect();
        form.role = input.role.chars().take(20).collect();
        let offered = OfferedRole::check(member, &input.role, "invite someone as");
        let rejection = offered.form_rejection();
        form.role_error = offered.role_error;
        form.form_error = offered.form_error;
        let message = PersonalMessage::parse(&input.message).unwrap_or_else(|e| {
            form.message_error = Some(format!("The message {e}."));
            None
        });
        let listed = if input.emails.chars().count() > MAX_ADDRESS_FIELD_CHARS {
            form.emails_error =
                Some("That is too much text. Send at most 1,000 addresses at a time.".into());
            Vec::new()
        } else {
            let listed = parse_address_list(&input.emails);
            form.emails_error = list_error(&listed);
            listed
        };
        let entries = match (offered.role, form.has_errors()) {
            (Some(role), false) => Some(entries(&listed, role, message.as_ref())),
            _ => None,
        };
        Checked {
            form,
            role: offered.role,
            listed,
            entries,
            rejection,
        }
    }
}

/// What is wrong with the address list as a whole, if anything: too many, none, or none
/// valid (naming the first ten entries and why).
fn list_error(listed: &[ListedAddress]) -> Option<String> {
    let valid = listed
        .iter()
        .filter(|e| matches!(e, ListedAddress::Valid(_)))
        .count();
    if listed.len() > MAX_ADDRESSES_PER_SUBMISSION {
        Some(format!(
            "You entered {} addresses; send at most 1,000 at a time.",
            listed.len()
        ))
    } else if listed.is_empty() {
        Some("Enter at least one email address.".into())
    } else if valid == 0 {
        let shown: Vec<String> = listed
            .iter()
            .take(10)
            .map(|entry| match entry {
                ListedAddress::Invalid { input, error } => format!("{input} ({error})"),
                ListedAddress::Valid(e) => e.to_string(),
                ListedAddress::Duplicate { input } => format!("{input} (listed twice)"),
            })
            .collect();
        Some(format!("No valid address: {}.", shown.join(", ")))
    } else {
        None
    }
}

/// The valid addresses of `listed`, each offered `role` with `message`.
fn entries(
    listed: &[ListedAddress],
    role: Role,
    message: Option<&PersonalMessage>,
) -> Vec<InviteEntry> {
    listed
        .iter()
        .filter_map(|e| match e {
            ListedAddress::Valid(email) => Some(InviteEntry {
                email: email.clone(),
                role,
                message: message.cloned(),
                department: None,
            }),
            _ => None,
        })
        .collect()
}

/// POST /orgs/{org}/invitations — invites one or many addresses with one role and message.
/// Errors re-show the form with the input kept and the message beside the field; nothing is
/// written unless the whole submission is acceptable.
pub async fn send_invitations(
    req: OrgRequest,
    CsrfForm(input): CsrfForm<InviteSubmission>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let (member, layout) = (&req.member, req.layout("Invite Team Member")?);
    let form = InviteForm::empty(member, layout.csrf.clone());
    let Checked {
        mut form,
        role,
        listed,
        entries,
        rejection,
    } = Checked::new(member, form, &input);
    let Some(entries) = entries else {
        return render_refused(&InvitePage::new(member, layout, form), rejection, None);
    };
    let org = req.org();
    let invite =
        move |svc: &_, actor: &_, org, now| service::invite(svc, actor, org, &entries, now);
    let outcomes = match req.call(invite).await {
        Ok(outcomes) => outcomes,
        Err(ServiceError::Refused(refusal)) if shown_on_form(&refusal) => {
            form.show_refusal(role, &refusal);
            let page = InvitePage::new(member, layout, form);
            return render_refused(&page, refusal.rejection(), refusal.retry_after());
        }
        Err(e) => return Err(back_to_team(org)(e)),
    };
    report(&req.session, &listed, &outcomes)?;
    Ok(see_other(&paths::team(org)))
}

/// Tells the sender what became of every entry of `listed` (`outcomes`: one per valid entry):
/// the summary as the next page's message, and the per-address table when there was more
/// than one entry, kept in the session for the Team page (Post/Redirect/Get).
fn report(
    session: &Session,
    listed: &[ListedAddress],
    outcomes: &[AddressOutcome],
) -> Result<(), AppError> {
    let result = invite_result(listed, outcomes);
    if outcomes
        .iter()
        .any(|o| !matches!(o, AddressOutcome::Skipped(_)))
    {
        flash::success(session, result.summary.clone());
    } else {
        flash::error(session, result.summary.clone());
    }
    if result.rows.len() > 1 {
        session.insert(RESULT_KEY, &result)?;
    }
    Ok(())
}

/// Whether the invite form shows `refusal` beside its fields (a role or plan the rules refuse,
/// the hourly limit) rather than an error page.
fn shown_on_form(refusal: &InvitationRefusal) -> bool {
    matches!(
        refusal,
        InvitationRefusal::Denied(_)
            | InvitationRefusal::OverHourlyLimit { .. }
            | InvitationRefusal::NoFreeSeats(_)
    )
}
