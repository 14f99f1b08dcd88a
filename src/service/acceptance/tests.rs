//! The rules of using a member invitation, each through the operation that keeps it.

use chrono::Duration;

use super::*;
use crate::domain::invitation::DEFAULT_TTL;
use crate::domain::{InvitationStatus, OrganizationId, Plan};
use crate::service::testing::{Fixture, actor, visitor};

/// Acme with its Owner.
fn acme(f: &Fixture) -> (OrganizationId, User) {
    let org = f.org("Acme", Plan::Starter);
    (org, f.member(org, "owner@acme.test", Role::Owner).user)
}

fn refused<T: std::fmt::Debug>(r: Result<T>) -> Refused {
    match r {
        Err(ServiceError::Refused(InvitationRefusal::Shown { why, .. })) => why,
        other => panic!("expected a refusal on the page, got {other:?}"),
    }
}

/// The stored state of the invitation with `token`: (status, reason).
fn stored(f: &Fixture, token: &LinkToken) -> (InvitationStatus, Option<String>) {
    let inv = f
        .with(|c| db::invitations::find_by_token(c, token))
        .unwrap()
        .invitation;
    (inv.facts.status, inv.status_reason)
}

fn member_page(
    f: &Fixture,
    who: Option<&User>,
    token: &LinkToken,
    at: DateTime<Utc>,
) -> MemberView {
    match open(&f.svc, &visitor(who), token, at).unwrap() {
        Opened::Member(view) => view,
        Opened::Tenant(view) => panic!("a member invitation, not {view:?}"),
    }
}

fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

#[test]
fn single_use_of_two_racing_acceptances_exactly_one_wins() {
    let f = Fixture::new();
    let (org, owner) = acme(&f);
    let ann = f.user("ann@example.com", "Ann", false);
    let token = f.invitation(org, &owner, "ann@example.com", Role::Editor);
    // Both requests read the invitation before either wrote: the race, one after the other.
    let details = f
        .with(|c| db::invitations::find_by_token(c, &token))
        .unwrap();
    let ctx = actor(ann.clone()).audit(false);
    let accept_once = || {
        let mut conn = f.svc.conn().unwrap();
        db::write_transaction(&mut conn, |c| {
            accept_in_transaction(c, &ctx, &details, &ann, f.now)
        })
    };
    assert_eq!(accept_once().unwrap(), Accepted::Joined(Role::Editor));
    match accept_once() {
        Err(ServiceError::Refused(why)) => {
            assert_eq!(why, Refused::Unusable(LinkUnusable::Used));
        }
        other => panic!("the second acceptance must lose: {other:?}"),
    }
    let actions = f.audit_actions(org);
    assert_eq!(count(&actions, "invitation.accepted"), 1, "{actions:?}");
    assert_eq!(count(&actions, "member.joined"), 1, "{actions:?}");
    // The link's page says so, and accepting again through the operation is refused too.
    let page = member_page(&f, Some(&ann), &token, f.now).page;
    assert_eq!(
        page,
        LinkPage::Unusable {
            kind: LinkKind::MemberInvitation,
            why: LinkUnusable::Used
        }
    );
    let again = accept(&f.svc, &visitor(Some(&ann)), &token, f.now);
    assert_eq!(refused(again), Refused::Unusable(LinkUnusable::Used));
}

#[test]
fn a_wrong_account_never_uses_the_invitation() {
    let f = Fixture::new();
    let (org, owner) = acme(&f);
    let ann = f.user("ann@example.com", "Ann", false);
    let bob = f.user("bob@example.com", "Bob", false);
    let token = f.invitation(org, &owner, "ann@example.com", Role::Viewer);
    let bob_visits = visitor(Some(&bob));
    assert_eq!(
        member_page(&f, Some(&bob), &token, f.now).page,
        LinkPage::WrongAccount
    );
    let accepted = accept(&f.svc, &bob_visits, &token, f.now);
    assert_eq!(refused(accepted), Refused::WrongAccount);
    let declined = decline(&f.svc, &bob_visits, &token, f.now);
    assert_eq!(refused(declined), Refused::WrongAccount);
    assert_eq!(stored(&f, &token), (InvitationStatus::Pending, None));
    assert!(f.role_of(org, &actor(bob)).is_none());
    // The invitee still can.
    let joined = accept(&f.svc, &visitor(Some(&ann)), &token, f.now).unwrap();
    assert_eq!(joined.unwrap().accepted, Accepted::Joined(Role::Viewer));
}

#[test]
fn expired_is_a_fact_of_time_whether_or_not_a_sweep_wrote_it() {
    let f = Fixture::new();
    let (org, owner) = acme(&f);
    let ann = f.user("ann@example.com", "Ann", false);
    let token = f.invitation(org, &owner, "ann@example.com", Role::Viewer);
    let expiry = f.now + DEFAULT_TTL;
    let before = member_page(&f, None, &token, expiry - Duration::seconds(1));
    assert_eq!(before.page, LinkPage::LogIn);
    let after = member_page(&f, None, &token, expiry);
    let expired = LinkUnusable::Expired;
    assert_eq!(
        after.page,
        LinkPage::Unusable {
            kind: LinkKind::MemberInvitation,
            why: expired
        }
    );
    assert_eq!(after.link.renewal, Some(Renewal::Offered));
    let late = accept(&f.svc, &visitor(Some(&ann)), &token, expiry);
    assert_eq!(refused(late), Refused::Unusable(expired));
    assert_eq!(
        stored(&f, &token).0,
        InvitationStatus::Pending,
        "nothing swept it"
    );
    assert!(f.role_of(org, &actor(ann)).is_none());
}

#[test]
fn an_inviter_who_may_no_longer_grant_the_role_revokes_it_at_acceptance_not_at_a_visit() {
    let f = Fixture::new();
    let org = f.org("Acme", Plan::Starter);
    let owner = f.member(org, "owner@acme.test", Role::Owner);
    f.member(org, "second@acme.test", Role::Owner);
    let boss = f.user("boss@example.com", "Boss", false);
    let token = f.invitation(org, &owner.user, "boss@example.com", Role::Owner);
    f.set_role(org, &owner, Role::Admin);
    let revoked = LinkUnusable::Revoked;
    let page = member_page(&f, Some(&boss), &token, f.now).page;
    assert_eq!(
        page,
        LinkPage::Unusable {
            kind: LinkKind::MemberInvitation,
            why: revoked
        }
    );
    assert_eq!(
        stored(&f, &token),
        (InvitationStatus::Pending, None),
        "a visit writes nothing"
    );
    let refusal = accept(&f.svc, &visitor(Some(&boss)), &token, f.now);
    assert_eq!(refused(refusal), Refused::Unusable(revoked));
    assert_eq!(
        stored(&f, &token),
        (
            InvitationStatus::Revoked,
            Some("inviter may no longer assign Owner".into())
        )
    );
    let actions = f.audit_actions(org);
    assert_eq!(count(&actions, "invitation.revoked"), 1, "{actions:?}");
    assert_eq!(count(&actions, "invitation.accepted"), 0, "{actions:?}");
    assert!(f.role_of(org, &actor(boss)).is_none());
}

#[test]
fn a_new_invitation_may_be_requested_once_a_day() {
    let f = Fixture::new();
    let (org, owner) = acme(&f);
    let token = f.invitation(org, &owner, "late@example.com", Role::Viewer);
    let asked_at = f.now + DEFAULT_TTL + Duration::hours(1);
    let ask = |at| request_renewal(&f.svc, &visitor(None), &token, at).unwrap();
    assert!(matches!(ask(asked_at), RenewalAnswer::Sent(_)));
    match ask(asked_at + Duration::hours(23)) {
        RenewalAnswer::AlreadyAsked(_, at) => assert_eq!(at, asked_at),
        other => panic!("within the day nothing is sent: {other:?}"),
    }
    let page = member_page(&f, None, &token, asked_at + Duration::hours(23));
    assert_eq!(page.link.renewal, Some(Renewal::Requested(asked_at)));
    assert!(matches!(
        ask(asked_at + Duration::days(1)),
        RenewalAnswer::Sent(_)
    ));
    let actions = f.audit_actions(org);
    assert_eq!(
        count(&actions, "invitation.renewal_requested"),
        2,
        "{actions:?}"
    );
    // A live link has nothing to renew.
    let live = f.invitation(org, &owner, "early@example.com", Role::Viewer);
    let early = request_renewal(&f.svc, &visitor(None), &live, f.now).unwrap();
    assert!(matches!(early, RenewalAnswer::StillUsable));
}

#[test]
fn someone_already_a_member_keeps_their_role_and_the_invitation_is_used() {
    let f = Fixture::new();
    let (org, owner) = acme(&f);
    let ann = f.member(org, "ann@example.com", Role::Admin);
    let token = f.invitation(org, &owner, "ann@example.com", Role::Viewer);
    let joined = accept(&f.svc, &visitor(Some(&ann.user)), &token, f.now).unwrap();
    assert_eq!(
        joined.unwrap().accepted,
        Accepted::AlreadyMember(Role::Admin)
    );
    assert_eq!(f.role_of(org, &ann), Some(Role::Admin));
    assert_eq!(stored(&f, &token).0, InvitationStatus::Accepted);
    assert_eq!(count(&f.audit_actions(org), "member.joined"), 0);
}

#[test]
fn registration_checks_the_link_before_the_input_and_hashes_last() {
    let f = Fixture::new();
    let (org, owner) = acme(&f);
    let token = f.invitation(org, &owner, "new@example.com", Role::Writer);
    let form = |name: &str, password: &str| NewAccount {
        name: PersonName::parse(name),
        password: Password::new_account(password),
    };
    let register_at = |cmd, at| register(&f.svc, &visitor(None), &token, cmd, at);
    // Expired: the link's answer, not the input's.
    let late = register_at(form("", "short"), f.now + DEFAULT_TTL);
    assert_eq!(refused(late), Refused::Unusable(LinkUnusable::Expired));
    // Usable: the input's, field by field.
    match refused(register_at(form("", "short"), f.now)) {
        Refused::Invalid { on, errors } => {
            assert_eq!(on, LinkPage::NewAccount);
            assert_eq!(errors.name, Some(TextError::Empty));
            assert_eq!(errors.password, Some(PasswordError::TooShort));
        }
        other => panic!("{other:?}"),
    }
    let email = EmailAddress::parse("new@example.com").unwrap();
    assert!(!f.with(|c| db::users::email_exists(c, &email)));
    let done = register_at(form("New Person", "a good long password"), f.now).unwrap();
    let Registration::Joined(joined) = done else {
        panic!("{done:?}")
    };
    assert_eq!(joined.accepted, Accepted::Joined(Role::Writer));
    assert_eq!(f.role_of(org, &actor(joined.user)), Some(Role::Writer));
    // An account with the address now exists: another invitation to it asks to log in.
    let other = f.org("Globex", Plan::Starter);
    let globex_owner = f.member(other, "owner@globex.test", Role::Owner).user;
    let second = f.invitation(other, &globex_owner, "new@example.com", Role::Viewer);
    let again = register(
        &f.svc,
        &visitor(None),
        &second,
        form("X", "another long one"),
        f.now,
    );
    assert!(matches!(again.unwrap(), Registration::AccountExists));
}

#[test]
fn a_wrong_password_at_log_in_and_accept_uses_nothing() {
    let f = Fixture::new();
    let (org, owner) = acme(&f);
    f.user("ann@example.com", "Ann", false);
    let token = f.invitation(org, &owner, "ann@example.com", Role::Viewer);
    let wrong = log_in(&f.svc, &visitor(None), &token, "not the password", f.now);
    assert_eq!(refused(wrong), Refused::WrongPassword);
    assert_eq!(stored(&f, &token).0, InvitationStatus::Pending);
}

#[test]
fn opening_a_link_finds_only_invitations() {
    let f = Fixture::new();
    let unknown = LinkToken::generate();
    assert!(matches!(
        open(&f.svc, &visitor(None), &unknown, f.now),
        Err(ServiceError::Refused(NoSuchInvitation))
    ));
    let not_member = accept(&f.svc, &visitor(None), &unknown, f.now);
    assert!(matches!(
        not_member,
        Err(ServiceError::Refused(InvitationRefusal::NotFound))
    ));
}
