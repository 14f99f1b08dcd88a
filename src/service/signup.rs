//! Self-serve sign-up (DESIGN.md, "Pages → Account"): `/signup` mails a link that proves the
//! address, and following it (`/signup/{token}`) creates the account and its Trial
//! organization — so nobody can squat an address that will later be invited.
//!
//! The request answers the same whatever the address — new, registered, or past its hourly
//! emails — so it never tells whether an account exists; only the email the address receives
//! differs (`mail_link`). The same kind of link, asked for on an invite link's page, carries
//! that invite link (a join link); its page and form are `invite_links::join`'s, and
//! [`open`] and [`complete`] hand it there.

use std::convert::Infallible;

use chrono::{DateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::invite_links::join::{self, JoinOutcome, JoinRefusal, JoinScreen};
use super::{Actor, ServiceError, Services, Visitor, refuse};
use crate::db::audit::{self, RequestMeta};
use crate::db::outbox::EmailKind;
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invite_link::InviteLink;
use crate::domain::link::{LinkKind, LinkPage, LinkUnusable, Visit, page};
use crate::domain::password::Password;
use crate::domain::signup::{
    SignupEmail, SignupLinkFacts, SignupRequest, plan_join_email, plan_signup_email,
};
use crate::domain::text::{OrganizationName, PersonName};
use crate::domain::token::LinkToken;
use crate::domain::{EmailAddress, Organization, Plan, Role, User};

/// A sign-up link's page: the address it proved, and which page.
#[derive(Debug, Clone)]
pub struct SignupScreen {
    /// The address.
    pub email: EmailAddress,
    /// [`LinkPage::NewAccount`] (the form), [`LinkPage::AccountExists`] or
    /// [`LinkPage::Unusable`].
    pub page: LinkPage,
}

/// The page at `/signup/{token}`: a sign-up link's, or a join link's.
#[derive(Debug, Clone)]
pub enum LinkScreen {
    /// A sign-up link.
    SignUp(SignupScreen),
    /// A join link (a sign-up link that carries an invite link).
    Join(JoinScreen),
}

/// Why the sign-up form was refused; the page is shown again with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignupProblem {
    /// The link is expired or used (also by a request that won a race).
    #[error("This sign-up link can no longer be used")]
    Unusable,
    /// An account has the address by now.
    #[error("An account with this email already exists")]
    AccountExists,
    /// The name, password or company name is not acceptable.
    #[error("The name, password or company name is not acceptable")]
    Invalid {
        /// Beside Name.
        name: Option<String>,
        /// Beside Password.
        password: Option<String>,
        /// Beside Company name.
        organization: Option<String>,
    },
}

/// Why following a link at `/signup/{token}` was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SignupRefusal {
    /// No such link.
    #[error("No such link")]
    NotFound,
    /// A sign-up link's form was refused: the page to show again, and why.
    #[error("{problem}")]
    SignUp {
        /// The page.
        screen: SignupScreen,
        /// Why.
        problem: SignupProblem,
    },
    /// A join link's form was refused.
    #[error(transparent)]
    Join(JoinRefusal),
}

type Result<T> = std::result::Result<T, ServiceError<SignupRefusal>>;

/// The form of a link's page as typed: a sign-up link asks for all three, a join link for a
/// name and password (a new person) or a password (an account holder).
#[derive(Debug, Clone, Default)]
pub struct LinkForm {
    /// The name.
    pub name: String,
    /// The new password, or the account's.
    pub password: String,
    /// The new organization's name (sign-up only).
    pub organization: String,
}

/// What following a link at `/signup/{token}` created.
#[derive(Debug, Clone)]
pub enum Completed {
    /// A new account, Owner of its new Trial organization.
    SignedUp {
        /// The account (sign it in).
        user: User,
        /// Its organization.
        organization: Organization,
    },
    /// What joining through the join link's invite link came to.
    Joined(JoinOutcome),
}

/// The sign-up form for `email` at `now`: mails a sign-up link (no account has the address), a
/// "you already have an account" email (one has), or nothing (the address had its hourly
/// emails). The answer is the same in every case: nothing is returned that could tell them
/// apart, and whoever asks makes no difference.
///
/// # Errors
/// Only the machinery's.
pub fn request_link(
    svc: &Services,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> std::result::Result<(), ServiceError<Infallible>> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| mail_link(svc, c, email, None, now))?;
    svc.email_queued();
    Ok(())
}

/// The page of the link `token` for `visitor` at `now`: a sign-up link's form (or why it
/// cannot be used, or that the address has an account by now), or a join link's page.
/// Reads only.
///
/// # Errors
/// [`SignupRefusal::NotFound`] for an unknown token (or a join link whose invite link is
/// gone).
pub fn open(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    now: DateTime<Utc>,
) -> Result<LinkScreen> {
    let mut conn = svc.conn()?;
    let request = find(&mut conn, token)?;
    match request.invite_link_id {
        Some(link) => join::mailed_screen(&mut conn, &request, link, visitor.user.as_ref(), now)
            .map(LinkScreen::Join)
            .map_err(|e| e.map_refusal(SignupRefusal::Join)),
        None => Ok(LinkScreen::SignUp(signup_screen(&mut conn, &request, now)?)),
    }
}

/// The form of the link `token`, posted by `visitor` at `now`. A sign-up link creates the
/// account and its Trial organization, the person as Owner, in one transaction that uses the
/// link up with a conditional update (of two racing submissions exactly one wins). An
/// unusable link, an address with an account and invalid input are refused before the
/// password is hashed, and no connection is held while it is. A join link is completed by
/// `invite_links::join`.
///
/// # Errors
/// [`SignupRefusal`] (nothing written): an unknown token, an unusable link, an address with
/// an account, invalid input; or a join link's refusal.
pub fn complete(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    form: &LinkForm,
    now: DateTime<Utc>,
) -> Result<Completed> {
    let (request, screen) = {
        let mut conn = svc.conn()?;
        let mut request = find(&mut conn, token)?;
        let screen = match request.invite_link_id {
            None => {
                let mut screen = signup_screen(&mut conn, &request, now)?;
                if screen.page == LinkPage::AccountExists {
                    // The account may be this link's own use by another request, committed
                    // between reading the link and reading the address: read the link again,
                    // after the account, so that a used link is answered as used (410), as
                    // the write transaction would answer it.
                    request = find(&mut conn, token)?;
                    screen = signup_screen(&mut conn, &request, now)?;
                }
                screen
            }
            Some(link) => {
                drop(conn);
                return join::complete_mailed(svc, visitor, request, link, form, now)
                    .map(Completed::Joined)
                    .map_err(|e| e.map_refusal(SignupRefusal::Join));
            }
        };
        (request, screen)
    };
    let refused = |screen, problem| refuse(SignupRefusal::SignUp { screen, problem });
    match screen.page {
        LinkPage::Unusable { .. } => return refused(screen, SignupProblem::Unusable),
        LinkPage::AccountExists => return refused(screen, SignupProblem::AccountExists),
        _ => {}
    }
    let (name, password, organization) = match (
        PersonName::parse(&form.name),
        Password::new_account(&form.password),
        OrganizationName::parse(&form.organization),
    ) {
        (Ok(n), Ok(p), Ok(o)) => (n, p, o),
        (name, password, organization) => {
            let problem = SignupProblem::Invalid {
                name: name.err().map(|e| format!("Name: {e}.")),
                password: password.err().map(|e| format!("Password: {e}.")),
                organization: organization.err().map(|e| format!("Company name: {e}.")),
            };
            return refused(screen, problem);
        }
    };
    let account = NewAccount {
        name,
        organization,
        password_hash: super::accounts::hash(svc, &password)?,
    };
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        sign_up(c, &visitor.origin, &request, &account, now)
    })
    .map_err(|e| {
        e.map_refusal(|page| {
            let problem = match page {
                LinkPage::AccountExists => SignupProblem::AccountExists,
                _ => SignupProblem::Unusable,
            };
            let screen = SignupScreen {
                email: request.email.clone(),
                page,
            };
            SignupRefusal::SignUp { screen, problem }
        })
    })
}

/// What the sign-up form asked for, checked, with the password hashed.
struct NewAccount {
    name: PersonName,
    organization: OrganizationName,
    password_hash: String,
}

/// The transaction of a sign-up; a refusal is the page to show instead (rolled back).
fn sign_up(
    c: &mut Conn,
    origin: &RequestMeta,
    request: &SignupRequest,
    account: &NewAccount,
    now: DateTime<Utc>,
) -> std::result::Result<Completed, ServiceError<LinkPage>> {
    use_request(c, request, now).map_err(|e| {
        e.map_refusal(|why| LinkPage::Unusable {
            kind: LinkKind::SignupLink,
            why,
        })
    })?;
    let user = create_account(
        c,
        &request.email,
        &account.name,
        &account.password_hash,
        now,
    )
    .map_err(|e| e.map_refusal(|AccountExists| LinkPage::AccountExists))?;
    let organization = db::organizations::insert(c, &account.organization, Plan::Trial, now)?;
    let org = Some(organization.id);
    db::organizations::add_member(c, organization.id, user.id, Role::Owner, None, None, now)?;
    let ctx = Actor::new(user.clone(), origin.clone()).audit(false);
    let (action, target) = (AuditAction::OrganizationCreated, Some(&*organization.name));
    let details = Some("Self-serve sign-up, Trial plan");
    audit::record(c, &ctx, org, action, target, details, now)?;
    let (action, target) = (AuditAction::MemberJoined, Some(&*ctx.actor.label));
    let details = Some("Owner, by creating the organization");
    audit::record(c, &ctx, org, action, target, details, now)?;
    Ok(Completed::SignedUp { user, organization })
}

fn find(c: &mut Conn, token: &LinkToken) -> Result<SignupRequest> {
    db::signups::find_by_token(c, token)?.map_or_else(|| refuse(SignupRefusal::NotFound), Ok)
}

/// The page of sign-up link `request` at `now` (whoever visits: it creates an account for its
/// address, and only while no account has it).
fn signup_screen(
    c: &mut Conn,
    request: &SignupRequest,
    now: DateTime<Utc>,
) -> std::result::Result<SignupScreen, DbError> {
    let usable = request.facts.check_usable(now);
    let visit = Visit {
        signed_in: None,
        address_has_account: db::users::email_exists(c, &request.email)?,
    };
    let usable = usable.map_err(|why| (LinkKind::SignupLink, why));
    Ok(SignupScreen {
        email: request.email.clone(),
        page: page(LinkKind::SignupLink, usable, Some(&request.email), visit),
    })
}

/// Queues, in `c`'s transaction, what a request for a link to `email` at `now` sends: a
/// sign-up link, or — `joining` an invite link — a join link expiring with it at the latest;
/// on sign-up a registered address gets "you already have an account" instead (a join link's
/// page tells account holders apart once the address is proved, so joining never looks).
/// Past [`MAX_EMAILS_PER_WINDOW`](crate::domain::signup::MAX_EMAILS_PER_WINDOW) emails of
/// either kind in the hour, nothing is sent; requests for one address are serialized, so two
/// at once cannot both pass the limit. Returns what was decided (the page must not depend on
/// it).
///
/// # Errors
/// [`ServiceError::Storage`] on a failed query.
pub(crate) fn mail_link<R>(
    svc: &Services,
    c: &mut Conn,
    email: &EmailAddress,
    joining: Option<&InviteLink>,
    now: DateTime<Utc>,
) -> std::result::Result<SignupEmail, ServiceError<R>> {
    db::signups::lock_address(c, email)?;
    let sent = db::signups::emails_in_window(c, email, now)?;
    let decision = match joining {
        None => plan_signup_email(db::users::email_exists(c, email)?, sent),
        Some(_) => plan_join_email(sent),
    };
    match decision {
        SignupEmail::Link => {
            let facts = SignupLinkFacts::new_at(now);
            let facts = joining.map_or(facts, |l| facts.expiring_by(l.facts.expires_at));
            let key = &svc.settings.token_key;
            db::signups::insert(c, email, joining.map(|l| l.id), facts, key, now)?;
        }
        SignupEmail::AlreadyRegistered => {
            db::outbox::enqueue(c, EmailKind::SignupExisting, None, email, "{}", now)?;
        }
        SignupEmail::Throttled => {}
    }
    Ok(decision)
}

/// Uses up `request` at `now` (one conditional update), in the transaction that creates what
/// it was for, so a refusal later in it rolls the use back.
///
/// # Errors
/// [`LinkUnusable`] when it is used (by a request that won a race, say) or expired.
pub(crate) fn use_request(
    c: &mut Conn,
    request: &SignupRequest,
    now: DateTime<Utc>,
) -> std::result::Result<(), ServiceError<LinkUnusable>> {
    if db::signups::mark_used(c, request.id, now)? {
        return Ok(());
    }
    // Report what the winner (or the clock) left.
    let why = db::signups::find(c, &request.id.to_string())?
        .and_then(|r| r.facts.check_usable(now).err())
        .unwrap_or(LinkUnusable::Used);
    refuse(why)
}

/// An account has the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AccountExists;

/// Creates the account of `email` (which a followed link proved) with `name` and
/// `password_hash`, in `c`'s transaction.
///
/// # Errors
/// [`AccountExists`] when an account has the address, also one made a moment ago by another
/// request (PostgreSQL reports it as a unique violation; SQLite serializes writers, so the
/// check sees it).
pub(crate) fn create_account(
    c: &mut Conn,
    email: &EmailAddress,
    name: &PersonName,
    password_hash: &str,
    now: DateTime<Utc>,
) -> std::result::Result<User, ServiceError<AccountExists>> {
    if db::users::email_exists(c, email)? {
        return refuse(AccountExists);
    }
    let id = match db::users::insert(c, email, name, password_hash, false, now) {
        Err(DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
            return refuse(AccountExists);
        }
        inserted => inserted?,
    };
    Ok(db::users::find(c, id)?.ok_or_else(|| DbError::Corrupt("new user vanished".into()))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::invite_link::LinkExpiry;
    use crate::domain::signup::MAX_EMAILS_PER_WINDOW;
    use crate::service::invite_links::join::tests::emails_to;
    use crate::service::invite_links::{self, CreateLink};
    use crate::service::testing::{Fixture, visitor};

    fn form(password: &str) -> LinkForm {
        LinkForm {
            name: "Sara Signup".into(),
            password: password.into(),
            organization: "Sara Studio".into(),
        }
    }

    fn refused<T: std::fmt::Debug>(r: Result<T>) -> (LinkPage, SignupProblem) {
        match r {
            Err(ServiceError::Refused(SignupRefusal::SignUp { screen, problem })) => {
                (screen.page, problem)
            }
            other => panic!("expected a refused form, got {other:?}"),
        }
    }

    /// How many accounts and organizations exist.
    fn counts(f: &Fixture) -> (i64, i64) {
        use crate::db::schema::{organizations, users};
        use diesel::prelude::*;
        f.with(|c| {
            let users = users::table.count().get_result(c)?;
            Ok((users, organizations::table.count().get_result(c)?))
        })
    }

    fn ask(f: &Fixture, email: &str) {
        let email = EmailAddress::parse(email).unwrap();
        request_link(&f.svc, &email, f.now).unwrap();
    }

    #[test]
    fn the_answer_is_the_same_for_registered_and_unregistered_addresses() {
        let f = Fixture::new();
        f.user("known@example.com", "Known", false);
        // Nothing comes back that could tell the two apart: only the emails differ.
        ask(&f, "fresh@example.com");
        ask(&f, "known@example.com");
        assert_eq!(emails_to(&f, "fresh@example.com"), ["signup"]);
        assert_eq!(emails_to(&f, "known@example.com"), ["signup_existing"]);
    }

    #[test]
    fn an_address_gets_three_emails_an_hour() {
        let mut f = Fixture::new();
        for _ in 0..=MAX_EMAILS_PER_WINDOW {
            ask(&f, "busy@example.com");
        }
        assert_eq!(emails_to(&f, "busy@example.com").len(), 3);
        // Join links count against the same budget…
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let cmd = CreateLink {
            role: Role::Viewer,
            expiry: LinkExpiry::OneDay,
            approval_required: false,
        };
        let token = invite_links::create(&f.svc, &owner, org, cmd, f.now)
            .unwrap()
            .token;
        join::ask_for_link(&f.svc, &visitor(None), &token, "busy@example.com", f.now).unwrap();
        assert_eq!(emails_to(&f, "busy@example.com").len(), 3);
        // …and the window rolls.
        f.now += chrono::Duration::hours(1);
        ask(&f, "busy@example.com");
        assert_eq!(emails_to(&f, "busy@example.com").len(), 4);
    }

    #[test]
    fn sign_up_creates_exactly_one_account_and_one_trial_organization() {
        let f = Fixture::new();
        ask(&f, "sara@example.com");
        let token = f.mailed_link("sara@example.com");
        let screen = open(&f.svc, &visitor(None), &token, f.now).unwrap();
        assert!(matches!(
            screen,
            LinkScreen::SignUp(SignupScreen {
                page: LinkPage::NewAccount,
                ..
            })
        ));
        let before = counts(&f);
        let done = complete(
            &f.svc,
            &visitor(None),
            &token,
            &form("sara-password-1"),
            f.now,
        );
        let Ok(Completed::SignedUp { user, organization }) = done else {
            panic!("expected a sign-up: {done:?}");
        };
        assert_eq!(organization.plan, Plan::Trial);
        assert_eq!(&*organization.name, "Sara Studio");
        assert_eq!(counts(&f), (before.0 + 1, before.1 + 1));
        let role = f.with(|c| db::organizations::membership(c, organization.id, user.id));
        assert_eq!(role.map(|m| m.role), Some(Role::Owner));
        assert_eq!(
            f.audit_actions(organization.id),
            ["organization.created", "member.joined"]
        );
        // A second submission (a race, shown serially) creates nothing more.
        let again = complete(
            &f.svc,
            &visitor(None),
            &token,
            &form("sara-password-1"),
            f.now,
        );
        assert_eq!(
            refused(again),
            (
                LinkPage::Unusable {
                    kind: LinkKind::SignupLink,
                    why: LinkUnusable::Used
                },
                SignupProblem::Unusable
            )
        );
        assert_eq!(counts(&f), (before.0 + 1, before.1 + 1));
    }

    #[test]
    fn bad_input_and_an_address_registered_meanwhile_create_nothing() {
        let f = Fixture::new();
        ask(&f, "late@example.com");
        let token = f.mailed_link("late@example.com");
        let before = counts(&f);
        let (page, problem) = refused(complete(
            &f.svc,
            &visitor(None),
            &token,
            &form("short"),
            f.now,
        ));
        assert_eq!(page, LinkPage::NewAccount);
        assert!(matches!(
            problem,
            SignupProblem::Invalid {
                name: None,
                password: Some(_),
                organization: None
            }
        ));
        f.user("late@example.com", "Late", false);
        let (page, problem) = refused(complete(
            &f.svc,
            &visitor(None),
            &token,
            &form("long enough password"),
            f.now,
        ));
        assert_eq!(
            (page, problem),
            (LinkPage::AccountExists, SignupProblem::AccountExists)
        );
        assert_eq!(
            counts(&f),
            (before.0 + 1, before.1),
            "only the seeded account"
        );
        // Neither refusal used the link.
        let unused = f.with(|c| db::signups::find_by_token(c, &token)).unwrap();
        assert_eq!(unused.facts.used_at, None);
    }
}
