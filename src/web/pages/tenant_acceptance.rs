//! The tenant-owner invitation's page (DESIGN.md, "The acceptance page": "Tenant-owner
//! invitations add a Company name field") and its POSTs. `/invitations/{token}` shows it when
//! the one look-up finds a tenant-owner invitation (`acceptance::show`). Accepting creates the
//! organization on the plan staff chose, with the invitee as Owner — exactly one, however often
//! the form is submitted (`service::tenants`).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use askama_web::WebTemplate;

use super::acceptance::{AccountForm, FormView, Here, Shown, status_of};
use super::see_other;
use super::team::TimeView;
use crate::domain::link::{LinkKind, LinkPage};
use crate::domain::tenant::TenantInvitation;
use crate::domain::text::{OrganizationName, PersonName};
use crate::domain::{Organization, Plan, User};
use crate::paths;
use crate::service::ServiceError;
use crate::service::acceptance::InvitationRefusal;
use crate::service::tenants::{self as service, CreateOrganization, Founding, TenantView};
use crate::web::csrf::{CsrfForm, TokenOnly};
use crate::web::links::respond;
use crate::web::refusals::Refusal as _;
use crate::web::session::Session;
use crate::web::{AppError, Layout, flash};

#[derive(Template, WebTemplate)]
#[template(path = "tenant_accept.html")]
struct TenantPage {
    layout: Layout,
    shown: Shown,
    email: String,
    inviter_name: String,
    plan: Plan,
    message: Option<String>,
    expires: TimeView,
    /// The link's token: its forms post to paths under `paths::invitation(token)`.
    token: String,
    signed_in_email: String,
    form: FormView,
}

impl Here {
    fn tenant_page(
        &self,
        inv: &TenantInvitation,
        shown: Shown,
        form: FormView,
    ) -> Result<TenantPage, AppError> {
        Ok(TenantPage {
            layout: self.layout("Set up your organization")?,
            shown,
            email: inv.email.to_string(),
            inviter_name: inv.inviter_name.clone(),
            plan: inv.plan,
            message: inv.message.clone(),
            expires: TimeView::new(inv.facts.expires_at, self.state.clock.now()),
            token: self.token.expose().to_owned(),
            signed_in_email: self.signed_in_email(),
            form,
        })
    }

    /// A refused POST on the invitation's page with its kind's status, the input kept.
    fn tenant_refused(
        &self,
        e: ServiceError<InvitationRefusal<TenantInvitation>>,
        name: &str,
        company: &str,
    ) -> Result<HttpResponse, AppError> {
        match e {
            ServiceError::Refused(InvitationRefusal::Shown { link, why }) => {
                let shown = Shown::Link(why.page(LinkKind::TenantInvitation));
                let kept = FormView::refused(&why, name, company);
                let page = self.tenant_page(&link, shown, kept)?;
                respond(&page, why.rejection().status())
            }
            other => Err(other.into()),
        }
    }
}

/// The page of a tenant-owner invitation that `/invitations/{token}` found.
pub(super) fn show_view(here: &Here, view: &TenantView) -> Result<HttpResponse, AppError> {
    let page = here.tenant_page(&view.inv, Shown::Link(view.page), FormView::default())?;
    respond(&page, status_of(view.page))
}

/// What the "Create organization" form asks for, parsed (the service refuses what does not
/// parse, by who submits it).
fn founding(form: &AccountForm) -> CreateOrganization {
    CreateOrganization {
        company: OrganizationName::parse(&form.company),
        name: PersonName::parse(&form.name),
        password: form.password.clone(),
    }
}

/// After the organization was created: its Owner signed in with a new session key, welcomed
/// on its dashboard.
fn welcome(session: &Session, user: &User, org: &Organization) -> Result<HttpResponse, AppError> {
    session.sign_in(user.id)?;
    flash::success(
        session,
        format!(
            "Welcome! {} is ready on the {} plan, and you are its Owner.",
            org.name,
            org.plan.label()
        ),
    );
    Ok(see_other(&paths::dashboard(org.id)))
}

/// POST /invitations/{token}/organization — creates the organization: for a new user with
/// Name and Password, for an existing signed-out user with Password, for the signed-in invitee
/// with just the Company name. The route sits behind the per-client password budget
/// (`web::routes`).
pub async fn create_organization(
    here: Here,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> Result<HttpResponse, AppError> {
    let cmd = founding(&form);
    let founding = here
        .call(move |svc, v, t, now| service::create_organization(svc, v, t, cmd, now))
        .await;
    match founding {
        Ok(Founding::Founded { user, organization }) => {
            welcome(&here.session, &user, &organization)
        }
        Ok(Founding::AccountExists) => {
            flash::info(
                &here.session,
                "An account with this email already exists. Log in to continue.",
            );
            Ok(here.back())
        }
        Err(e) => here.tenant_refused(e, &form.name, &form.company),
    }
}

/// POST /invitations/{token}/decline-organization — the invitee declines (signed out, or
/// signed in as the invitee; never another account).
pub async fn decline(
    here: Here,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    match here.call(service::decline).await {
        Ok(inv) => {
            let page = here.tenant_page(&inv, Shown::Declined, FormView::default())?;
            respond(&page, StatusCode::OK)
        }
        Err(e) => here.tenant_refused(e, "", ""),
    }
}
