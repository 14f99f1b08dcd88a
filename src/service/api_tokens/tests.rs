//! The rules of API tokens, through the operations that keep them.

use chrono::Duration;

use super::*;
use crate::domain::Plan;
use crate::domain::api_token::TokenExpiry;
use crate::service::members::{self, ChangeRole};
use crate::service::testing::{Fixture, refusal};

fn make(
    f: &Fixture,
    who: &Actor,
    org: OrganizationId,
    role: Role,
    expiry: TokenExpiry,
) -> (ApiToken, ApiSecret) {
    let cmd = CreateToken {
        name: "CRM sync".into(),
        role,
        expiry,
    };
    create(&f.svc, who, org, &cmd, f.now).unwrap()
}

fn auth(
    f: &Fixture,
    org: OrganizationId,
    secret: &ApiSecret,
    at: DateTime<Utc>,
) -> std::result::Result<Actor, ServiceError<ApiAuthRefusal>> {
    authenticate(
        &f.svc,
        org,
        Some(&secret.expose()),
        RequestMeta::default(),
        at,
    )
}

#[test]
fn only_owners_make_tokens_within_their_role_and_the_secret_is_stored_hashed() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let admin = f.member(org, "admin@acme.test", Role::Admin);
    let cmd = CreateToken {
        name: "CRM sync".into(),
        role: Role::Viewer,
        expiry: TokenExpiry::Never,
    };
    assert_eq!(
        refusal(create(&f.svc, &admin, org, &cmd, f.now)),
        ApiTokenRefusal::NotPermitted
    );
    assert_eq!(
        refusal(list(&f.svc, &admin, org)),
        ApiTokenRefusal::NotPermitted
    );
    let blank = CreateToken {
        name: "  ".into(),
        ..cmd.clone()
    };
    assert!(matches!(
        refusal(create(&f.svc, &owner, org, &blank, f.now)),
        ApiTokenRefusal::InvalidName(_)
    ));
    let (token, secret) = make(&f, &owner, org, Role::Owner, TokenExpiry::Days30);
    assert_eq!(token.expires_at, Some(f.now + Duration::days(30)));
    let stored: Vec<String> = f.with(|c| {
        use crate::db::schema::api_tokens;
        use diesel::prelude::*;
        Ok(api_tokens::table.select(api_tokens::token_hash).load(c)?)
    });
    assert_eq!(stored, [secret.lookup_hash()]);
    assert!(!stored[0].contains(&secret.expose()[4..]));
    let listed = list(&f.svc, &owner, org).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].created_by_name, "owner@acme.test");
    assert!(
        f.audit_actions(org)
            .contains(&"api_token.created".to_owned())
    );
}

#[test]
fn a_token_acts_with_its_role_for_its_organization_only_and_is_audited_by_name() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let (other, _) = f.org_with_owner("Other", Plan::Starter);
    let (_, secret) = make(&f, &owner, org, Role::Admin, TokenExpiry::Never);
    let actor = auth(&f, org, &secret, f.now).unwrap();
    assert_eq!(actor.user.id, owner.user.id);
    let acting = {
        let mut conn = f.svc.conn().unwrap();
        crate::service::standing_in::<NoStanding>(&mut conn, org, &actor).unwrap()
    };
    assert_eq!(
        acting.role,
        Role::Admin,
        "the token's role, not the Owner's"
    );
    assert_eq!(actor.audit(false).actor.label, "API token CRM sync");
    assert_eq!(
        refusal(auth(&f, other, &secret, f.now)),
        ApiAuthRefusal::OtherOrganization
    );
    let unknown = ApiSecret::generate();
    assert_eq!(
        refusal(auth(&f, org, &unknown, f.now)),
        ApiAuthRefusal::Unauthorized
    );
    assert_eq!(
        refusal(authenticate(
            &f.svc,
            org,
            Some("nonsense"),
            RequestMeta::default(),
            f.now
        )),
        ApiAuthRefusal::Unauthorized
    );
    assert_eq!(
        refusal(authenticate(
            &f.svc,
            org,
            None,
            RequestMeta::default(),
            f.now
        )),
        ApiAuthRefusal::Unauthorized
    );
}

#[test]
fn last_use_is_written_at_most_once_a_minute() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let (token, secret) = make(&f, &owner, org, Role::Viewer, TokenExpiry::Never);
    let last_used = || {
        f.with(|c| db::api_tokens::find_in_org(c, org, token.id))
            .unwrap()
            .last_used_at
    };
    auth(&f, org, &secret, f.now).unwrap();
    assert_eq!(last_used(), Some(f.now));
    auth(&f, org, &secret, f.now + Duration::seconds(30)).unwrap();
    assert_eq!(last_used(), Some(f.now), "not again within the minute");
    auth(&f, org, &secret, f.now + Duration::seconds(61)).unwrap();
    assert_eq!(last_used(), Some(f.now + Duration::seconds(61)));
}

#[test]
fn revoked_and_expired_tokens_stop_working_at_once() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let (token, secret) = make(&f, &owner, org, Role::Viewer, TokenExpiry::Days30);
    assert_eq!(
        refusal(auth(&f, org, &secret, f.now + Duration::days(30))),
        ApiAuthRefusal::Unauthorized
    );
    revoke(&f.svc, &owner, org, token.id, f.now).unwrap();
    assert_eq!(
        refusal(auth(&f, org, &secret, f.now)),
        ApiAuthRefusal::Unauthorized
    );
    assert_eq!(
        refusal(revoke(&f.svc, &owner, org, token.id, f.now)),
        ApiTokenRefusal::AlreadyRevoked
    );
    assert!(list(&f.svc, &owner, org).unwrap().is_empty());
    assert!(
        f.audit_actions(org)
            .contains(&"api_token.revoked".to_owned())
    );
}

#[test]
fn a_creator_demoted_below_a_tokens_role_or_removed_revokes_it() {
    let f = Fixture::new();
    let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
    let olga = f.member(org, "olga@acme.test", Role::Owner);
    let (admin_token, admin_secret) = make(&f, &olga, org, Role::Admin, TokenExpiry::Never);
    let (_, viewer_secret) = make(&f, &olga, org, Role::Viewer, TokenExpiry::Never);
    let cmd = ChangeRole {
        membership: f.membership(org, &olga),
        to: Role::Editor,
    };
    members::change_role(&f.svc, &owner, org, cmd, f.now).unwrap();
    let revoked = f
        .with(|c| db::api_tokens::find_in_org(c, org, admin_token.id))
        .unwrap();
    assert!(revoked.revoked_at.is_some(), "above the new role");
    assert_eq!(
        refusal(auth(&f, org, &admin_secret, f.now)),
        ApiAuthRefusal::Unauthorized
    );
    // At or below the new role: it keeps working.
    auth(&f, org, &viewer_secret, f.now).unwrap();
    members::remove(&f.svc, &owner, org, f.membership(org, &olga), f.now).unwrap();
    assert_eq!(
        refusal(auth(&f, org, &viewer_secret, f.now)),
        ApiAuthRefusal::Unauthorized
    );
    // A creator demoted behind the service's back: the first use revokes it.
    let (lapsing, secret) = make(&f, &owner, org, Role::Owner, TokenExpiry::Never);
    f.set_role(org, &owner, Role::Admin);
    assert_eq!(
        refusal(auth(&f, org, &secret, f.now)),
        ApiAuthRefusal::Unauthorized
    );
    let stored = f
        .with(|c| db::api_tokens::find_in_org(c, org, lapsing.id))
        .unwrap();
    assert!(stored.revoked_at.is_some());
}
