//! The rules of verified domains, through the operations that keep them.

use chrono::Duration;

use super::*;
use crate::domain::invitation::{AddressOutcome, SkipReason};
use crate::domain::{Plan, User};
use crate::service::invitations::{self, InvitationRefusal};
use crate::service::testing::{Fixture, actor, refusal, viewer_entries};

/// The code the email for `id` would carry.
fn code_of(f: &Fixture, org: OrganizationId, id: DomainId) -> String {
    f.domain_code(org, id)
}

fn wrong_code(right: &str) -> &'static str {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
}

/// `domain` added and verified by `owner`.
fn verified(f: &Fixture, owner: &Actor, org: OrganizationId, domain: &str) -> DomainId {
    f.verified_domain(owner, org, domain)
}

fn someone(f: &Fixture, email: &str) -> Actor {
    let user: User = f.user(email, "Someone", false);
    actor(user)
}

fn invite(
    f: &Fixture,
    owner: &Actor,
    org: OrganizationId,
    emails: &[&str],
) -> std::result::Result<Vec<AddressOutcome>, ServiceError<InvitationRefusal>> {
    invitations::invite(&f.svc, owner, org, &viewer_entries(emails), f.now)
}

#[test]
fn the_mailed_code_verifies_the_domain_and_wrong_ones_count_even_though_refused() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let id = add(&f.svc, &owner, org, "ACME.test", "it@acme.test", f.now).unwrap();
    let queued: i64 = f.with(|c| {
        use crate::db::schema::outbox_emails as o;
        use diesel::prelude::*;
        Ok(o::table
            .filter(o::kind.eq("domain_code"))
            .filter(o::recipient.eq("it@acme.test"))
            .count()
            .get_result(c)?)
    });
    assert_eq!(queued, 1, "the code goes through the outbox");
    let code = code_of(&f, org, id);
    let wrong = refusal(verify(&f.svc, &owner, org, id, wrong_code(&code), f.now));
    assert_eq!(
        wrong,
        DomainRefusal::Code(CodeRejected::Wrong { attempts_left: 4 })
    );
    let stored = f.with(|c| db::domains::find(c, org, id)).unwrap();
    assert_eq!(stored.code.attempts, 1, "kept although refused");
    let domain = verify(&f.svc, &owner, org, id, &code, f.now).unwrap();
    assert_eq!(domain.as_str(), "acme.test");
    assert_eq!(
        refusal(verify(&f.svc, &owner, org, id, &code, f.now)),
        DomainRefusal::NotPending
    );
    let actions = f.audit_actions(org);
    assert!(actions.contains(&"domain.added".to_owned()));
    assert!(actions.contains(&"domain.verified".to_owned()));
}

#[test]
fn a_code_lasts_30_minutes_and_5_attempts_and_a_new_one_waits_a_minute() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let id = add(&f.svc, &owner, org, "acme.test", "it@acme.test", f.now).unwrap();
    let code = code_of(&f, org, id);
    let late = f.now + Duration::minutes(30);
    assert_eq!(
        refusal(verify(&f.svc, &owner, org, id, &code, late)),
        DomainRefusal::Code(CodeRejected::Expired)
    );
    assert!(matches!(
        refusal(new_code(
            &f.svc,
            &owner,
            org,
            id,
            f.now + Duration::seconds(59)
        )),
        DomainRefusal::CodeSentRecently { retry_after: 1 }
    ));
    new_code(&f.svc, &owner, org, id, late).unwrap();
    let fresh = code_of(&f, org, id);
    for _ in 0..5 {
        let _ = verify(&f.svc, &owner, org, id, wrong_code(&fresh), late);
    }
    assert_eq!(
        refusal(verify(&f.svc, &owner, org, id, &fresh, late)),
        DomainRefusal::Code(CodeRejected::NoAttemptsLeft)
    );
}

#[test]
fn only_owners_add_domains_and_public_or_foreign_ones_are_refused_with_nothing_written() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let admin = f.member(org, "admin@acme.test", Role::Admin);
    assert_eq!(
        refusal(add(
            &f.svc,
            &admin,
            org,
            "acme.test",
            "admin@acme.test",
            f.now
        )),
        DomainRefusal::NotPermitted
    );
    assert!(matches!(
        refusal(add(&f.svc, &owner, org, "gmail.com", "x@gmail.com", f.now)),
        DomainRefusal::InvalidDomain(DomainNameError::PublicMail(_))
    ));
    assert!(matches!(
        refusal(add(&f.svc, &owner, org, "acme.test", "x@other.test", f.now)),
        DomainRefusal::InvalidProofEmail(_)
    ));
    assert!(f.with(|c| db::domains::list(c, org)).is_empty());
    // Verified by another organization: refused at adding and at verifying.
    let (rival, rival_owner) = f.org_with_owner("Rival", Plan::Starter);
    let claim = add(
        &f.svc,
        &rival_owner,
        rival,
        "acme.test",
        "ops@acme.test",
        f.now,
    )
    .unwrap();
    let rival_code = code_of(&f, rival, claim);
    verified(&f, &owner, org, "acme.test");
    let taken = DomainRefusal::VerifiedElsewhere(DomainName::parse("acme.test").unwrap());
    assert_eq!(
        refusal(verify(
            &f.svc,
            &rival_owner,
            rival,
            claim,
            &rival_code,
            f.now
        )),
        taken
    );
    assert_eq!(
        refusal(add(
            &f.svc,
            &rival_owner,
            rival,
            "acme.test",
            "ops@acme.test",
            f.now
        )),
        taken
    );
}

#[test]
fn enrollment_needs_a_verified_domain_and_a_role_of_at_most_editor() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let pending = add(&f.svc, &owner, org, "acme.test", "it@acme.test", f.now).unwrap();
    let set = |id, mode, role| set_enrollment(&f.svc, &owner, org, id, mode, role, f.now);
    assert_eq!(
        refusal(set(pending, EnrollmentMode::Automatic, Role::Viewer)),
        DomainRefusal::NotVerified
    );
    let id = verified(&f, &owner, org, "beta.test");
    for role in [Role::Admin, Role::Owner] {
        assert_eq!(
            refusal(set(id, EnrollmentMode::Automatic, role)),
            DomainRefusal::RoleTooHigh(DomainRoleTooHigh(role))
        );
    }
    let saved = set(id, EnrollmentMode::Automatic, Role::Editor).unwrap();
    assert_eq!(
        (saved.enrollment, saved.default_role),
        (EnrollmentMode::Automatic, Role::Editor)
    );
    assert!(
        f.audit_actions(org)
            .contains(&"domain.enrollment_changed".to_owned())
    );
}

#[test]
fn automatic_joins_at_once_with_the_default_role_and_a_free_seat() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let id = verified(&f, &owner, org, "acme.test");
    let dee = someone(&f, "dee@acme.test");
    let eve = someone(&f, "eve@elsewhere.test");
    // Manual: not offered.
    assert!(joinable(&f.svc, &dee, f.now).unwrap().is_empty());
    assert_eq!(
        refusal(join(&f.svc, &dee, org, f.now)),
        DomainJoinRefusal::NotOffered
    );
    // Suggest: offered as a request, not a join.
    let enroll = |mode| set_enrollment(&f.svc, &owner, org, id, mode, Role::Writer, f.now);
    enroll(EnrollmentMode::Suggest).unwrap();
    let offered = joinable(&f.svc, &dee, f.now).unwrap();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].mode, EnrollmentMode::Suggest);
    assert_eq!(
        refusal(join(&f.svc, &dee, org, f.now)),
        DomainJoinRefusal::NotOffered
    );
    enroll(EnrollmentMode::Automatic).unwrap();
    assert!(
        joinable(&f.svc, &eve, f.now).unwrap().is_empty(),
        "another domain"
    );
    assert_eq!(
        refusal(join(&f.svc, &eve, org, f.now)),
        DomainJoinRefusal::NotOffered
    );
    // At the cap: refused, naming only the organization.
    f.with(|c| db::seats::set_custom_limit(c, org, Some(1)));
    assert_eq!(
        refusal(join(&f.svc, &dee, org, f.now)),
        DomainJoinRefusal::NoFreeSeats("Acme".into())
    );
    f.with(|c| db::seats::set_custom_limit(c, org, None));
    let (joined, role) = join(&f.svc, &dee, org, f.now).unwrap();
    assert_eq!((joined.id, role), (org, Role::Writer));
    assert_eq!(f.role_of(org, &dee), Some(Role::Writer));
    assert!(
        joinable(&f.svc, &dee, f.now).unwrap().is_empty(),
        "a member now"
    );
    assert_eq!(
        refusal(join(&f.svc, &dee, org, f.now)),
        DomainJoinRefusal::AlreadyMember("Acme".into())
    );
    assert!(f.audit_actions(org).contains(&"member.joined".to_owned()));
}

#[test]
fn a_restricted_organization_skips_addresses_elsewhere_and_refuses_a_submission_of_only_them() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    assert_eq!(
        refusal(set_restricted(&f.svc, &owner, org, true, f.now)),
        DomainRefusal::NoVerifiedDomain
    );
    let id = verified(&f, &owner, org, "acme.test");
    set_restricted(&f.svc, &owner, org, true, f.now).unwrap();
    let outcomes = invite(&f, &owner, org, &["ann@acme.test", "bob@other.test"]).unwrap();
    assert_eq!(
        outcomes,
        [
            AddressOutcome::Sent,
            AddressOutcome::Skipped(SkipReason::OutsideVerifiedDomains)
        ]
    );
    assert_eq!(
        refusal(invite(
            &f,
            &owner,
            org,
            &["bob@other.test", "cy@other.test"]
        )),
        InvitationRefusal::AllOutsideVerifiedDomains(2)
    );
    // Removing the last verified domain lifts the restriction.
    remove(&f.svc, &owner, org, id, f.now).unwrap();
    assert!(!f.with(|c| db::domains::restricted(c, org)));
    assert_eq!(
        invite(&f, &owner, org, &["bob@other.test"]).unwrap(),
        [AddressOutcome::Sent]
    );
}
