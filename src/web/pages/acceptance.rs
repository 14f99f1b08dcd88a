//! The invitation page `/invitations/{token}` and the member invitation's POSTs (DESIGN.md,
//! "The acceptance page"). The page is what one look-up found (`service::acceptance::open`):
//! a member invitation's page here, a tenant-owner invitation's in `tenant_acceptance`; any
//! other token is a 404. Every handler parses, calls the service once and renders the
//! `LinkPage` it answers with; refusals are shown on the invitation's page with the status of
//! their kind (`web::refusals`). Every page that carries a token goes out through
//! `web::links::respond`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::auth::LOGIN_FAILED;
use super::see_other;
use super::team::TimeView;
use crate::domain::link::{LinkKind, LinkPage};
use crate::domain::password::Password;
use crate::domain::text::PersonName;
use crate::domain::{Organization, Role};
use crate::paths;
use crate::service::ServiceError;
use crate::service::acceptance::{
    self as service, Accepted, FieldErrors, InvitationRefusal, Joined, MemberLink, NewAccount,
    Opened, Refused, Registration, Renewal, RenewalAnswer,
};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::from_parts;
use crate::web::links::{LinkVisit, respond};
use crate::web::refusals::Refusal as _;
use crate::web::session::Session;
use crate::web::{AppError, Layout, flash};

/// What an invitation's page shows: one of the link's pages, or what a POST did.
pub(super) enum Shown {
    /// One of the link's pages (`domain::link::page`, or a refusal's).
    Link(LinkPage),
    /// The invitation was declined just now.
    Declined,
    /// "Request a new invitation" was sent now (`None`) or already at this time.
    RenewalRequested(Option<TimeView>),
}

/// "Request a new invitation" on an expired link's page, as shown.
enum RenewalView {
    Offered,
    Requested(TimeView),
    Superseded,
}

#[derive(Template, WebTemplate)]
#[template(path = "accept.html")]
struct AcceptPage {
    layout: Layout,
    shown: Shown,
    org_name: String,
    inviter_name: String,
    email: String,
    role: Role,
    message: Option<String>,
    expires: TimeView,
    /// The link's token: its forms post to paths under `paths::invitation(token)`.
    token: String,
    signed_in_email: String,
    renewal: Option<RenewalView>,
    form: FormView,
}

/// A form's kept input and the reasons beside its fields.
#[derive(Default)]
pub(super) struct FormView {
    pub(super) name: String,
    pub(super) company: String,
    pub(super) name_error: Option<String>,
    pub(super) password_error: Option<String>,
    pub(super) company_error: Option<String>,
}

impl FormView {
    /// The input kept from a refused form (bounded) and, for `why`, what to say beside the
    /// fields.
    pub(super) fn refused(why: &Refused, name: &str, company: &str) -> Self {
        let errors = match why {
            Refused::Invalid { errors, .. } => errors.clone(),
            _ => FieldErrors::default(),
        };
        let password_error = match why {
            Refused::WrongPassword => Some(LOGIN_FAILED.to_owned()),
            _ => errors.password.map(|e| format!("Password: {e}.")),
        };
        FormView {
            name: name.chars().take(200).collect(),
            company: company.chars().take(200).collect(),
            name_error: errors.name.map(|e| format!("Name: {e}.")),
            password_error,
            company_error: errors.company.map(|e| format!("Company name: {e}.")),
        }
    }
}

/// The status of an invitation page that shows `page` after a GET.
pub(super) fn status_of(page: LinkPage) -> StatusCode {
    match page {
        LinkPage::Unusable { .. } => Rejection::LinkUnusable.status(),
        _ => StatusCode::OK,
    }
}

/// Who is looking at an invitation's page, and through which link.
pub struct Here(pub(super) LinkVisit);

from_parts!(Here: (LinkVisit) => |(visit,)| { Here(visit) });

impl std::ops::Deref for Here {
    type Target = LinkVisit;

    fn deref(&self) -> &LinkVisit {
        &self.0
    }
}

impl Here {
    fn page(
        &self,
        link: &MemberLink,
        shown: Shown,
        form: FormView,
    ) -> Result<AcceptPage, AppError> {
        let details = &link.details;
        let (inv, org) = (&details.invitation, &details.organization);
        let now = self.state.clock.now();
        Ok(AcceptPage {
            layout: self.layout(format!("Invitation to {}", org.name))?,
            shown,
            org_name: org.name.clone(),
            inviter_name: details.inviter_name.clone(),
            email: inv.email.to_string(),
            role: inv.role,
            message: inv.message.clone(),
            expires: TimeView::new(inv.facts.expires_at, now),
            token: self.token.expose().to_owned(),
            signed_in_email: self.signed_in_email(),
            renewal: link.renewal.map(|r| match r {
                Renewal::Offered => RenewalView::Offered,
                Renewal::Requested(at) => RenewalView::Requested(TimeView::new(at, now)),
                Renewal::Superseded => RenewalView::Superseded,
            }),
            form,
        })
    }

    fn show(
        &self,
        link: &MemberLink,
        shown: Shown,
        status: StatusCode,
    ) -> Result<HttpResponse, AppError> {
        respond(&self.page(link, shown, FormView::default())?, status)
    }

    /// A refused POST on the invitation's page, with its kind's status; anything else is an
    /// error page.
    fn refused(
        &self,
        e: ServiceError<InvitationRefusal<MemberLink>>,
        name: &str,
    ) -> Result<HttpResponse, AppError> {
        match e {
            ServiceError::Refused(InvitationRefusal::Shown { link, why }) => {
                let shown = Shown::Link(why.page(LinkKind::MemberInvitation));
                let page = self.page(&link, shown, FormView::refused(&why, name, ""))?;
                respond(&page, why.rejection().status())
            }
            other => Err(other.into()),
        }
    }

    /// Back to the invitation's page (which shows the branch that fits).
    pub(super) fn back(&self) -> HttpResponse {
        see_other(&paths::invitation(self.token.expose()))
    }
}

/// GET /invitations/{token} — what the one look-up found: a member invitation's page (one of
/// its four branches, or why it cannot be used), a tenant-owner invitation's page, or a 404.
pub async fn show(here: Here) -> Result<HttpResponse, AppError> {
    let opened = here.read(service::open).await?;
    match opened {
        Opened::Member(view) => here.show(&view.link, Shown::Link(view.page), status_of(view.page)),
        Opened::Tenant(view) => super::tenant_acceptance::show_view(&here, &view),
    }
}

/// After an acceptance: a new session key, the message, the dashboard.
fn joined(session: &Session, joined: &Joined) -> Result<HttpResponse, AppError> {
    session.sign_in(joined.user.id)?;
    let org: &Organization = &joined.organization;
    match joined.accepted {
        Accepted::Joined(role) => flash::success(
            session,
            format!("You joined {} as {}", org.name, role.label()),
        ),
        Accepted::AlreadyMember(role) => flash::info(
            session,
            format!(
                "You are already a member of {} as {}; your role is unchanged.",
                org.name,
                role.label()
            ),
        ),
    }
    Ok(see_other(&paths::dashboard(org.id)))
}

/// The account forms of an invitation's page: "Create account & join" (Name, Password) and, on
/// a tenant-owner invitation's page, "Create organization" (which fields matter depends on who
/// submits it: Name, Password, Company name).
#[derive(Debug, Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) password: String,
    #[serde(default)]
    pub(super) company: String,
}

impl HasCsrfToken for AccountForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl AccountForm {
    /// The account the form asks for, parsed (the service refuses what does not parse).
    fn account(&self) -> NewAccount {
        NewAccount {
            name: PersonName::parse(&self.name),
            password: Password::new_account(&self.password),
        }
    }
}

/// POST /invitations/{token}/register — branch 1: the invitation proves the email, so the
/// account is created and the invitation accepted at once (`service::acceptance::register`
/// checks all that can refuse before it hashes the password); the route sits behind the
/// per-client password budget (`web::routes`).
pub async fn register(
    here: Here,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, AppError> {
    let cmd = form.account();
    let result = here
        .call(move |svc, v, t, now| service::register(svc, v, t, cmd, now))
        .await;
    match result {
        Ok(Registration::Joined(done)) => joined(&here.session, &done),
        Ok(Registration::SignedInAlready) => Ok(here.back()),
        Ok(Registration::AccountExists) => {
            flash::info(
                &here.session,
                "An account with this email already exists. Log in to accept.",
            );
            Ok(here.back())
        }
        Err(e) => here.refused(e, &form.name),
    }
}

/// The "Log in & accept" form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
}

impl HasCsrfToken for PasswordForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /invitations/{token}/login — branch 2: log in as the invited email and accept.
pub async fn log_in_and_accept(
    here: Here,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let here = Here(here.0.signed_out());
    let result = here
        .call(move |svc, v, t, now| service::log_in(svc, v, t, &form.password, now))
        .await;
    match result {
        Ok(done) => joined(&here.session, &done),
        Err(e) => here.refused(e, ""),
    }
}

/// POST /invitations/{token}/accept — branch 3: the signed-in invitee accepts.
pub async fn accept(
    here: Here,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let result = here.call(service::accept).await;
    match result {
        Ok(Some(done)) => joined(&here.session, &done),
        Ok(None) => Ok(here.back()),
        Err(e) => here.refused(e, ""),
    }
}

/// POST /invitations/{token}/decline — the invitee declines (signed out, or signed in as the
/// invitee; another account may not, and uses nothing up).
pub async fn decline(
    here: Here,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let result = here.call(service::decline).await;
    match result {
        Ok(link) => here.show(&link, Shown::Declined, StatusCode::OK),
        Err(e) => here.refused(e, ""),
    }
}

/// POST /invitations/{token}/request-new — from an expired link's page: asks the inviter by
/// email for a new invitation, at most once a day per invitation; the page says which.
pub async fn request_new(
    here: Here,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let result = here.call(service::request_renewal).await;
    let now = here.state.clock.now();
    let (link, at) = match result {
        Ok(RenewalAnswer::Sent(link)) => (link, None),
        Ok(RenewalAnswer::AlreadyAsked(link, at)) => (link, Some(TimeView::new(at, now))),
        Ok(RenewalAnswer::StillUsable) => return Ok(here.back()),
        Err(e) => return here.refused(e, ""),
    };
    here.show(&link, Shown::RenewalRequested(at), StatusCode::OK)
}
