//! Settings → Domains (Owner-only, like billing): add a domain and prove it with the mailed
//! code, choose its enrollment mode, remove it, and restrict invitations to verified domains;
//! and "Join {org}" from "Organizations you can join". The rules are `service::domains`';
//! these handlers parse, call it once and render. A refused form is shown again with its
//! input kept and the reason beside the field, at the status policy's status.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::team::TimeView;
use super::{render, render_refused, see_other};
use crate::db::domains::OrgDomain;
use crate::domain::verified_domain::{EnrollmentMode, domain_roles};
use crate::domain::{DomainId, OrganizationId, Permission, Role};
use crate::paths;
use crate::service::domains::{self as service, DomainRefusal};
use crate::service::{Actor, ServiceError, Services};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::{OrgRequest, PageVisit, on};
use crate::web::refusals::{Refusal, shown};
use crate::web::request_meta::Meta;
use crate::web::{AppError, flash};

/// A domain of an organization, from `/orgs/{org}/settings/domains/{id}/…` (a malformed id is
/// a 404).
type DomainIdPath = web::Path<(OrganizationId, DomainId)>;

/// One domain as the page shows it, with its forms.
struct DomainView {
    domain: OrgDomain,
    verified: Option<TimeView>,
    code_expires: TimeView,
    verify_path: String,
    code_path: String,
    enrollment_path: String,
    remove_path: String,
    /// Why the code (for this domain) was refused, if it was.
    code_error: Option<String>,
    /// Why the enrollment change (for this domain) was refused, if it was.
    enrollment_error: Option<String>,
}

/// The "Add a domain" form as shown.
#[derive(Default)]
struct AddForm {
    domain: String,
    email: String,
    domain_error: Option<String>,
    email_error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "domains.html")]
struct DomainsPage {
    layout: crate::web::Layout,
    domains: Vec<DomainView>,
    modes: [EnrollmentMode; 3],
    roles: Vec<Role>,
    add_path: String,
    add: AddForm,
    restricted: bool,
    any_verified: bool,
    restriction_path: String,
    restriction_error: Option<String>,
    /// A refusal shown above everything (e.g. a code sent too recently).
    page_error: Option<String>,
}

/// Which form a refusal is shown beside.
enum Beside {
    Add(AddForm),
    Code(DomainId),
    Enrollment(DomainId),
    Restriction,
}

/// The page for `req`'s organization with `refusal` (if any) shown beside its form.
async fn page(
    req: &OrgRequest,
    refused: Option<(Beside, String)>,
) -> Result<DomainsPage, AppError> {
    let settings = req
        .call(|svc, actor, org, _| service::settings(svc, actor, org))
        .await?;
    let (org, now) = (req.org(), req.state.clock.now());
    let mut page = DomainsPage {
        layout: req.layout("Domains")?,
        any_verified: settings.domains.iter().any(|d| d.verified),
        domains: settings
            .domains
            .into_iter()
            .map(|d| DomainView {
                verified: d.verified_at.map(|at| TimeView::new(at, now)),
                code_expires: TimeView::new(d.code.expires_at, now),
                verify_path: paths::domain_verify(org, d.id),
                code_path: paths::domain_code(org, d.id),
                enrollment_path: paths::domain_enrollment(org, d.id),
                remove_path: paths::domain_remove(org, d.id),
                code_error: None,
                enrollment_error: None,
                domain: d,
            })
            .collect(),
        modes: EnrollmentMode::ALL,
        roles: domain_roles(),
        add_path: paths::domains(org),
        add: AddForm::default(),
        restricted: settings.restricted,
        restriction_path: paths::domain_restriction(org),
        restriction_error: None,
        page_error: None,
    };
    if let Some((beside, text)) = refused {
        fn on_domain(page: &mut DomainsPage, id: DomainId) -> Option<&mut DomainView> {
            page.domains.iter_mut().find(|d| d.domain.id == id)
        }
        match beside {
            Beside::Add(form) => page.add = form,
            Beside::Code(id) => match on_domain(&mut page, id) {
                Some(d) => d.code_error = Some(text),
                None => page.page_error = Some(text),
            },
            Beside::Enrollment(id) => match on_domain(&mut page, id) {
                Some(d) => d.enrollment_error = Some(text),
                None => page.page_error = Some(text),
            },
            Beside::Restriction => page.restriction_error = Some(text),
        }
    }
    Ok(page)
}

/// The page again with `e`'s refusal beside the form `beside` names, at its status; a
/// refusal that is not about the form (no standing, not an Owner, a foreign id) is its error
/// page.
async fn refused(
    req: &OrgRequest,
    beside: Beside,
    e: ServiceError<DomainRefusal>,
) -> Result<HttpResponse, AppError> {
    let (refusal, _) = shown(e)?;
    if matches!(
        refusal,
        DomainRefusal::NoStanding(_) | DomainRefusal::NotPermitted | DomainRefusal::NotFound
    ) {
        return Err(ServiceError::Refused(refusal).into());
    }
    let beside = match (beside, &refusal) {
        (Beside::Add(mut form), DomainRefusal::InvalidProofEmail(text)) => {
            form.email_error = Some(text.clone());
            Beside::Add(form)
        }
        (Beside::Add(mut form), DomainRefusal::CodeSentRecently { .. }) => {
            form.domain_error = Some(refusal.to_string());
            Beside::Add(form)
        }
        (Beside::Add(mut form), _) => {
            form.domain_error = Some(refusal.to_string());
            Beside::Add(form)
        }
        (other, _) => other,
    };
    let page = page(req, Some((beside, refusal.to_string()))).await?;
    render_refused(&page, refusal.rejection(), refusal.retry_after())
}

/// Runs `op` on the domain `path` names, for an Owner; a refusal's page links back to
/// Settings → Domains.
async fn on_domain<T: Send + 'static>(
    req: &OrgRequest,
    path: DomainIdPath,
    op: impl FnOnce(
        &Services,
        &Actor,
        OrganizationId,
        DomainId,
        DateTime<Utc>,
    ) -> Result<T, ServiceError<DomainRefusal>>
    + Send
    + 'static,
) -> Result<T, AppError> {
    req.require(Permission::Billing)?;
    let (org, id) = path.into_inner();
    req.call(on(id, op))
        .await
        .map_err(|e| AppError::from(e).back_to(paths::domains(org), "Back to Domains"))
}

/// GET /orgs/{org}/settings/domains — the organization's domains. Owners only (403).
pub async fn domains_page(req: OrgRequest) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    render(&page(&req, None).await?)
}

/// The "Add a domain" form.
#[derive(Debug, Deserialize)]
pub struct AddSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    email: String,
}

impl HasCsrfToken for AddSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/settings/domains — claims the domain and mails the code to the address.
pub async fn add(
    req: OrgRequest,
    CsrfForm(input): CsrfForm<AddSubmission>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let form = AddForm {
        domain: input.domain.chars().take(300).collect(),
        email: input.email.chars().take(320).collect(),
        ..AddForm::default()
    };
    let (domain, email) = (form.domain.clone(), form.email.clone());
    let added = req
        .call(move |svc, actor, org, now| service::add(svc, actor, org, &domain, &email, now))
        .await;
    match added {
        Ok(_) => {
            flash::success(
                &req.session,
                format!(
                    "We sent a 6-digit code to {}. Enter it below within 30 minutes to verify the domain.",
                    form.email.trim()
                ),
            );
            Ok(see_other(&paths::domains(req.org())))
        }
        Err(e) => refused(&req, Beside::Add(form), e).await,
    }
}

/// The "Verify" form.
#[derive(Debug, Deserialize)]
pub struct CodeSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    code: String,
}

impl HasCsrfToken for CodeSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/settings/domains/{id}/verify — checks the code.
pub async fn verify(
    req: OrgRequest,
    path: DomainIdPath,
    CsrfForm(input): CsrfForm<CodeSubmission>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let id = path.into_inner().1;
    let code: String = input.code.chars().take(20).collect();
    let verify =
        move |svc: &_, actor: &_, org, id, now| service::verify(svc, actor, org, id, &code, now);
    match req.call(on(id, verify)).await {
        Ok(domain) => {
            flash::success(
                &req.session,
                format!("{domain} is verified. Choose how people with an address there join."),
            );
            Ok(see_other(&paths::domains(req.org())))
        }
        Err(e) => refused(&req, Beside::Code(id), e).await,
    }
}

/// POST /orgs/{org}/settings/domains/{id}/code — mails a new code (at most one a minute).
pub async fn new_code(
    req: OrgRequest,
    path: DomainIdPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let id = path.into_inner().1;
    match req.call(on(id, service::new_code)).await {
        Ok(domain) => {
            flash::success(
                &req.session,
                format!("We sent a new code to {}.", domain.proof_email),
            );
            Ok(see_other(&paths::domains(req.org())))
        }
        Err(e) => refused(&req, Beside::Code(id), e).await,
    }
}

/// The enrollment form of a verified domain.
#[derive(Debug, Deserialize)]
pub struct EnrollmentSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    enrollment: String,
    #[serde(default)]
    role: String,
}

impl HasCsrfToken for EnrollmentSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/settings/domains/{id}/enrollment — a mode or role no form offers is a
/// 400; a role above Editor (forged) is refused by the service.
pub async fn set_enrollment(
    req: OrgRequest,
    path: DomainIdPath,
    CsrfForm(input): CsrfForm<EnrollmentSubmission>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let id = path.into_inner().1;
    let (Ok(mode), Ok(role)) = (
        input.enrollment.parse::<EnrollmentMode>(),
        input.role.parse::<Role>(),
    ) else {
        return Err(AppError::rejected(
            Rejection::Malformed,
            "Choose one of the enrollment modes and roles listed.",
            None,
        ));
    };
    let set = move |svc: &_, actor: &_, org, id, now| {
        service::set_enrollment(svc, actor, org, id, mode, role, now)
    };
    match req.call(on(id, set)).await {
        Ok(domain) => {
            flash::success(
                &req.session,
                format!("Saved: {} is now “{}”.", domain.domain, domain.enrollment),
            );
            Ok(see_other(&paths::domains(req.org())))
        }
        Err(e) => refused(&req, Beside::Enrollment(id), e).await,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "domain_remove.html")]
struct RemovePage {
    layout: crate::web::Layout,
    domain: OrgDomain,
    action: String,
    back_path: String,
}

/// GET /orgs/{org}/settings/domains/{id}/remove — asks for confirmation.
pub async fn remove_confirm(req: OrgRequest, path: DomainIdPath) -> Result<HttpResponse, AppError> {
    let to_remove = |svc: &_, actor: &_, org, id, _| service::to_remove(svc, actor, org, id);
    let domain = on_domain(&req, path, to_remove).await?;
    render(&RemovePage {
        layout: req.layout("Remove domain")?,
        action: paths::domain_remove(req.org(), domain.id),
        back_path: paths::domains(req.org()),
        domain,
    })
}

/// POST /orgs/{org}/settings/domains/{id}/remove — removes it; members who joined through it
/// stay.
pub async fn remove(
    req: OrgRequest,
    path: DomainIdPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let domain = on_domain(&req, path, service::remove).await?;
    flash::success(
        &req.session,
        format!("{domain} was removed. Members who joined through it stay."),
    );
    Ok(see_other(&paths::domains(req.org())))
}

/// The restriction form; an unticked checkbox is simply absent.
#[derive(Debug, Deserialize)]
pub struct RestrictionSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    restricted: Option<String>,
}

impl HasCsrfToken for RestrictionSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/settings/domains/restriction.
pub async fn set_restriction(
    req: OrgRequest,
    CsrfForm(input): CsrfForm<RestrictionSubmission>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let on = input.restricted.is_some();
    let set = move |svc: &_, actor: &_, org, now| service::set_restricted(svc, actor, org, on, now);
    match req.call(set).await {
        Ok(on) => {
            flash::success(
                &req.session,
                if on {
                    "Saved: invitations and invite links are only for addresses at your verified domains."
                } else {
                    "Saved: invitations and invite links are for any address."
                },
            );
            Ok(see_other(&paths::domains(req.org())))
        }
        Err(e) => refused(&req, Beside::Restriction, e).await,
    }
}

/// POST /orgs/{org}/domain-join — "Join {org}" for a signed-in person whose address is at a
/// verified domain of the organization in *Automatic* mode. Signed out: to the log-in page.
/// Refusals: not offered (404, never saying why), already a member (409), no free seat (403).
pub async fn join(
    visit: PageVisit,
    Meta(origin): Meta,
    path: web::Path<OrganizationId>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = visit.user.clone() else {
        return Ok(see_other(&paths::login()));
    };
    let org = path.into_inner();
    let actor = Actor::new(user, origin);
    let now = visit.state.clock.now();
    let (organization, role) = visit
        .state
        .call(move |svc| service::join(svc, &actor, org, now))
        .await
        .map_err(|e| AppError::from(e).back_to(paths::home(), "Back to your organizations"))?;
    flash::success(
        &visit.session,
        format!("You joined {} as {}.", organization.name, role.label()),
    );
    Ok(see_other(&paths::dashboard(organization.id)))
}
