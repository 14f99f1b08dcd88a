//! Seeding: accounts, organizations and memberships written straight to the database, and
//! browsers signed in as them.

use joinery::db;
use joinery::domain::password::{Password, hash_password};
use joinery::domain::text::{OrganizationName, PersonName};
use joinery::domain::{EmailAddress, OrganizationId, Plan, Role, UserId};

use super::{Browser, TestApp};

/// The password every seeded account gets.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Creates an account.
    pub fn create_user(&self, email: &str, name: &str) -> UserId {
        let hash = hash_password(&Password::new_account(PASSWORD).unwrap()).unwrap();
        let email = EmailAddress::parse(email).unwrap();
        let name = PersonName::parse(name).unwrap();
        let now = self.clock_now();
        self.db
            .with_conn(|c| db::users::insert(c, &email, &name, &hash, false, now))
            .unwrap()
    }

    /// Creates an organization on `plan`.
    pub fn create_org(&self, name: &str, plan: Plan) -> OrganizationId {
        let name = OrganizationName::parse(name).unwrap();
        let now = self.clock_now();
        self.db
            .with_conn(|c| db::organizations::insert(c, &name, plan, now))
            .unwrap()
            .id
    }

    /// Sets `org`'s seat limit override (`None`: the plan's default), for fixtures that need
    /// more seats than their plan gives (DESIGN.md, "Seats").
    pub fn set_seats(&self, org: OrganizationId, limit: Option<u32>) {
        self.db
            .with_conn(|c| db::seats::set_custom_limit(c, org, limit))
            .unwrap();
    }

    /// Adds a member.
    pub fn add_member(&self, org: OrganizationId, user: UserId, role: Role) {
        let now = self.clock_now();
        self.db
            .with_conn(|c| db::organizations::add_member(c, org, user, role, None, None, now))
            .unwrap();
    }

    /// An organization on `plan` with a member of `role` (email `{role}@{slug}.test`); returns
    /// the organization and a browser already logged in as that member.
    pub async fn org_with(&self, name: &str, plan: Plan, role: Role) -> (OrganizationId, Browser) {
        let org = self.create_org(name, plan);
        let slug: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_lowercase();
        let email = format!("{}@{slug}.test", role.as_str());
        let user = self.create_user(&email, &format!("{} {}", role.label(), name));
        self.add_member(org, user, role);
        let browser = self.browser();
        let page = browser.login(&email, PASSWORD).await;
        assert_eq!(page.status, 200, "login failed: {}", page.text());
        (org, browser)
    }

    /// Creates a platform staff account (password [`PASSWORD`]).
    pub fn create_staff(&self, email: &str, name: &str) -> UserId {
        let id = self.create_user(email, name);
        self.db
            .with_conn(|c| db::users::set_staff(c, id, true))
            .unwrap();
        id
    }

    /// A browser logged in as `email` (password [`PASSWORD`]).
    pub async fn logged_in(&self, email: &str) -> Browser {
        let b = self.browser();
        let page = b.login(email, PASSWORD).await;
        assert_eq!(page.status, 200, "login as {email} failed: {}", page.text());
        b
    }

    /// The id of `email`'s membership of `org`.
    pub fn membership_id(&self, org: OrganizationId, email: &str) -> joinery::domain::MembershipId {
        let email = EmailAddress::parse(email).unwrap();
        let user = self
            .query(|c| db::users::find_credentials(c, &email))
            .unwrap()
            .user
            .id;
        self.query(|c| db::organizations::membership(c, org, user))
            .unwrap()
            .id
    }

    /// `email`'s role in `org`, if a member.
    pub fn role_of(&self, org: OrganizationId, email: &str) -> Option<Role> {
        let email = EmailAddress::parse(email).unwrap();
        let user = self
            .query(|c| db::users::find_credentials(c, &email))?
            .user
            .id;
        self.query(|c| db::organizations::membership(c, org, user))
            .map(|m| m.role)
    }
}
