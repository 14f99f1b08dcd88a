//! A service layer over a fresh in-memory SQLite database, for the service tests: every rule
//! is tested through the operation that keeps it, without HTTP and in milliseconds.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;

use super::{Actor, Services, Visitor};
use crate::config::Settings;
use crate::db::audit::RequestMeta;
use crate::db::models::NewInvitation;
use crate::db::schema::{audit_events, invitations, signup_requests};
use crate::db::{self, Db};
use crate::domain::invitation::DEFAULT_TTL;
use crate::domain::password::DUMMY_HASH;
use crate::domain::text::{OrganizationName, PersonName};
use crate::domain::token::{LinkToken, TokenNonce};
use crate::domain::{EmailAddress, ManualClock, MembershipId, OrganizationId, Plan, Role, User};
use crate::password_pool::PasswordPool;
use crate::web::limits::Limits;

/// Services on their own in-memory database, with helpers to seed it.
pub struct Fixture {
    /// The services under test.
    pub svc: Services,
    /// The time the tests act at.
    pub now: DateTime<Utc>,
    /// Keeps the shared in-memory database alive while the pool's connections come and go.
    _anchor: db::Pooled,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// A migrated, empty database.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_tests(dir.path());
        settings.database_url = format!(
            "file:service-test-{}?mode=memory&cache=shared",
            uuid::Uuid::new_v4()
        );
        let db = Db::connect(&settings.database_url, 4).unwrap();
        let anchor = db.get().unwrap();
        db.migrate().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        Fixture {
            svc: Services {
                db,
                passwords: PasswordPool::new(1, 4).unwrap(),
                settings: Arc::new(settings),
                outbox: Arc::new(tokio::sync::Notify::new()),
                login_failures: Limits::new(20, Arc::new(ManualClock::new(now))).login_failures,
            },
            now,
            _anchor: anchor,
            _dir: dir,
        }
    }

    /// Runs `f` on a connection.
    pub fn with<R>(&self, f: impl FnOnce(&mut db::Conn) -> Result<R, db::DbError>) -> R {
        self.svc.db.with_conn(f).unwrap()
    }

    /// A new account.
    pub fn user(&self, email: &str, name: &str, is_staff: bool) -> User {
        let email = EmailAddress::parse(email).unwrap();
        let name = PersonName::parse(name).unwrap();
        let id = self.with(|c| db::users::insert(c, &email, &name, DUMMY_HASH, is_staff, self.now));
        self.with(|c| db::users::find(c, id)).unwrap()
    }

    /// A new organization.
    pub fn org(&self, name: &str, plan: Plan) -> OrganizationId {
        let name = OrganizationName::parse(name).unwrap();
        self.with(|c| db::organizations::insert(c, &name, plan, self.now))
            .id
    }

    /// A new organization on `plan` with an Owner (`owner@{slug}.test`), as an actor.
    pub fn org_with_owner(&self, name: &str, plan: Plan) -> (OrganizationId, Actor) {
        let org = self.org(name, plan);
        let slug = name.to_lowercase().replace(' ', "-");
        (
            org,
            self.member(org, &format!("owner@{slug}.test"), Role::Owner),
        )
    }

    /// A new account that is a member of `org` with `role`, as an actor.
    pub fn member(&self, org: OrganizationId, email: &str, role: Role) -> Actor {
        let user = self.user(email, email, false);
        self.add(org, &user, role);
        actor(user)
    }

    /// Makes `user` a member of `org` with `role`.
    pub fn add(&self, org: OrganizationId, user: &User, role: Role) -> MembershipId {
        self.with(|c| db::organizations::add_member(c, org, user.id, role, None, None, self.now))
    }

    /// `actor`'s membership of `org`.
    pub fn membership(&self, org: OrganizationId, actor: &Actor) -> MembershipId {
        self.with(|c| db::organizations::membership(c, org, actor.user.id))
            .unwrap()
            .id
    }

    /// `actor`'s role in `org`, if a member.
    pub fn role_of(&self, org: OrganizationId, actor: &Actor) -> Option<Role> {
        self.with(|c| db::organizations::membership(c, org, actor.user.id))
            .map(|m| m.role)
    }

    /// Sets `actor`'s role in `org` behind the service's back (another request's change).
    pub fn set_role(&self, org: OrganizationId, actor: &Actor, role: Role) {
        let id = self.membership(org, actor);
        self.with(|c| db::members::set_role(c, id, role));
    }

    /// A pending invitation to `email` as `role` in `org` from `inviter`, sent now (its
    /// email is not queued); the token of its link.
    pub fn invitation(
        &self,
        org: OrganizationId,
        inviter: &User,
        email: &str,
        role: Role,
    ) -> LinkToken {
        let nonce = TokenNonce::generate();
        let token = LinkToken::derive(&self.svc.settings.token_key, &nonce);
        let (org, inviter) = (org.to_string(), inviter.id.to_string());
        let row = NewInvitation {
            id: uuid::Uuid::new_v4().to_string(),
            organization_id: &org,
            email,
            role: role.as_str(),
            message: None,
            invited_by: &inviter,
            token_nonce: &nonce.0,
            token_hash: &token.lookup_hash(),
            status: "pending",
            created_at: self.now.naive_utc(),
            expires_at: (self.now + DEFAULT_TTL).naive_utc(),
            department: None,
        };
        self.with(|c| {
            Ok(diesel::insert_into(invitations::table)
                .values(&row)
                .execute(c)?)
        });
        token
    }

    /// `domain` added by `owner` for `org` and verified with the code its email would carry.
    pub fn verified_domain(
        &self,
        owner: &Actor,
        org: OrganizationId,
        domain: &str,
    ) -> crate::domain::DomainId {
        use super::domains;
        let proof = format!("it@{domain}");
        let id = domains::add(&self.svc, owner, org, domain, &proof, self.now).unwrap();
        let code = self.domain_code(org, id);
        domains::verify(&self.svc, owner, org, id, &code, self.now).unwrap();
        id
    }

    /// The 6-digit code the latest email for the domain `id` of `org` would carry.
    pub fn domain_code(&self, org: OrganizationId, id: crate::domain::DomainId) -> String {
        let domain = self.with(|c| db::domains::find(c, org, id)).unwrap();
        crate::domain::verified_domain::VerificationCode::derive(
            &self.svc.settings.token_key,
            &domain.nonce,
        )
        .expose()
        .to_owned()
    }

    /// The kinds of the emails queued for `email`, oldest first.
    pub fn emails_to(&self, email: &str) -> Vec<String> {
        use crate::db::schema::outbox_emails;
        self.with(|c| {
            Ok(outbox_emails::table
                .filter(outbox_emails::recipient.eq(email))
                .order(outbox_emails::created_at.asc())
                .select(outbox_emails::kind)
                .load(c)?)
        })
    }

    /// The audit actions recorded for `org`, oldest first.
    pub fn audit_actions(&self, org: OrganizationId) -> Vec<String> {
        self.with(|c| {
            Ok(audit_events::table
                .filter(audit_events::organization_id.eq(org.to_string()))
                .order(audit_events::created_at.asc())
                .select(audit_events::action)
                .load::<String>(c)?)
        })
    }
}

impl Fixture {
    /// The token of the newest sign-up (or join) link mailed to `email`, as its email would
    /// carry it.
    pub fn mailed_link(&self, email: &str) -> LinkToken {
        let id: String = self.with(|c| {
            Ok(signup_requests::table
                .filter(signup_requests::email.eq(email))
                .order(signup_requests::created_at.desc())
                .select(signup_requests::id)
                .first(c)?)
        });
        let request = self.with(|c| db::signups::find(c, &id)).unwrap();
        LinkToken::derive(&self.svc.settings.token_key, &request.nonce)
    }
}

/// `user` (or nobody) visiting a link from a test request.
pub fn visitor(user: Option<&User>) -> Visitor {
    Visitor {
        user: user.cloned(),
        origin: actor_origin(),
    }
}

fn actor_origin() -> RequestMeta {
    RequestMeta {
        ip: Some("127.0.0.1".into()),
        user_agent: Some("service test".into()),
    }
}

/// `user` acting from a test request.
pub fn actor(user: User) -> Actor {
    Actor::new(user, actor_origin())
}

/// The refusal in `r`; panics on success or a storage failure.
pub fn refusal<T, R>(r: Result<T, super::ServiceError<R>>) -> R {
    match r {
        Err(super::ServiceError::Refused(why)) => why,
        Err(_) => panic!("expected a refusal, got a storage failure"),
        Ok(_) => panic!("expected a refusal, got success"),
    }
}

/// One invite entry per address of `emails`, each offered Viewer with no message.
pub fn viewer_entries(emails: &[&str]) -> Vec<crate::domain::invitation::InviteEntry> {
    emails
        .iter()
        .map(|e| crate::domain::invitation::InviteEntry {
            email: EmailAddress::parse(e).unwrap(),
            role: Role::Viewer,
            message: None,
            department: None,
        })
        .collect()
}
