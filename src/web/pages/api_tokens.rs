//! Settings → API tokens (issue 15 §1; Owner-only, like billing): the list, "Create token"
//! (the secret shown once, on the page the form posts to, with the link pages' no-store
//! headers), and revocation with a confirmation page. The rules are `service::api_tokens`';
//! these handlers parse, call it once and render.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::team::TimeView;
use super::{render, render_refused, see_other};
use crate::domain::api_token::TokenExpiry;
use crate::domain::{ApiTokenId, OrganizationId, Permission, Role};
use crate::paths;
use crate::service::api_tokens::{self as service, ApiTokenRefusal, CreateToken};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::{OrgRequest, on};
use crate::web::links::respond;
use crate::web::refusals::{Refusal, shown};
use crate::web::{AppError, Layout, flash};

/// A token of an organization, from `/orgs/{org}/settings/api/{id}/…` (a malformed id is a
/// 404).
type TokenIdPath = web::Path<(OrganizationId, ApiTokenId)>;

/// One token as the list shows it.
struct TokenRow {
    name: String,
    role: Role,
    created_by: String,
    created: TimeView,
    expires: Option<TimeView>,
    expired: bool,
    last_used: Option<TimeView>,
    revoke_path: String,
}

/// A token just created: its name and secret, shown once.
struct Created {
    name: String,
    secret: String,
}

/// "Create a token" as shown: kept input and errors.
struct TokenForm {
    name: String,
    role: String,
    expiry: String,
    name_error: Option<String>,
    role_error: Option<String>,
    expiry_error: Option<String>,
    form_error: Option<String>,
}

impl Default for TokenForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            role: Role::Viewer.as_str().into(),
            expiry: TokenExpiry::Days90.as_str().into(),
            name_error: None,
            role_error: None,
            expiry_error: None,
            form_error: None,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "api_tokens.html")]
struct TokensPage {
    layout: Layout,
    org_id: String,
    reference_path: String,
    tokens: Vec<TokenRow>,
    created: Option<Created>,
    create_path: String,
    roles: Vec<Role>,
    expiries: [TokenExpiry; 4],
    form: TokenForm,
}

/// The page for `req`'s organization, with `created` shown once and `form` as given.
async fn page(
    req: &OrgRequest,
    created: Option<Created>,
    form: TokenForm,
) -> Result<TokensPage, AppError> {
    let listed = req
        .call(|svc, actor, org, _| service::list(svc, actor, org))
        .await?;
    let (org, now) = (req.org(), req.state.clock.now());
    Ok(TokensPage {
        layout: req.layout("API tokens")?,
        org_id: org.to_string(),
        reference_path: paths::api_docs(),
        tokens: listed
            .into_iter()
            .map(|l| {
                let t = l.token;
                TokenRow {
                    expired: !t.is_usable(now),
                    revoke_path: paths::revoke_api_token(org, t.id),
                    name: t.name,
                    role: t.role,
                    created_by: l.created_by_name,
                    created: TimeView::new(t.created_at, now),
                    expires: t.expires_at.map(|at| TimeView::new(at, now)),
                    last_used: t.last_used_at.map(|at| TimeView::new(at, now)),
                }
            })
            .collect(),
        created,
        create_path: paths::api_tokens(org),
        roles: req.member.role.assignable_roles(),
        expiries: TokenExpiry::ALL,
        form,
    })
}

/// GET /orgs/{org}/settings/api — the organization's tokens and "Create a token". Owners (and
/// staff) only: others get 403.
pub async fn tokens_page(req: OrgRequest) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    render(&page(&req, None, TokenForm::default()).await?)
}

/// "Create a token" as submitted.
#[derive(Debug, Deserialize)]
pub struct CreateSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    expiry: String,
}

impl HasCsrfToken for CreateSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/settings/api — creates a token and shows its secret once, on this page
/// (never stored, never shown again). A role or expiry no form offers (400), an unacceptable
/// name (422) or a role above the Owner's own (403) re-show the form with the input kept and
/// nothing written.
pub async fn create(
    req: OrgRequest,
    CsrfForm(input): CsrfForm<CreateSubmission>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let mut form = TokenForm {
        name: input.name.chars().take(200).collect(),
        role: input.role.chars().take(20).collect(),
        expiry: input.expiry.chars().take(20).collect(),
        ..TokenForm::default()
    };
    let (role, expiry) = match (
        input.role.parse::<Role>(),
        input.expiry.parse::<TokenExpiry>(),
    ) {
        (Ok(role), Ok(expiry)) => (role, expiry),
        (role, expiry) => {
            form.role_error = role.err().map(|_| "Choose one of the roles listed.".into());
            form.expiry_error = expiry.err().map(|e| format!("Expires after: {e}."));
            let shown = page(&req, None, form).await?;
            return render_refused(&shown, Rejection::Malformed, None);
        }
    };
    let cmd = CreateToken {
        name: input.name,
        role,
        expiry,
    };
    let made = req
        .call(move |svc, actor, org, now| service::create(svc, actor, org, &cmd, now))
        .await;
    match made {
        Ok((token, secret)) => {
            let created = Created {
                name: token.name,
                secret: secret.expose(),
            };
            let shown = page(&req, Some(created), TokenForm::default()).await?;
            respond(&shown, StatusCode::OK)
        }
        Err(e) => {
            let (refusal, _) = shown(e)?;
            match &refusal {
                ApiTokenRefusal::InvalidName(_) => form.name_error = Some(refusal.to_string()),
                ApiTokenRefusal::AboveCeiling(_) => form.role_error = Some(refusal.to_string()),
                _ => form.form_error = Some(refusal.to_string()),
            }
            let shown = page(&req, None, form).await?;
            render_refused(&shown, refusal.rejection(), None)
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "api_token_revoke.html")]
struct RevokePage {
    layout: Layout,
    name: String,
    role: Role,
    created_by: String,
    created: TimeView,
    action: String,
    back_path: String,
}

/// GET /orgs/{org}/settings/api/{id}/revoke — asks "Revoke API token …?". A revoked token is
/// a 409; another organization's or an unknown one a 404.
pub async fn revoke_confirm(req: OrgRequest, path: TokenIdPath) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let (org, id) = path.into_inner();
    let token = req
        .call(on(id, |svc, actor, org, id, _| {
            service::find(svc, actor, org, id)
        }))
        .await
        .map_err(|e| AppError::from(e).back_to(paths::api_tokens(org), "Back to API tokens"))?;
    let creator = req
        .call(|svc, actor, org, _| service::list(svc, actor, org))
        .await?
        .into_iter()
        .find(|l| l.token.id == token.id)
        .map(|l| l.created_by_name)
        .unwrap_or_default();
    let now = req.state.clock.now();
    render(&RevokePage {
        layout: req.layout("Revoke API token")?,
        action: paths::revoke_api_token(org, token.id),
        back_path: paths::api_tokens(org),
        name: token.name,
        role: token.role,
        created_by: creator,
        created: TimeView::new(token.created_at, now),
    })
}

/// POST /orgs/{org}/settings/api/{id}/revoke — the token stops working at once; back to the
/// list with a message. A revoked token is a 409.
pub async fn revoke(
    req: OrgRequest,
    path: TokenIdPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::Billing)?;
    let (org, id) = path.into_inner();
    let token = req
        .call(on(id, service::revoke))
        .await
        .map_err(|e| AppError::from(e).back_to(paths::api_tokens(org), "Back to API tokens"))?;
    flash::success(
        &req.session,
        format!(
            "The API token “{}” was revoked; it no longer works.",
            token.name
        ),
    );
    Ok(see_other(&paths::api_tokens(org)))
}
