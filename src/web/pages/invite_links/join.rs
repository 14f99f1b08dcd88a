//! Following an invite link: `/join/{token}` and the POSTs under it, and the page of a join
//! link (at `/signup/{token}`, which `pages::signup` hands here). What a visitor sees and what
//! a form does are the service's decisions (`service::invite_links::join`): these handlers
//! parse, call it once, and render the page it chose (`domain::link::LinkPage`) with the link
//! pages' headers (`web::links::respond`). Opening a link changes nothing; joining is a POST.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use askama_web::WebTemplate;

use super::super::see_other;
use super::super::signup::LinkInput;
use super::super::team::TimeView;
use crate::domain::link::LinkPage;
use crate::domain::signup::MAX_EMAILS_PER_WINDOW;
use crate::domain::{EmailAddress, Role};
use crate::paths;
use crate::service::ServiceError;
use crate::service::invite_links::join::{
    self as service, Asked, JoinOutcome, JoinProblem, JoinRefusal, JoinScreen, LogIn,
};
use crate::web::csrf::{CsrfForm, TokenOnly};
use crate::web::error::Rejection;
use crate::web::links::{LinkVisit, respond};
use crate::web::pages::join_requests::NoteSubmission;
use crate::web::refusals::shown;
use crate::web::{AppError, Layout, flash};

/// An invite link's page, showing one [`LinkPage`].
#[derive(Template, WebTemplate)]
#[template(path = "join.html")]
struct JoinView {
    layout: Layout,
    page: LinkPage,
    org_name: String,
    creator_name: String,
    role: Role,
    expires: TimeView,
    /// The page's own path: "Log out" comes back to it, and a join link's forms post to it.
    base_path: String,
    /// Where the signed-in one-click "Join" posts.
    accept_action: String,
    /// Where "Email me a link to join" posts.
    register_action: String,
    /// Where "Log in & join" posts on `/join/{token}`.
    login_action: String,
    signed_in_email: String,
    dashboard_path: String,
    /// The address: as typed into "Email me a link" (kept on errors), or proved by a join
    /// link.
    email: String,
    email_error: Option<String>,
    /// "Create account & join": kept input and errors.
    name: String,
    name_error: Option<String>,
    password_error: Option<String>,
    /// "Log in & join": kept input and error.
    login_email: String,
    login_error: Option<String>,
    /// At the seat cap: "{organization} has no free seats: ask its admins", and the page
    /// shows nothing more about the organization.
    no_seats: Option<String>,
    /// A "request access" link ("Admins approve who joins"): following it asks to join.
    approval: bool,
    /// Where "Request to join" posts.
    request_action: String,
    /// When the signed-in visitor sent their open request, if they have one.
    requested: Option<TimeView>,
    /// "Request to join": the note typed (kept on errors) and its error.
    note: String,
    note_error: Option<String>,
}

/// "Check your email", after "Email me a link to join".
#[derive(Template, WebTemplate)]
#[template(path = "join_sent.html")]
struct SentView {
    layout: Layout,
    org_name: String,
    email: String,
    /// The invite link's page ("try again").
    link_path: String,
    /// The per-address limit.
    max_per_hour: i64,
}

/// What a refused form keeps of its input (never a password).
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// "Email me a link": the address typed.
    email: String,
    /// "Log in & join": the address typed.
    login_email: String,
    /// "Create account & join": the name typed.
    name: String,
    /// "Request to join": the note typed.
    note: String,
}

impl Kept {
    /// The addresses typed into "Email me a link" and "Log in & join".
    fn typed(email: String, login_email: String) -> Self {
        Self {
            email,
            login_email,
            ..Self::default()
        }
    }

    /// The name typed into "Create account & join".
    pub(crate) fn name(name: String) -> Self {
        Self {
            name,
            ..Self::default()
        }
    }
}

/// One request to a link's page — `/join/{token}`, or `/signup/{token}` (`mailed`), which may
/// be a join link's — with its one hand-off to the service and the answers it renders.
pub(crate) struct JoinPages {
    visit: LinkVisit,
    mailed: bool,
}

impl std::ops::Deref for JoinPages {
    type Target = LinkVisit;

    fn deref(&self) -> &LinkVisit {
        &self.visit
    }
}

impl JoinPages {
    /// The pages of `visit`'s link: at `/signup/{token}` if `mailed`, else `/join/{token}`.
    pub(crate) fn new(visit: LinkVisit, mailed: bool) -> Self {
        Self { visit, mailed }
    }

    /// The page's own path.
    fn path(&self) -> String {
        if self.mailed {
            paths::signup_link(self.token.expose())
        } else {
            paths::join(self.token.expose())
        }
    }

    fn view(&self, screen: &JoinScreen, kept: Kept) -> Result<JoinView, AppError> {
        let org = &screen.link.organization;
        let token = self.token.expose();
        let base_path = self.path();
        Ok(JoinView {
            layout: self.layout(format!("Join {}", org.name))?,
            page: screen.page,
            org_name: org.name.clone(),
            creator_name: screen.link.creator_name.clone(),
            role: screen.link.link.role,
            expires: TimeView::new(screen.link.link.facts.expires_at, self.state.clock.now()),
            accept_action: if self.mailed {
                base_path.clone()
            } else {
                paths::join_accept(token)
            },
            base_path,
            register_action: paths::join_register(token),
            login_action: paths::join_login(token),
            signed_in_email: self.signed_in_email(),
            dashboard_path: paths::dashboard(org.id),
            email: screen
                .address
                .as_ref()
                .map_or(kept.email, ToString::to_string),
            email_error: None,
            name: kept.name,
            name_error: None,
            password_error: None,
            login_email: kept.login_email,
            login_error: None,
            no_seats: None,
            approval: screen.link.link.approval_required,
            request_action: paths::join_request(token),
            requested: screen
                .requested
                .map(|at| TimeView::new(at, self.state.clock.now())),
            note: kept.note,
            note_error: None,
        })
    }

    /// The page of `screen` as opened: 410 when the link cannot be used, else 200.
    pub(crate) fn show(&self, screen: &JoinScreen) -> Result<HttpResponse, AppError> {
        let status = match screen.page {
            LinkPage::Unusable { .. } => Rejection::LinkUnusable.status(),
            _ => StatusCode::OK,
        };
        respond(&self.view(screen, Kept::default())?, status)
    }

    /// The page a refused form shows again, with why beside its field and `kept` input, at
    /// the refusal's status; an unknown link is a 404.
    pub(crate) fn refused(
        &self,
        e: ServiceError<JoinRefusal>,
        kept: Kept,
    ) -> Result<HttpResponse, AppError> {
        let (refusal, status) = shown(e)?;
        let JoinRefusal::Refused { screen, problem } = refusal else {
            return Err(AppError::NotFound);
        };
        let mut view = self.view(&screen, kept)?;
        match &problem {
            JoinProblem::InvalidEmail(_) => view.email_error = Some(problem.to_string()),
            // The log-in page's words: an unknown email and a wrong password read alike.
            JoinProblem::WrongPassword | JoinProblem::EmailTaken => {
                view.login_error = Some(problem.to_string());
            }
            JoinProblem::InvalidAccount { name, password } => {
                view.name_error.clone_from(name);
                view.password_error.clone_from(password);
            }
            JoinProblem::NoFreeSeats(_) | JoinProblem::OutsideVerifiedDomains(_) => {
                view.no_seats = Some(problem.to_string());
            }
            JoinProblem::InvalidNote(_) => view.note_error = Some(problem.to_string()),
            JoinProblem::Unusable | JoinProblem::WrongAccount | JoinProblem::AlreadyMember => {}
        }
        respond(&view, status)
    }

    /// After a "Join": signed in with a new session key (they proved the account), on the
    /// organization's dashboard with what happened; or back to the link's page.
    pub(crate) fn outcome(&self, outcome: JoinOutcome) -> Result<HttpResponse, AppError> {
        let member = match outcome {
            JoinOutcome::SeePage => return Ok(see_other(&self.path())),
            JoinOutcome::Requested(r) => {
                let name = &r.organization.name;
                if r.new {
                    let text = format!(
                        "Your request to join {name} was sent. Its admins will answer by email."
                    );
                    flash::success(&self.session, text);
                } else {
                    let text = format!(
                        "You have already asked to join {name}; its admins will answer by email."
                    );
                    flash::info(&self.session, text);
                }
                // A new account proved its address, and an account holder their password.
                if self.visitor.user.as_ref().is_none_or(|u| u.id != r.user.id) {
                    self.session.sign_in(r.user.id)?;
                }
                return Ok(see_other(&paths::home()));
            }
            JoinOutcome::Joined(m) => {
                let text = format!("You joined {} as {}", m.organization.name, m.role.label());
                flash::success(&self.session, text);
                m
            }
            JoinOutcome::AlreadyMember(m) => {
                let text = format!(
                    "You are already a member of {} as {}; the invite link was not used.",
                    m.organization.name,
                    m.role.label()
                );
                flash::info(&self.session, text);
                m
            }
        };
        self.session.sign_in(member.user.id)?;
        Ok(see_other(&paths::dashboard(member.organization.id)))
    }

    /// What a "Join" came to: [`JoinPages::outcome`] or [`JoinPages::refused`].
    pub(crate) fn answer(
        &self,
        result: Result<JoinOutcome, ServiceError<JoinRefusal>>,
        kept: Kept,
    ) -> Result<HttpResponse, AppError> {
        match result {
            Ok(outcome) => self.outcome(outcome),
            Err(e) => self.refused(e, kept),
        }
    }

    /// "Check your email" for `email`.
    fn sent(&self, screen: &JoinScreen, email: &EmailAddress) -> Result<HttpResponse, AppError> {
        let page = SentView {
            layout: self.layout("Check your email")?,
            org_name: screen.link.organization.name.clone(),
            email: email.to_string(),
            link_path: self.path(),
            max_per_hour: MAX_EMAILS_PER_WINDOW,
        };
        respond(&page, StatusCode::OK)
    }
}

/// GET /join/{token} — signed out: "Email me a link" (to join as a new person, or as an
/// account holder once the address is proved) or log in, to join; signed in: "Join
/// {organization} as {role}"; already a member: says so (the link stays unused); expired,
/// used or revoked: a page asking for a new link (410); unknown token: 404. Reads only.
pub async fn show(visit: LinkVisit) -> Result<HttpResponse, AppError> {
    let pages = JoinPages::new(visit, false);
    match pages.call(service::open).await {
        Ok(screen) => pages.show(&screen),
        Err(e) => pages.refused(e, Kept::default()),
    }
}

/// POST /join/{token}/register — "Email me a link": mails the address a link that proves it
/// (DESIGN.md, Security rules: every way in proves the person's email before an account is
/// bound to it) and answers "Check your email" — the same page and status whether or not the
/// address has an account, or has had its hourly emails. Nothing else is created, and the
/// invite link is not used. An unusable link says so (410); a malformed address re-shows the
/// form (422); someone signed in goes back to the link's page.
pub async fn request_link(
    visit: LinkVisit,
    CsrfForm(form): CsrfForm<LinkInput>,
) -> Result<HttpResponse, AppError> {
    let pages = JoinPages::new(visit, false);
    let email = form.email.clone();
    let asked = pages
        .call(move |svc, v, t, now| service::ask_for_link(svc, v, t, &email, now))
        .await;
    match asked {
        Ok(Asked::Sent { screen, email }) => pages.sent(&screen, &email),
        Ok(Asked::SignedIn) => Ok(see_other(&pages.path())),
        Err(e) => {
            let email = form.email.chars().take(254).collect();
            pages.refused(e, Kept::typed(email, String::new()))
        }
    }
}

/// POST /join/{token}/login — someone with an account logs in (same answer and timing for an
/// unknown email and a wrong password, as `/login`: 401) and joins. A member already is
/// signed in and told so; the link stays unused.
pub async fn log_in_and_join(
    visit: LinkVisit,
    CsrfForm(form): CsrfForm<LinkInput>,
) -> Result<HttpResponse, AppError> {
    let pages = JoinPages::new(visit, false);
    let login_email = form.email.chars().take(254).collect();
    let cmd = LogIn {
        email: form.email,
        password: form.password,
    };
    let joined = pages
        .call(move |svc, v, t, now| service::log_in_and_join(svc, v, t, &cmd, now))
        .await;
    pages.answer(joined, Kept::typed(String::new(), login_email))
}

/// POST /join/{token}/request — on a "request access" link, the signed-in person asks to join
/// with an optional note; back to `/` with what happened (a second request while one is open
/// sends nothing new). A note too long re-shows the page (422); someone signed out, or a link
/// that does not ask for approval, goes back to the link's page.
pub async fn request(
    visit: LinkVisit,
    CsrfForm(form): CsrfForm<NoteSubmission>,
) -> Result<HttpResponse, AppError> {
    let pages = JoinPages::new(visit, false);
    let kept = Kept {
        note: form.note.chars().take(2_000).collect(),
        ..Kept::default()
    };
    let note = form.note;
    let requested = pages
        .call(move |svc, v, t, now| service::request(svc, v, t, &note, now))
        .await;
    pages.answer(requested, kept)
}

/// POST /join/{token}/accept — the signed-in person joins with one click (someone signed out
/// goes back to the link's page).
pub async fn accept(
    visit: LinkVisit,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let pages = JoinPages::new(visit, false);
    let joined = pages.call(service::accept).await;
    pages.answer(joined, Kept::default())
}
