//! Row structs: what a table holds (`…Row`, Queryable) and what is inserted (`New…`,
//! Insertable). Conversion into domain types happens in the query modules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invitations, memberships, organizations, outbox_emails, users};

/// A `users` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub is_staff: bool,
    pub created_at: NaiveDateTime,
}

/// A new `users` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: String,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub is_staff: bool,
    pub created_at: NaiveDateTime,
}

/// An `organizations` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct OrganizationRow {
    pub id: String,
    pub name: String,
    pub plan: String,
    pub created_at: NaiveDateTime,
}

/// A new `organizations` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization<'a> {
    pub id: String,
    pub name: &'a str,
    pub plan: &'a str,
    pub created_at: NaiveDateTime,
}

/// A `memberships` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = memberships)]
pub struct MembershipRow {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    pub role: String,
    pub invited_by: Option<String>,
    pub notify_on_join: bool,
    pub created_at: NaiveDateTime,
    pub department: Option<String>,
}

/// A new `memberships` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = memberships)]
pub struct NewMembership<'a> {
    pub id: String,
    pub organization_id: &'a str,
    pub user_id: &'a str,
    pub role: &'a str,
    pub invited_by: Option<&'a str>,
    pub notify_on_join: bool,
    pub created_at: NaiveDateTime,
    pub department: Option<&'a str>,
}

/// An `invitations` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct InvitationRow {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: String,
    pub message: Option<String>,
    pub invited_by: String,
    pub token_nonce: String,
    pub token_hash: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_resent_at: Option<NaiveDateTime>,
    pub resend_count: i32,
    pub decided_at: Option<NaiveDateTime>,
    pub accepted_by: Option<String>,
    pub renewal_requested_at: Option<NaiveDateTime>,
    pub department: Option<String>,
}

/// A new `invitations` row (always Pending).
#[derive(Debug, Insertable)]
#[diesel(table_name = invitations)]
pub struct NewInvitation<'a> {
    pub id: String,
    pub organization_id: &'a str,
    pub email: &'a str,
    pub role: &'a str,
    pub message: Option<&'a str>,
    pub invited_by: &'a str,
    pub token_nonce: &'a str,
    pub token_hash: &'a str,
    pub status: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub department: Option<&'a str>,
}

/// An `outbox_emails` row.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = outbox_emails)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub invitation_id: Option<String>,
    pub recipient: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

/// A new `outbox_emails` row (always queued).
#[derive(Debug, Insertable)]
#[diesel(table_name = outbox_emails)]
pub struct NewOutboxEmail<'a> {
    pub id: String,
    pub kind: &'a str,
    pub invitation_id: Option<&'a str>,
    pub recipient: &'a str,
    pub payload: &'a str,
    pub status: &'a str,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}
