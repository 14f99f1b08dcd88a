//! Typed identifiers, so a `UserId` can never be passed where an `OrganizationId` is meant.
//! All are random UUIDs (v4), stored as their hyphenated text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random identifier.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            /// Parses the hyphenated UUID form; anything else is an error (a 404 at the edge).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a person's account.
    UserId
);
id_type!(
    /// Identifies an organization (a tenant).
    OrganizationId
);
id_type!(
    /// Identifies a person's membership of one organization.
    MembershipId
);
id_type!(
    /// Identifies an invitation.
    InvitationId
);
id_type!(
    /// Identifies a self-serve sign-up request (one emailed link).
    SignupRequestId
);
id_type!(
    /// Identifies an invite link.
    InviteLinkId
);
id_type!(
    /// Identifies one organization's claim on an email domain (pending or verified).
    DomainId
);
id_type!(
    /// Identifies a request to join an organization.
    JoinRequestId
);
id_type!(
    /// Identifies an API token.
    ApiTokenId
);
id_type!(
    /// Identifies a webhook endpoint.
    WebhookEndpointId
);
