//! What Joinery *is*: roles and permissions, plans, email addresses, invitation tokens and the
//! invitation state machine (DESIGN.md, "Roles and permissions" and "Invitations").
//!
//! Pure Rust: nothing here knows about HTTP, SQL or templates. Time always comes in as an
//! argument, so every rule can be unit-tested without sleeping.

pub mod api_token;
pub mod audit;
pub mod clock;
pub mod csv_import;
pub mod email;
pub mod ids;
pub mod invitation;
pub mod invite_link;
pub mod join_request;
pub mod link;
pub mod membership;
pub mod organization;
pub mod password;
pub mod plan;
pub mod role;
pub mod seats;
pub mod signup;
pub mod tenant;
pub mod text;
pub mod token;
pub mod user;
pub mod verified_domain;
pub mod webhook;

pub use clock::{Clock, ManualClock, SystemClock};
pub use email::EmailAddress;
pub use ids::{
    ApiTokenId, DomainId, InvitationId, InviteLinkId, JoinRequestId, MembershipId, OrganizationId,
    UserId, WebhookEndpointId,
};
pub use invitation::{InvitationStatus, ResendError};
pub use organization::{MemberListing, Membership, Organization};
pub use plan::Plan;
pub use role::{Permission, Role};
pub use user::{Credentials, User};
