//! Following an invite link and using it (DESIGN.md, "Invite link"): `/join/{token}`, "Email
//! me a link to join", "Log in & join", one-click "Join", and the page of the link mailed
//! from there (a join link, at `/signup/{token}`: `service::signup` finds it and hands it
//! here).
//!
//! A link is bound to no email, so a signed-out person proves theirs before any account is
//! bound to it (DESIGN.md, Security rules: "Every way into an organization … proves the
//! person's email"): "Email me a link" mails a join link, with the same answer for every
//! address, and the join link's page creates the account or takes the account holder's
//! password. Someone with an account can also log in and join on the link's page (the
//! password proves the account), or join with one click when signed in.
//!
//! Which page a visitor sees is the link core's decision (`domain::link::page`); opening a
//! link changes nothing. Using one is `super::using`'s one transaction.

use chrono::{DateTime, Utc};

use super::using::{Joiner, join};
use crate::db::{self, Conn, DbError};
use crate::domain::invite_link::InviteLinkDetails;
use crate::domain::link::{LinkKind, LinkPage, LinkUnusable, Visit, page};
use crate::domain::password::Password;
use crate::domain::signup::SignupRequest;
use crate::domain::text::{JoinRequestNote, PersonName};
use crate::domain::token::LinkToken;
use crate::domain::{EmailAddress, InviteLinkId, Organization, OrganizationId, Role, User};
use crate::service::accounts;
use crate::service::signup::{self, LinkForm};
use crate::service::{ServiceError, Services, Visitor, refuse};

/// A page about an invite link: the link, and which page it shows.
#[derive(Debug, Clone)]
pub struct JoinScreen {
    /// The link, its organization and its creator's name.
    pub link: InviteLinkDetails,
    /// Which page.
    pub page: LinkPage,
    /// The address a join link proved (`None` at `/join/{token}`, which names none).
    pub address: Option<EmailAddress>,
    /// On a "request access" link, when the signed-in visitor sent their open request to
    /// join, if they have one (issue 14 §3).
    pub requested: Option<DateTime<Utc>>,
}

/// Why a form on a link's page was refused; the page is shown again with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinProblem {
    /// The link can no longer be used (the page says why).
    #[error("This link can no longer be used")]
    Unusable,
    /// Signed in as another account than the one the join link was sent to.
    #[error("This link is for another account")]
    WrongAccount,
    /// A member already; nothing was used.
    #[error("You are already a member of this organization")]
    AlreadyMember,
    /// "Email me a link": not an email address.
    #[error("Email: {0}.")]
    InvalidEmail(String),
    /// The email and password match no account (or the account is locked): said alike, in
    /// the log-in page's words.
    #[error("That email and password do not match an account.")]
    WrongPassword,
    /// "Create account & join": the name or the password is not acceptable.
    #[error("The name or the password is not acceptable")]
    InvalidAccount {
        /// Beside the Name field.
        name: Option<String>,
        /// Beside the Password field.
        password: Option<String>,
    },
    /// An account was made with the address meanwhile: its password joins.
    #[error("An account with this email already exists. Log in to join.")]
    EmailTaken,
    /// The organization (named) has no free seat: the joiner learns nothing more about it
    /// (DESIGN.md, "Access, integration": Seats).
    #[error("{}", crate::domain::seats::no_free_seats_for_joiner(.0))]
    NoFreeSeats(String),
    /// The organization (named) admits only addresses at its verified domains, and the
    /// joiner's is elsewhere (DESIGN.md, "Verified domains").
    #[error(
        "{0} accepts only addresses at its verified domains through this link. Ask its admins for an invitation."
    )]
    OutsideVerifiedDomains(String),
    /// "Request to join": the note is not acceptable (beside the Note field).
    #[error("Note: {0}.")]
    InvalidNote(String),
}

/// Why following or using an invite link was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JoinRefusal {
    /// No such link (also a join link whose invite link is gone).
    #[error("No such link")]
    NotFound,
    /// Refused: the page to show again, and why.
    #[error("{problem}")]
    Refused {
        /// The page.
        screen: Box<JoinScreen>,
        /// Why.
        problem: JoinProblem,
    },
}

impl JoinRefusal {
    /// The refusal that shows `screen` again, saying `problem`.
    pub(super) fn on(screen: JoinScreen, problem: JoinProblem) -> Self {
        JoinRefusal::Refused {
            screen: Box::new(screen),
            problem,
        }
    }
}

type Result<T> = std::result::Result<T, ServiceError<JoinRefusal>>;

/// Someone who joined, or proved who they are and is a member already.
#[derive(Debug, Clone)]
pub struct Member {
    /// Their account (sign them in: they proved it).
    pub user: User,
    /// Their role there now.
    pub role: Role,
    /// The organization.
    pub organization: Organization,
}

/// What a "Join" came to.
#[derive(Debug, Clone)]
pub enum JoinOutcome {
    /// They joined with the link's role; the link is used.
    Joined(Member),
    /// They proved their account but are a member already and keep their role; the link is
    /// not used.
    AlreadyMember(Member),
    /// On a "request access" link: the account asked to join (or had asked already).
    Requested(Requested),
    /// Nothing to do from here: the link's page shows what fits the visitor.
    SeePage,
}

/// A join request sent (or found open) through a "request access" link.
#[derive(Debug, Clone)]
pub struct Requested {
    /// The requester's account (sign them in: they proved it).
    pub user: User,
    /// The organization asked.
    pub organization: Organization,
    /// When the request was sent.
    pub sent_at: DateTime<Utc>,
    /// Whether it was sent now (else it was open already, and nothing new was sent).
    pub new: bool,
}

/// What "Email me a link to join" came to.
#[derive(Debug, Clone)]
pub enum Asked {
    /// Answered "Check your email" — whether or not the address has an account, and whether
    /// or not its hourly emails were spent (DESIGN.md, Security rules).
    Sent {
        /// The link's page.
        screen: Box<JoinScreen>,
        /// The address, normalized.
        email: EmailAddress,
    },
    /// Someone is signed in: the link's page shows what fits them.
    SignedIn,
}

/// "Log in & join" as typed.
#[derive(Debug, Clone)]
pub struct LogIn {
    /// The email typed.
    pub email: String,
    /// The password typed.
    pub password: String,
}

/// The page of the link `token` for `visitor` at `now` (DESIGN.md: signed out, "Email me a
/// link" or log in; signed in, "Join"; a member, said so; unusable, why). Reads only.
///
/// # Errors
/// [`JoinRefusal::NotFound`] for an unknown token.
pub fn open(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    now: DateTime<Utc>,
) -> Result<JoinScreen> {
    db::snapshot(&mut *svc.conn()?, |conn| {
        join_screen(conn, token, visitor.user.as_ref(), now)
    })
}

/// "Email me a link to join" on the link `token`: mails `email` a join link that proves it,
/// within the per-address limit (`service::signup`), expiring with the invite link at the
/// latest. Nothing else is created and the invite link is not used. The answer is the same
/// whatever the address.
///
/// # Errors
/// [`JoinRefusal`]: an unknown token, an unusable link, or not an email address (nothing
/// written).
pub fn ask_for_link(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Asked> {
    let mut conn = svc.conn()?;
    let screen = join_screen(&mut conn, token, None, now)?;
    if visitor.user.is_some() {
        return Ok(Asked::SignedIn);
    }
    if matches!(screen.page, LinkPage::Unusable { .. }) {
        return refuse(JoinRefusal::on(screen, JoinProblem::Unusable));
    }
    let email = match EmailAddress::parse(email) {
        Ok(email) => email,
        Err(e) => {
            return refuse(JoinRefusal::on(
                screen,
                JoinProblem::InvalidEmail(e.to_string()),
            ));
        }
    };
    let joining = &screen.link.link;
    // A link mailed to an address the organization would refuse could only lead to a refusal.
    if crate::service::domains::policy(&mut conn, joining.organization_id)?
        .check(&email)
        .is_err()
    {
        let organization = screen.link.organization.name.clone();
        let problem = JoinProblem::OutsideVerifiedDomains(organization);
        return refuse(JoinRefusal::on(screen, problem));
    }
    db::write_transaction(&mut conn, |c| {
        signup::mail_link(svc, c, &email, Some(joining), now)
    })?;
    svc.email_queued();
    Ok(Asked::Sent {
        screen: Box::new(screen),
        email,
    })
}

/// "Log in & join" on the link `token`: the password proves the account, which joins. A
/// member already is told so (and signed in); the link stays unused. The link's own state is
/// checked before the password is.
///
/// # Errors
/// [`JoinRefusal`]: an unknown token, an unusable link (also when used meanwhile or its
/// creator lapsed), or a wrong password.
pub fn log_in_and_join(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    cmd: &LogIn,
    now: DateTime<Utc>,
) -> Result<JoinOutcome> {
    // The connection goes back to the pool before the slow verification.
    let link = find(&mut *svc.conn()?, token)?;
    if let Err(why) = link.link.facts.check_usable(now) {
        return refuse(unusable(link, None, LinkKind::InviteLink, why));
    }
    let Some(user) = accounts::authenticate(svc, &cmd.email, Password::attempt(&cmd.password))?
    else {
        let screen = JoinScreen {
            link,
            page: LinkPage::AskEmail,
            address: None,
            requested: None,
        };
        return refuse(JoinRefusal::on(screen, JoinProblem::WrongPassword));
    };
    let joiner = Joiner::Existing(user);
    join(svc, &visitor.origin, link, None, joiner, None, now)
}

/// "Request to join" on the "request access" link `token`: the signed-in visitor asks to join,
/// with an optional `note` (at most 500 characters); the link stays usable. A member already
/// is told so; an open request is not sent twice. Someone signed out, or a link that does not
/// ask for approval, sees the link's page.
///
/// # Errors
/// [`JoinRefusal`]: an unknown token, an unusable link, an unacceptable note, or an address
/// outside the organization's verified domains.
pub fn request(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    note: &str,
    now: DateTime<Utc>,
) -> Result<JoinOutcome> {
    let mut conn = svc.conn()?;
    let screen = join_screen(&mut conn, token, visitor.user.as_ref(), now)?;
    drop(conn);
    let Some(user) = visitor.user.clone() else {
        return Ok(JoinOutcome::SeePage);
    };
    if !screen.link.link.approval_required {
        return Ok(JoinOutcome::SeePage);
    }
    let note = match JoinRequestNote::parse(note) {
        Ok(note) => note,
        Err(e) => {
            return refuse(JoinRefusal::on(
                screen,
                JoinProblem::InvalidNote(e.to_string()),
            ));
        }
    };
    let joiner = Joiner::Existing(user);
    join(
        svc,
        &visitor.origin,
        screen.link,
        None,
        joiner,
        note.as_ref(),
        now,
    )
}

/// "Join" on the link `token`: the signed-in visitor joins with one click. A member already
/// is told so; the link stays unused.
///
/// # Errors
/// [`JoinRefusal`]: an unknown token, or an unusable link.
pub fn accept(
    svc: &Services,
    visitor: &Visitor,
    token: &LinkToken,
    now: DateTime<Utc>,
) -> Result<JoinOutcome> {
    let link = find(&mut *svc.conn()?, token)?;
    let Some(user) = visitor.user.clone() else {
        return Ok(JoinOutcome::SeePage);
    };
    let joiner = Joiner::Existing(user);
    join(svc, &visitor.origin, link, None, joiner, None, now)
}

/// The page of a join link — `request`, which carries the invite link `link_id` — for `user`
/// at `now`: the invite link's state first (and its creator's standing), then the join
/// link's own, then who visits (only the account with the proved address may use it).
///
/// # Errors
/// [`JoinRefusal::NotFound`] when the invite link is gone.
pub(crate) fn mailed_screen(
    c: &mut Conn,
    request: &SignupRequest,
    link_id: InviteLinkId,
    user: Option<&User>,
    now: DateTime<Utc>,
) -> Result<JoinScreen> {
    let Some(link) = db::invite_links::find_details(c, link_id)? else {
        return refuse(JoinRefusal::NotFound);
    };
    let creator = db::invite_links::creator(c, &link.link)?;
    let usable = link
        .link
        .usable(creator, now)
        .map_err(|why| (LinkKind::InviteLink, why))
        .and_then(|()| {
            let mailed = request.facts.check_usable(now);
            mailed.map_err(|why| (LinkKind::JoinLink, why))
        });
    // Only the account with the proved address may use it: only its membership matters.
    let same_account = user.filter(|u| u.email == request.email);
    let role = role_in(c, link.link.organization_id, same_account)?;
    let visit = Visit {
        signed_in: user.map(|u| (&u.email, role)),
        address_has_account: db::users::email_exists(c, &request.email)?,
    };
    let page = page(LinkKind::JoinLink, usable, Some(&request.email), visit);
    let requested = open_request(c, &link, same_account, now)?;
    Ok(JoinScreen {
        link,
        page,
        address: Some(request.email.clone()),
        requested,
    })
}

/// The join link `request` (carrying the invite link `link_id`) as posted by `visitor` with
/// `form`: decides as its page does, before any password is touched (unusable, another
/// account, a member: refused); then the signed-in account joins, or the account holder's
/// password logs in and joins, or a new person's name and password create the account (the
/// join link used up with it) and join.
///
/// # Errors
/// [`JoinRefusal`] as the page decides, a wrong password, an unacceptable name or password,
/// or what using the link refuses.
pub(crate) fn complete_mailed(
    svc: &Services,
    visitor: &Visitor,
    request: SignupRequest,
    link_id: InviteLinkId,
    form: &LinkForm,
    now: DateTime<Utc>,
) -> Result<JoinOutcome> {
    let screen = mailed_screen(
        &mut *svc.conn()?,
        &request,
        link_id,
        visitor.user.as_ref(),
        now,
    )?;
    let joiner = match (screen.page, &visitor.user) {
        (LinkPage::Unusable { .. }, _) => Err(JoinProblem::Unusable),
        (LinkPage::WrongAccount, _) => Err(JoinProblem::WrongAccount),
        (LinkPage::AlreadyMember(_), _) => Err(JoinProblem::AlreadyMember),
        (LinkPage::Confirm, Some(user)) => Ok(Joiner::Existing(user.clone())),
        (LinkPage::LogIn, _) => accounts::authenticate(
            svc,
            request.email.as_str(),
            Password::attempt(&form.password),
        )?
        .map(Joiner::Existing)
        .ok_or(JoinProblem::WrongPassword),
        (LinkPage::NewAccount, _) => new_account(svc, request, form)?,
        _ => return Ok(JoinOutcome::SeePage),
    };
    match joiner {
        Ok(joiner) => join(
            svc,
            &visitor.origin,
            screen.link,
            screen.address,
            joiner,
            None,
            now,
        ),
        Err(problem) => refuse(JoinRefusal::on(screen, problem)),
    }
}

/// A new account's joiner from "Create account & join": checks the name and password, then
/// hashes the password on the password threads (no connection held).
fn new_account(
    svc: &Services,
    proof: SignupRequest,
    form: &LinkForm,
) -> Result<std::result::Result<Joiner, JoinProblem>> {
    let (name, password) = match (
        PersonName::parse(&form.name),
        Password::new_account(&form.password),
    ) {
        (Ok(name), Ok(password)) => (name, password),
        (name, password) => {
            return Ok(Err(JoinProblem::InvalidAccount {
                name: name.err().map(|e| format!("Name: {e}.")),
                password: password.err().map(|e| format!("Password: {e}.")),
            }));
        }
    };
    let password_hash = accounts::hash(svc, &password)?;
    Ok(Ok(Joiner::New {
        proof,
        name,
        password_hash,
    }))
}

fn find(c: &mut Conn, token: &LinkToken) -> Result<InviteLinkDetails> {
    db::invite_links::find_by_token(c, token)?.map_or_else(|| refuse(JoinRefusal::NotFound), Ok)
}

/// The page of `/join/{token}` for `user` at `now`.
fn join_screen(
    c: &mut Conn,
    token: &LinkToken,
    user: Option<&User>,
    now: DateTime<Utc>,
) -> Result<JoinScreen> {
    let link = find(c, token)?;
    let creator = db::invite_links::creator(c, &link.link)?;
    let usable = link.link.usable(creator, now);
    let role = role_in(c, link.link.organization_id, user)?;
    let visit = Visit {
        signed_in: user.map(|u| (&u.email, role)),
        address_has_account: false,
    };
    let usable = usable.map_err(|why| (LinkKind::InviteLink, why));
    let requested = open_request(c, &link, user, now)?;
    Ok(JoinScreen {
        page: page(LinkKind::InviteLink, usable, None, visit),
        link,
        address: None,
        requested,
    })
}

/// When `user` sent their open request to join through `link`'s organization, if the link
/// asks for approval and they have one.
fn open_request(
    c: &mut Conn,
    link: &InviteLinkDetails,
    user: Option<&User>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    let (Some(user), true) = (user, link.link.approval_required) else {
        return Ok(None);
    };
    let open = db::join_requests::open_for(c, link.link.organization_id, user.id, now)?;
    Ok(open.map(|r| r.created_at))
}

/// `user`'s role in `org`, if they are a member.
fn role_in(
    c: &mut Conn,
    org: OrganizationId,
    user: Option<&User>,
) -> std::result::Result<Option<Role>, DbError> {
    Ok(match user {
        Some(u) => db::organizations::membership(c, org, u.id)?.map(|m| m.role),
        None => None,
    })
}

/// The refusal that shows `link`'s page saying it is unusable, in `kind`'s words.
pub(super) fn unusable(
    link: InviteLinkDetails,
    address: Option<EmailAddress>,
    kind: LinkKind,
    why: LinkUnusable,
) -> JoinRefusal {
    let screen = JoinScreen {
        link,
        page: LinkPage::Unusable { kind, why },
        address,
        requested: None,
    };
    JoinRefusal::on(screen, JoinProblem::Unusable)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::password::hash_password;
    use crate::domain::{OrganizationId, Plan};
    use crate::service::invite_links::tests::statuses;
    use crate::service::invite_links::{CreateLink, create};
    use crate::service::signup::{self as signup_service, Completed, SignupRefusal};
    use crate::service::testing::{Fixture, actor, visitor};
    use crate::service::{Actor, Visitor};

    const PASSWORD: &str = "a good long password";

    fn new_link(f: &Fixture, creator: &Actor, org: OrganizationId, role: Role) -> LinkToken {
        let cmd = CreateLink {
            role,
            expiry: crate::domain::invite_link::LinkExpiry::OneDay,
            approval_required: false,
        };
        create(&f.svc, creator, org, cmd, f.now).unwrap().token
    }

    fn refused<T: std::fmt::Debug>(r: Result<T>) -> (LinkPage, JoinProblem) {
        match r {
            Err(ServiceError::Refused(JoinRefusal::Refused { screen, problem })) => {
                (screen.page, problem)
            }
            other => panic!("expected a refused form, got {other:?}"),
        }
    }

    fn joined(r: Result<JoinOutcome>) -> Member {
        match r {
            Ok(JoinOutcome::Joined(member)) => member,
            other => panic!("expected to join, got {other:?}"),
        }
    }

    fn user_count(f: &Fixture) -> i64 {
        use crate::db::schema::users;
        use diesel::prelude::*;
        f.with(|c| Ok(users::table.count().get_result(c)?))
    }

    /// The kinds of email queued for `email`.
    pub(crate) fn emails_to(f: &Fixture, email: &str) -> Vec<String> {
        use crate::db::schema::outbox_emails;
        use diesel::prelude::*;
        f.with(|c| {
            Ok(outbox_emails::table
                .filter(outbox_emails::recipient.eq(email))
                .select(outbox_emails::kind)
                .load(c)?)
        })
    }

    fn new_person(name: &str) -> LinkForm {
        LinkForm {
            name: name.into(),
            password: PASSWORD.into(),
            ..LinkForm::default()
        }
    }

    /// Acme (Starter) with an Owner and an Admin.
    fn acme(f: &Fixture) -> (OrganizationId, Actor, Actor) {
        let org = f.org("Acme", Plan::Starter);
        let owner = f.member(org, "owner@acme.test", Role::Owner);
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        (org, owner, admin)
    }

    #[test]
    fn the_page_fits_the_visitor_and_opening_it_writes_nothing() {
        let f = Fixture::new();
        let (org, owner, _) = acme(&f);
        let token = new_link(&f, &owner, org, Role::Editor);
        let page_for = |v: &Visitor| open(&f.svc, v, &token, f.now).unwrap().page;
        assert_eq!(page_for(&visitor(None)), LinkPage::AskEmail);
        let stranger = f.user("pat@example.com", "Pat", false);
        assert_eq!(page_for(&visitor(Some(&stranger))), LinkPage::Confirm);
        let viewer = f.member(org, "vera@acme.test", Role::Viewer);
        assert_eq!(
            page_for(&visitor(Some(&viewer.user))),
            LinkPage::AlreadyMember(Role::Viewer)
        );
        assert_eq!(statuses(&f), ["active"]);
        let unknown = LinkToken::generate();
        assert!(matches!(
            open(&f.svc, &visitor(None), &unknown, f.now),
            Err(ServiceError::Refused(JoinRefusal::NotFound))
        ));
    }

    #[test]
    fn a_link_works_once_and_a_second_use_is_told_it_was_used() {
        let f = Fixture::new();
        let (org, owner, _) = acme(&f);
        let token = new_link(&f, &owner, org, Role::Writer);
        let first = visitor(Some(&f.user("first@example.com", "First", false)));
        let second = visitor(Some(&f.user("second@example.com", "Second", false)));
        let member = joined(accept(&f.svc, &first, &token, f.now));
        assert_eq!((member.role, member.organization.id), (Role::Writer, org));
        // The race, shown serially: the loser reads the winner's state.
        assert_eq!(
            refused(accept(&f.svc, &second, &token, f.now)),
            (
                LinkPage::Unusable {
                    kind: LinkKind::InviteLink,
                    why: LinkUnusable::Used
                },
                JoinProblem::Unusable
            )
        );
        assert_eq!(statuses(&f), ["used"]);
        assert_eq!(
            f.audit_actions(org),
            ["invite_link.created", "invite_link.used", "member.joined"]
        );
        assert_eq!(emails_to(&f, "owner@acme.test"), ["member_joined"]);
    }

    #[test]
    fn racing_new_accounts_leave_one_account_and_the_losers_join_link_unused() {
        let f = Fixture::new();
        let (org, owner, _) = acme(&f);
        let token = new_link(&f, &owner, org, Role::Viewer);
        for email in ["a@example.com", "b@example.com"] {
            let asked = ask_for_link(&f.svc, &visitor(None), &token, email, f.now).unwrap();
            assert!(matches!(asked, Asked::Sent { .. }));
        }
        let (a, b) = (
            f.mailed_link("a@example.com"),
            f.mailed_link("b@example.com"),
        );
        let users = user_count(&f);
        let done = signup_service::complete(&f.svc, &visitor(None), &a, &new_person("A"), f.now);
        assert!(matches!(
            done,
            Ok(Completed::Joined(JoinOutcome::Joined(_)))
        ));
        let lost = signup_service::complete(&f.svc, &visitor(None), &b, &new_person("B"), f.now);
        let Err(ServiceError::Refused(SignupRefusal::Join(JoinRefusal::Refused {
            screen, ..
        }))) = lost
        else {
            panic!("the second use should be refused: {lost:?}");
        };
        assert_eq!(
            screen.page,
            LinkPage::Unusable {
                kind: LinkKind::InviteLink,
                why: LinkUnusable::Used
            }
        );
        assert_eq!(user_count(&f), users + 1, "the loser left no account");
        // The loser's join link is unused: its page now says the invite link was used.
        let page = signup_service::open(&f.svc, &visitor(None), &b, f.now).unwrap();
        assert!(matches!(
            page,
            signup_service::LinkScreen::Join(JoinScreen {
                page: LinkPage::Unusable { .. },
                ..
            })
        ));
    }

    #[test]
    fn the_creators_standing_is_checked_again_and_a_use_writes_the_revocation() {
        let f = Fixture::new();
        let (org, _, admin) = acme(&f);
        let token = new_link(&f, &admin, org, Role::Admin);
        f.set_role(org, &admin, Role::Editor);
        let revoked = LinkPage::Unusable {
            kind: LinkKind::InviteLink,
            why: LinkUnusable::Revoked,
        };
        assert_eq!(
            open(&f.svc, &visitor(None), &token, f.now).unwrap().page,
            revoked
        );
        assert_eq!(statuses(&f), ["active"], "opening writes nothing");
        let someone = visitor(Some(&f.user("pat@example.com", "Pat", false)));
        assert_eq!(
            refused(accept(&f.svc, &someone, &token, f.now)),
            (revoked, JoinProblem::Unusable)
        );
        assert_eq!(statuses(&f), ["revoked"], "the use writes it, and it stays");
        assert_eq!(f.role_of(org, &actor(someone.user.unwrap())), None);
        assert_eq!(
            f.audit_actions(org),
            ["invite_link.created", "invite_link.revoked"]
        );
    }

    #[test]
    fn an_existing_member_is_told_and_the_link_stays_unused() {
        let f = Fixture::new();
        let (org, owner, _) = acme(&f);
        let token = new_link(&f, &owner, org, Role::Admin);
        let vera = f.member(org, "vera@example.com", Role::Viewer);
        let signed_in = visitor(Some(&vera.user));
        match accept(&f.svc, &signed_in, &token, f.now) {
            Ok(JoinOutcome::AlreadyMember(m)) => assert_eq!(m.role, Role::Viewer),
            other => panic!("expected a member already, got {other:?}"),
        }
        // Through a join link to the member's address, signed in as them: told, nothing used.
        ask_for_link(&f.svc, &visitor(None), &token, "vera@example.com", f.now).unwrap();
        let mailed = f.mailed_link("vera@example.com");
        let posted =
            signup_service::complete(&f.svc, &signed_in, &mailed, &LinkForm::default(), f.now);
        let Err(ServiceError::Refused(SignupRefusal::Join(refusal))) = posted else {
            panic!("expected a refusal: {posted:?}");
        };
        assert_eq!(
            refused::<()>(Err(ServiceError::Refused(refusal))),
            (
                LinkPage::AlreadyMember(Role::Viewer),
                JoinProblem::AlreadyMember
            )
        );
        assert_eq!(statuses(&f), ["active"]);
        assert_eq!(f.role_of(org, &vera), Some(Role::Viewer));
    }

    #[test]
    fn asking_for_a_link_answers_alike_for_registered_and_unregistered_addresses() {
        let f = Fixture::new();
        let (org, owner, _) = acme(&f);
        let token = new_link(&f, &owner, org, Role::Viewer);
        f.user("known@example.com", "Known", false);
        let users = user_count(&f);
        for email in ["fresh@example.com", "Known@Example.com"] {
            match ask_for_link(&f.svc, &visitor(None), &token, email, f.now).unwrap() {
                Asked::Sent { email: sent, .. } => assert_eq!(sent.as_str(), email.to_lowercase()),
                Asked::SignedIn => panic!("nobody is signed in"),
            }
        }
        // Each address is sent the same kind of email: only its owner reads which it was.
        assert_eq!(emails_to(&f, "fresh@example.com"), ["signup"]);
        assert_eq!(emails_to(&f, "known@example.com"), ["signup"]);
        assert_eq!(user_count(&f), users, "nothing exists yet");
        assert_eq!(statuses(&f), ["active"], "the link is not used");
        let (page, problem) = refused(ask_for_link(&f.svc, &visitor(None), &token, "nope", f.now));
        assert_eq!(page, LinkPage::AskEmail);
        assert!(matches!(problem, JoinProblem::InvalidEmail(_)));
    }

    #[test]
    fn a_password_proves_the_account_and_a_wrong_one_uses_nothing() {
        let f = Fixture::new();
        let (org, owner, _) = acme(&f);
        let token = new_link(&f, &owner, org, Role::Viewer);
        let known = f.user("known@example.com", "Known", false);
        let hash = hash_password(&Password::new_account(PASSWORD).unwrap()).unwrap();
        f.with(|c| db::users::set_password_hash(c, known.id, &hash));
        let log_in = |password: &str| LogIn {
            email: "Known@Example.com".into(),
            password: password.into(),
        };
        assert_eq!(
            refused(log_in_and_join(
                &f.svc,
                &visitor(None),
                &token,
                &log_in("wrong"),
                f.now
            )),
            (LinkPage::AskEmail, JoinProblem::WrongPassword)
        );
        assert_eq!(statuses(&f), ["active"]);
        let member = joined(log_in_and_join(
            &f.svc,
            &visitor(None),
            &token,
            &log_in(PASSWORD),
            f.now,
        ));
        assert_eq!(member.user.id, known.id);
        assert_eq!(statuses(&f), ["used"]);
    }
}
