//! Row structs: what a table holds (`…Row`, Queryable) and what is inserted (`New…`,
//! Insertable), both declared from one field list per table (`row_structs!`). Conversion into
//! domain types happens in the query modules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{invitations, memberships, organizations, outbox_emails, users};

/// Declares, per table, its row struct (every column, as stored; Queryable, Selectable) and
/// its insert struct `New…<'a>` (STYLE.md, habit 6). Every table starts with its `Text` id,
/// inserted as given (STYLE.md, habits 4 and 7), so `id: String` is not written; a field
/// written `name: Row => New` is inserted with type `New`, a field without `=> New` is only
/// read (defaults, later updates).
macro_rules! row_structs {
    ($(
        $(#[$new_doc:meta])*
        $row:ident $(+ $derive:ident)*, $new:ident for $table:ident { $($fields:tt)* }
    )*) => {$(
        row_structs!(
            @row [#[doc = concat!("A `", stringify!($table), "` row.")]]
            $row [$($derive)*] $table [pub id: String,] $($fields)*
        );
        row_structs!(@new [$(#[$new_doc])*] $new $table [pub id: String,] $($fields)*);
    )*};
    (@row [$($doc:tt)*] $row:ident [$($derive:ident)*] $table:ident [$($done:tt)*]) => {
        $($doc)*
        #[derive(Debug, Clone, Queryable, Selectable $(, $derive)*)]
        #[diesel(table_name = $table)]
        pub struct $row { $($done)* }
    };
    (@row $doc:tt $row:ident $derive:tt $table:ident [$($done:tt)*]
        $field:ident: $ty:ty $(=> $new_ty:ty)?, $($rest:tt)*) => {
        row_structs!(@row $doc $row $derive $table [$($done)* pub $field: $ty,] $($rest)*);
    };
    (@new [$($doc:tt)*] $new:ident $table:ident [$($done:tt)*]) => {
        $($doc)*
        #[derive(Debug, Insertable)]
        #[diesel(table_name = $table)]
        pub struct $new<'a> { $($done)* }
    };
    (@new $doc:tt $new:ident $table:ident [$($done:tt)*]
        $field:ident: $ty:ty => $new_ty:ty, $($rest:tt)*) => {
        row_structs!(@new $doc $new $table [$($done)* pub $field: $new_ty,] $($rest)*);
    };
    (@new $doc:tt $new:ident $table:ident [$($done:tt)*]
        $field:ident: $ty:ty, $($rest:tt)*) => {
        row_structs!(@new $doc $new $table [$($done)*] $($rest)*);
    };
}

row_structs! {
    /// A new `users` row.
    UserRow, NewUser for users {
        email: String => &'a str,
        name: String => &'a str,
        password_hash: String => &'a str,
        is_staff: bool => bool,
        created_at: NaiveDateTime => NaiveDateTime,
    }
    /// A new `organizations` row.
    OrganizationRow, NewOrganization for organizations {
        name: String => &'a str,
        plan: String => &'a str,
        created_at: NaiveDateTime => NaiveDateTime,
        version: i64,
    }
    /// A new `memberships` row.
    MembershipRow, NewMembership for memberships {
        organization_id: String => &'a str,
        user_id: String => &'a str,
        role: String => &'a str,
        invited_by: Option<String> => Option<&'a str>,
        notify_on_join: bool => bool,
        created_at: NaiveDateTime => NaiveDateTime,
        department: Option<String> => Option<&'a str>,
    }
    /// A new `invitations` row (always Pending).
    InvitationRow, NewInvitation for invitations {
        organization_id: String => &'a str,
        email: String => &'a str,
        role: String => &'a str,
        message: Option<String> => Option<&'a str>,
        invited_by: String => &'a str,
        token_nonce: String => &'a str,
        token_hash: String => &'a str,
        status: String => &'a str,
        status_reason: Option<String>,
        created_at: NaiveDateTime => NaiveDateTime,
        expires_at: NaiveDateTime => NaiveDateTime,
        last_resent_at: Option<NaiveDateTime>,
        resend_count: i32,
        decided_at: Option<NaiveDateTime>,
        accepted_by: Option<String>,
        renewal_requested_at: Option<NaiveDateTime>,
        department: Option<String> => Option<&'a str>,
        bounced_at: Option<NaiveDateTime>,
    }
    /// A new `outbox_emails` row (always queued).
    OutboxRow + QueryableByName, NewOutboxEmail for outbox_emails {
        kind: String => &'a str,
        invitation_id: Option<String> => Option<&'a str>,
        recipient: String => &'a str,
        payload: String => &'a str,
        status: String => &'a str,
        attempts: i32 => i32,
        next_attempt_at: NaiveDateTime => NaiveDateTime,
        locked_until: Option<NaiveDateTime>,
        last_error: Option<String>,
        created_at: NaiveDateTime => NaiveDateTime,
        sent_at: Option<NaiveDateTime>,
    }
}
pub(crate) use row_structs;
