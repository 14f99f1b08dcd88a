//! The rules of join requests (issue 14 §3), through the operations that keep them: asking
//! through a "request access" link or a *Suggest* domain, and approving or rejecting.

use chrono::Duration;

use super::*;
use crate::domain::invite_link::LinkExpiry;
use crate::domain::token::LinkToken;
use crate::domain::{Plan, UserId};
use crate::service::domains;
use crate::service::invite_links::join::{self, JoinOutcome, JoinProblem, JoinRefusal};
use crate::service::invite_links::{self, CreateLink};
use crate::service::testing::{Fixture, actor, refusal, visitor};

/// A "request access" link of `org` suggesting `role`, created by `creator`.
fn request_link(f: &Fixture, creator: &Actor, org: OrganizationId, role: Role) -> LinkToken {
    let cmd = CreateLink {
        role,
        expiry: LinkExpiry::SevenDays,
        approval_required: true,
    };
    invite_links::create(&f.svc, creator, org, cmd, f.now)
        .unwrap()
        .token
}

/// `who` asks through `token` with `note`, at `at`: whether a new request was sent.
fn ask(f: &Fixture, who: &Actor, token: &LinkToken, note: &str, at: DateTime<Utc>) -> bool {
    match join::request(&f.svc, &visitor(Some(&who.user)), token, note, at) {
        Ok(JoinOutcome::Requested(r)) => {
            assert_eq!(r.user.id, who.user.id);
            r.new
        }
        other => panic!("expected a request, got {other:?}"),
    }
}

/// The id of `who`'s open request for `org`.
fn open_of(f: &Fixture, org: OrganizationId, who: &Actor) -> JoinRequestId {
    f.with(|c| db::join_requests::open_for(c, org, who.user.id, f.now))
        .expect("an open request")
        .id
}

fn someone(f: &Fixture, email: &str, name: &str) -> Actor {
    actor(f.user(email, name, false))
}

fn seat_limit(f: &Fixture, org: OrganizationId, seats: u32) {
    f.with(|c| db::seats::set_custom_limit(c, org, Some(seats)));
}

fn link_statuses(f: &Fixture) -> Vec<String> {
    use crate::db::schema::invite_links;
    use diesel::prelude::*;
    f.with(|c| Ok(invite_links::table.select(invite_links::status).load(c)?))
}

#[test]
fn a_request_link_takes_no_seat_is_reusable_and_sends_one_open_request_per_person() {
    let f = Fixture::new();
    let (org, _owner) = f.org_with_owner("Acme", Plan::Starter);
    let admin = f.member(org, "admin@acme.test", Role::Admin);
    // Two members fill both seats: a request link (and a request) still fits.
    seat_limit(&f, org, 2);
    let token = request_link(&f, &admin, org, Role::Editor);
    let rita = someone(&f, "rita@example.com", "Rita");
    assert!(ask(
        &f,
        &rita,
        &token,
        "  I run the Berlin office.  ",
        f.now
    ));
    let request = f
        .with(|c| db::join_requests::open_for(c, org, rita.user.id, f.now))
        .unwrap();
    assert_eq!(request.note, "I run the Berlin office.");
    assert_eq!(request.suggested_role, Role::Editor);
    assert_eq!(request.expires_at, f.now + Duration::days(30));
    assert!(matches!(request.via, JoinVia::InviteLink(Some(_))));
    assert_eq!(f.role_of(org, &rita), None, "a request is not a membership");
    assert_eq!(link_statuses(&f), ["active"], "never used up");
    let seats = f.with(|c| db::seats::used(c, org, f.now));
    assert_eq!(
        seats.total(),
        2,
        "neither the link nor the request takes a seat"
    );
    // Owners and Admins are told; the audit trail has it as Rita's.
    assert_eq!(f.emails_to("owner@acme.test"), ["join_request"]);
    assert_eq!(f.emails_to("admin@acme.test"), ["join_request"]);
    assert!(
        f.audit_actions(org)
            .contains(&"join_request.submitted".to_owned())
    );
    // At most one open request per person and organization: nothing new is sent.
    assert!(!ask(&f, &rita, &token, "again", f.now + Duration::hours(1)));
    assert_eq!(f.emails_to("owner@acme.test"), ["join_request"]);
    // The link works for the next person too.
    let sam = someone(&f, "sam@example.com", "Sam");
    let later = f.now + Duration::minutes(1);
    assert!(ask(&f, &sam, &token, "", later));
    let (open, total) = f.with(|c| db::join_requests::list_open(c, org, later, 50));
    assert_eq!(total, 2);
    assert_eq!(open[0].email.as_str(), "rita@example.com", "oldest first");
}

#[test]
fn approval_checks_seats_again_and_then_adds_the_member_with_the_role_chosen() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    seat_limit(&f, org, 1);
    let token = request_link(&f, &owner, org, Role::Viewer);
    let rita = someone(&f, "rita@example.com", "Rita");
    ask(&f, &rita, &token, "", f.now);
    let id = open_of(&f, org, &rita);
    let full = refusal(approve(&f.svc, &owner, org, id, Role::Writer, f.now));
    assert!(
        matches!(full, JoinRequestRefusal::NoFreeSeats(_)),
        "{full:?}"
    );
    assert!(
        full.to_string().starts_with("All 1 seats are in use"),
        "{full}"
    );
    assert_eq!(f.role_of(org, &rita), None, "nothing written");
    seat_limit(&f, org, 2);
    let approved = approve(&f.svc, &owner, org, id, Role::Writer, f.now).unwrap();
    assert_eq!(approved.role, Role::Writer);
    assert_eq!(f.role_of(org, &rita), Some(Role::Writer));
    assert_eq!(f.emails_to("rita@example.com"), ["join_request_answer"]);
    let actions = f.audit_actions(org);
    assert!(actions.ends_with(&[
        "join_request.approved".to_owned(),
        "member.joined".to_owned()
    ]));
    // Answered once: a second answer finds it closed.
    assert_eq!(
        refusal(approve(&f.svc, &owner, org, id, Role::Writer, f.now)),
        JoinRequestRefusal::Closed(RequestClosed::Approved)
    );
    assert_eq!(
        refusal(reject(&f.svc, &owner, org, id, f.now)),
        JoinRequestRefusal::Closed(RequestClosed::Approved)
    );
}

#[test]
fn approval_obeys_the_approvers_ceiling_and_the_plan_and_only_owners_and_admins_answer() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let admin = f.member(org, "admin@acme.test", Role::Admin);
    let editor = f.member(org, "editor@acme.test", Role::Editor);
    let token = request_link(&f, &owner, org, Role::Viewer);
    let rita = someone(&f, "rita@example.com", "Rita");
    ask(&f, &rita, &token, "", f.now);
    let id = open_of(&f, org, &rita);
    assert_eq!(
        refusal(approve(&f.svc, &admin, org, id, Role::Owner, f.now)),
        JoinRequestRefusal::Denied(InviteDenied::AboveCeiling(Role::Owner))
    );
    assert_eq!(
        refusal(approve(&f.svc, &editor, org, id, Role::Viewer, f.now)),
        JoinRequestRefusal::NotPermitted
    );
    assert_eq!(
        refusal(reject(&f.svc, &editor, org, id, f.now)),
        JoinRequestRefusal::NotPermitted
    );
    assert_eq!(
        refusal(find(&f.svc, &editor, org, id, f.now)),
        JoinRequestRefusal::NotPermitted
    );
    // Another organization's Owner cannot see it, let alone answer it.
    let (other, stranger) = f.org_with_owner("Other", Plan::Starter);
    assert_eq!(
        refusal(approve(&f.svc, &stranger, other, id, Role::Viewer, f.now)),
        JoinRequestRefusal::NotFound
    );
    // Downgraded to Trial (and full) after the request: the plan message comes first.
    f.with(|c| db::organizations::set_plan(c, org, Plan::Trial));
    assert_eq!(
        refusal(approve(&f.svc, &owner, org, id, Role::Viewer, f.now)),
        JoinRequestRefusal::Denied(InviteDenied::TrialPlan)
    );
    assert_eq!(f.role_of(org, &rita), None);
    f.with(|c| db::organizations::set_plan(c, org, Plan::Starter));
    approve(&f.svc, &admin, org, id, Role::Admin, f.now).unwrap();
    assert_eq!(f.role_of(org, &rita), Some(Role::Admin));
}

#[test]
fn approval_checks_the_domain_policy_again() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let domain = f.verified_domain(&owner, org, "acme.test");
    domains::set_enrollment(
        &f.svc,
        &owner,
        org,
        domain,
        EnrollmentMode::Suggest,
        Role::Editor,
        f.now,
    )
    .unwrap();
    let token = request_link(&f, &owner, org, Role::Viewer);
    // Through the link, from outside the domain; then the restriction is turned on.
    let rita = someone(&f, "rita@example.com", "Rita");
    ask(&f, &rita, &token, "", f.now);
    domains::set_restricted(&f.svc, &owner, org, true, f.now).unwrap();
    let id = open_of(&f, org, &rita);
    assert_eq!(
        refusal(approve(&f.svc, &owner, org, id, Role::Viewer, f.now)),
        JoinRequestRefusal::OutsideVerifiedDomains("rita@example.com".into())
    );
    // With the restriction on, asking from outside is refused at once.
    let sam = someone(&f, "sam@example.com", "Sam");
    let refused = join::request(&f.svc, &visitor(Some(&sam.user)), &token, "", f.now);
    match refusal(refused) {
        JoinRefusal::Refused { problem, .. } => {
            assert_eq!(problem, JoinProblem::OutsideVerifiedDomains("Acme".into()));
        }
        other => panic!("expected a refusal on the page, got {other:?}"),
    }
    // Through the Suggest domain; then the domain goes back to Manual invitations only.
    let dee = someone(&f, "dee@acme.test", "Dee");
    let (_, sent) = request_by_domain(&f.svc, &dee, org, "Hello", f.now).unwrap();
    assert!(matches!(sent, Submitted::Sent(_)));
    domains::set_enrollment(
        &f.svc,
        &owner,
        org,
        domain,
        EnrollmentMode::Manual,
        Role::Viewer,
        f.now,
    )
    .unwrap();
    let id = open_of(&f, org, &dee);
    assert_eq!(
        refusal(approve(&f.svc, &owner, org, id, Role::Editor, f.now)),
        JoinRequestRefusal::DomainNoLongerOffered(DomainName::parse("acme.test").unwrap())
    );
    assert_eq!(f.role_of(org, &dee), None);
}

#[test]
fn suggest_domains_take_requests_and_other_modes_do_not_say_why() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let domain = f.verified_domain(&owner, org, "acme.test");
    let dee = someone(&f, "dee@acme.test", "Dee");
    let set = |mode| {
        domains::set_enrollment(&f.svc, &owner, org, domain, mode, Role::Writer, f.now).unwrap();
    };
    for mode in [EnrollmentMode::Manual, EnrollmentMode::Automatic] {
        set(mode);
        assert_eq!(
            refusal(request_by_domain(&f.svc, &dee, org, "", f.now)),
            RequestRefusal::NotOffered
        );
    }
    set(EnrollmentMode::Suggest);
    let eve = someone(&f, "eve@elsewhere.test", "Eve");
    assert_eq!(
        refusal(request_by_domain(&f.svc, &eve, org, "", f.now)),
        RequestRefusal::NotOffered,
        "another domain"
    );
    let long = "x".repeat(501);
    assert!(matches!(
        refusal(request_by_domain(&f.svc, &dee, org, &long, f.now)),
        RequestRefusal::InvalidNote(_)
    ));
    let (organization, sent) = request_by_domain(&f.svc, &dee, org, "", f.now).unwrap();
    assert_eq!(organization.name, "Acme");
    assert_eq!(sent.request().suggested_role, Role::Writer);
    assert_eq!(
        sent.request().via,
        JoinVia::Domain(DomainName::parse("acme.test").unwrap())
    );
    // "Organizations you can join" says when they asked.
    let offered = domains::joinable(&f.svc, &dee, f.now).unwrap();
    assert_eq!(offered[0].requested, Some(f.now));
    let (_, again) = request_by_domain(&f.svc, &dee, org, "", f.now).unwrap();
    assert!(matches!(again, Submitted::AlreadyOpen(_)));
    // Members are told they are members.
    let member = f.member(org, "mel@acme.test", Role::Viewer);
    assert_eq!(
        refusal(request_by_domain(&f.svc, &member, org, "", f.now)),
        RequestRefusal::AlreadyMember("Acme".into())
    );
}

#[test]
fn a_rejected_person_is_told_and_may_ask_again() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let token = request_link(&f, &owner, org, Role::Viewer);
    let rita = someone(&f, "rita@example.com", "Rita");
    ask(&f, &rita, &token, "", f.now);
    let id = open_of(&f, org, &rita);
    let shown = find(&f.svc, &owner, org, id, f.now).unwrap();
    assert_eq!(shown.name, "Rita");
    let rejected = reject(&f.svc, &owner, org, id, f.now).unwrap();
    assert_eq!(rejected.email.as_str(), "rita@example.com");
    assert_eq!(f.emails_to("rita@example.com"), ["join_request_answer"]);
    assert!(
        f.audit_actions(org)
            .contains(&"join_request.rejected".to_owned())
    );
    assert_eq!(f.role_of(org, &rita), None);
    assert_eq!(
        refusal(find(&f.svc, &owner, org, id, f.now)),
        JoinRequestRefusal::Closed(RequestClosed::Rejected)
    );
    assert!(
        ask(&f, &rita, &token, "Please reconsider", f.now),
        "a new request"
    );
}

#[test]
fn a_request_expires_after_30_days_and_the_sweep_writes_it_down() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let token = request_link(&f, &owner, org, Role::Viewer);
    let rita = someone(&f, "rita@example.com", "Rita");
    ask(&f, &rita, &token, "", f.now);
    let id = open_of(&f, org, &rita);
    let late = f.now + Duration::days(30);
    assert_eq!(
        refusal(approve(&f.svc, &owner, org, id, Role::Viewer, late)),
        JoinRequestRefusal::Closed(RequestClosed::Expired)
    );
    let (_, total) = f.with(|c| db::join_requests::list_open(c, org, late, 50));
    assert_eq!(total, 0, "expiry is a fact of time");
    let swept = crate::service::maintenance::sweep(&f.svc, late, f.now).unwrap();
    assert_eq!(swept.join_requests, 1);
    assert_eq!(
        crate::service::maintenance::sweep(&f.svc, late, f.now)
            .unwrap()
            .join_requests,
        0
    );
    // A person whose request expired can ask again, before any sweep wrote it down.
    let domain = f.verified_domain(&owner, org, "acme.test");
    let suggest = EnrollmentMode::Suggest;
    domains::set_enrollment(&f.svc, &owner, org, domain, suggest, Role::Viewer, f.now).unwrap();
    let dee = someone(&f, "dee@acme.test", "Dee");
    request_by_domain(&f.svc, &dee, org, "", f.now).unwrap();
    let first = open_of(&f, org, &dee);
    let in_a_month = f.now + Duration::days(31);
    let (_, again) = request_by_domain(&f.svc, &dee, org, "", in_a_month).unwrap();
    assert!(
        matches!(again, Submitted::Sent(_)),
        "the expired one does not block"
    );
    let stale = f
        .with(|c| db::join_requests::find_in_org(c, org, first))
        .unwrap();
    assert_eq!(
        stale.status,
        JoinRequestStatus::Expired,
        "written down on the way"
    );
}

#[test]
fn someone_who_joined_meanwhile_is_not_added_twice() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let token = request_link(&f, &owner, org, Role::Viewer);
    let rita = someone(&f, "rita@example.com", "Rita");
    ask(&f, &rita, &token, "", f.now);
    let id = open_of(&f, org, &rita);
    f.add(org, &rita.user, Role::Writer);
    let (_, total) = f.with(|c| db::join_requests::list_open(c, org, f.now, 50));
    assert_eq!(total, 0, "members' requests are not listed");
    assert_eq!(
        refusal(approve(&f.svc, &owner, org, id, Role::Viewer, f.now)),
        JoinRequestRefusal::AlreadyMember("rita@example.com".into())
    );
    assert_eq!(f.role_of(org, &rita), Some(Role::Writer));
    // A member following the link is told they are a member.
    match join::request(&f.svc, &visitor(Some(&rita.user)), &token, "", f.now) {
        Ok(JoinOutcome::AlreadyMember(m)) => assert_eq!(m.role, Role::Writer),
        other => panic!("expected a member already, got {other:?}"),
    }
}

#[test]
fn a_new_account_made_through_a_request_link_asks_rather_than_joins() {
    use crate::service::signup::{self as signup_service, LinkForm};
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let token = request_link(&f, &owner, org, Role::Viewer);
    join::ask_for_link(&f.svc, &visitor(None), &token, "nina@example.com", f.now).unwrap();
    let mailed = f.mailed_link("nina@example.com");
    let form = LinkForm {
        name: "Nina".into(),
        password: "correct horse battery staple".into(),
        ..LinkForm::default()
    };
    let outcome = signup_service::complete(&f.svc, &visitor(None), &mailed, &form, f.now);
    let user: UserId = match outcome {
        Ok(signup_service::Completed::Joined(JoinOutcome::Requested(r))) => {
            assert!(r.new);
            r.user.id
        }
        other => panic!("expected a request, got {other:?}"),
    };
    let open = f.with(|c| db::join_requests::open_for(c, org, user, f.now));
    assert!(open.is_some(), "the new account asked");
    let nina = f.with(|c| db::users::find(c, user)).unwrap();
    assert_eq!(f.role_of(org, &actor(nina)), None);
    assert_eq!(link_statuses(&f), ["active"]);
}
