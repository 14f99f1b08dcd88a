//! The Billing page: the organization's plan and what it includes (Owner only — `billing`;
//! staff too, `service::organizations::billing`). Plans are changed by platform staff in the
//! staff console.

use actix_web::HttpResponse;
use askama::Template;
use askama_web::WebTemplate;

use super::render;
use crate::domain::{Permission, Plan};
use crate::service::seats;
use crate::web::extractors::OrgRequest;
use crate::web::{AppError, Layout};

#[derive(Template, WebTemplate)]
#[template(path = "billing.html")]
struct BillingPage {
    layout: Layout,
    plan: Plan,
    plans: Vec<(Plan, &'static str)>,
    trial_message: Option<&'static str>,
    seats: String,
}

/// What each plan includes, in words.
pub fn plan_summary(plan: Plan) -> &'static str {
    match plan {
        Plan::Trial => "Try Joinery on your own: no team invitations.",
        Plan::Starter => "Team invitations and roles for small teams.",
        Plan::Professional => "Everything in Starter, for growing teams.",
        Plan::Enterprise => "Everything in Professional, with priority support.",
    }
}

/// GET /orgs/{org}/billing.
pub async fn billing_page(req: OrgRequest) -> Result<HttpResponse, AppError> {
    // The page says which permission is missing; the service keeps the rule.
    req.require(Permission::Billing)?;
    let (plan, seats) = req.call(seats::billing).await?;
    render(&BillingPage {
        layout: req.layout("Billing")?,
        plan,
        plans: Plan::ALL.iter().map(|p| (*p, plan_summary(*p))).collect(),
        trial_message: (!plan.allows_invitations()).then_some(Plan::TRIAL_MESSAGE),
        seats: seats.summary(),
    })
}
