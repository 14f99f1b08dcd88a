//! The JSON API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations, and a reference page made from that same document.

use actix_web::HttpResponse;
use askama::Template;
use askama_web::WebTemplate;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::resources as r;
use crate::web::extractors::PageVisit;
use crate::web::pages::render;
use crate::web::{AppError, Layout};

/// The document: every route of `/api/v1/orgs/{org}`, its bodies and its problems.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Joinery API",
        version = "1",
        description = "Members, invitations and the audit trail of one organization. Send an API token made on Settings → API tokens as `Authorization: Bearer jnr_…`. Errors are RFC 9457 problems (`application/problem+json`). Lists page with `?limit=` (1–200, default 50) and `?cursor=` (the previous page's `next_cursor`)."
    ),
    paths(
        r::organization,
        r::members,
        r::change_role,
        r::remove_member,
        r::invitations,
        r::invite,
        r::invitation,
        r::resend,
        r::revoke,
        r::audit,
    ),
    components(schemas(super::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme the paths name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: jnr_ and 32 characters"))
                    .build(),
            ),
        );
    }
}

/// GET /api/v1/openapi.json — the OpenAPI 3.1 document (no token needed).
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ApiDoc::openapi().to_pretty_json().unwrap_or_default())
}

/// One operation as the reference page lists it.
pub struct OperationView {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// The path pattern.
    pub path: String,
    /// Its one-line summary.
    pub summary: String,
    /// More, if any.
    pub description: String,
    /// Its statuses and what each means.
    pub responses: Vec<(String, String)>,
    /// An anchor id.
    pub anchor: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "api_docs.html")]
struct ReferencePage {
    layout: Layout,
    description: String,
    operations: Vec<OperationView>,
}

/// Every operation of the document, in path order.
pub fn operations() -> Vec<OperationView> {
    let doc = ApiDoc::openapi();
    let mut out = Vec::new();
    for (path, item) in doc.paths.paths {
        let ops = [
            ("GET", item.get),
            ("POST", item.post),
            ("PATCH", item.patch),
            ("DELETE", item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let responses = op
                .responses
                .responses
                .iter()
                .map(|(status, resp)| {
                    let text = match resp {
                        utoipa::openapi::RefOr::T(r) => r.description.clone(),
                        utoipa::openapi::RefOr::Ref(_) => String::new(),
                    };
                    (status.clone(), text)
                })
                .collect();
            out.push(OperationView {
                method,
                anchor: format!(
                    "{}-{}",
                    method.to_lowercase(),
                    path.replace(['/', '{', '}'], "-")
                ),
                path: path.clone(),
                summary: op.summary.unwrap_or_default(),
                description: op.description.unwrap_or_default(),
                responses,
            });
        }
    }
    out
}

/// GET /api/v1/docs — the reference: every operation with its statuses, from the document.
pub async fn reference(visit: PageVisit) -> Result<HttpResponse, AppError> {
    let doc = ApiDoc::openapi();
    render(&ReferencePage {
        layout: visit.layout("API reference")?,
        description: doc.info.description.unwrap_or_default(),
        operations: operations(),
    })
}
