//! Where the service layer's refusals become statuses and pages: each refusal type says which
//! kind of [`Rejection`] it is (the status policy of DESIGN.md, "Security rules"), and
//! [`AppError`] renders that kind. Pages that show a refusal beside a form field match the
//! refusal first and fall back to this.

use actix_web::http::StatusCode;

use super::error::{AppError, Rejection};
use crate::domain::ResendError;
use crate::domain::csv_import::FileError;
use crate::service::acceptance::{InvitationRefusal, NoSuchInvitation, Refused};
use crate::service::api_tokens::{ApiAuthRefusal, ApiTokenRefusal};
use crate::service::csv_import::ImportRefusal;
use crate::service::domains::{DomainJoinRefusal, DomainRefusal};
use crate::service::invitations::InvitationRefusal as SendRefusal;
use crate::service::invite_links::InviteLinkRefusal;
use crate::service::invite_links::join::{JoinProblem, JoinRefusal};
use crate::service::join_requests::{JoinRequestRefusal, RequestRefusal};
use crate::service::members::MemberRefusal;
use crate::service::organizations::OrgRefusal;
use crate::service::signup::{SignupProblem, SignupRefusal};
use crate::service::staff::{NotStaff, StaffRefusal};
use crate::service::tenants::TenantRefusal;
use crate::service::webhooks::WebhookRefusal;
use crate::service::{NoStanding, ServiceError};

/// What the password threads' refusal says (every thread busy, the queue full).
pub const PASSWORDS_BUSY: &str =
    "Too many sign-ins are being checked right now. Wait a moment and try again.";

/// A refusal of the service layer, as the status policy classifies it.
pub trait Refusal: std::fmt::Display {
    /// The kind of refusal: its status and page.
    fn rejection(&self) -> Rejection;

    /// For a rate limit: seconds until a retry may succeed.
    fn retry_after(&self) -> Option<u64> {
        None
    }
}

impl<R: Refusal> From<ServiceError<R>> for AppError {
    fn from(e: ServiceError<R>) -> Self {
        match e {
            ServiceError::Refused(r) => {
                AppError::rejected(r.rejection(), r.to_string(), r.retry_after())
            }
            ServiceError::Storage(e) => AppError::Internal(e.into()),
            ServiceError::PasswordsBusy => AppError::too_many(PASSWORDS_BUSY, 1),
        }
    }
}

/// An operation that refuses nothing (a read): only its machinery can fail.
impl Refusal for std::convert::Infallible {
    fn rejection(&self) -> Rejection {
        match *self {}
    }
}

/// The refusal in `e` with its status (the policy's), for a page that shows it beside its
/// form; anything else becomes its error page.
///
/// # Errors
/// The [`AppError`] of a failure of the machinery.
pub fn shown<R: Refusal>(e: ServiceError<R>) -> Result<(R, StatusCode), AppError> {
    match e {
        ServiceError::Refused(refusal) => {
            let status = refusal.rejection().status();
            Ok((refusal, status))
        }
        other => Err(other.into()),
    }
}

impl Refusal for NoStanding {
    fn rejection(&self) -> Rejection {
        match self {
            // Never say whether the organization exists (DESIGN.md: a 404).
            NoStanding::NoSuchOrganization => Rejection::NotFound,
            NoStanding::NotAMember => Rejection::Forbidden,
        }
    }
}

impl Refusal for MemberRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            MemberRefusal::NoStanding(e) => e.rejection(),
            MemberRefusal::NotFound => Rejection::NotFound,
            MemberRefusal::NotAMember | MemberRefusal::Denied(_) => Rejection::Forbidden,
        }
    }
}

impl Refusal for OrgRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            OrgRefusal::NoStanding(e) => e.rejection(),
            OrgRefusal::NotPermitted(_) | OrgRefusal::StaffWithoutMembership => {
                Rejection::Forbidden
            }
        }
    }
}

impl Refusal for NoSuchInvitation {
    fn rejection(&self) -> Rejection {
        Rejection::NotFound
    }
}

impl Refusal for Refused {
    fn rejection(&self) -> Rejection {
        match self {
            Refused::Unusable(_) => Rejection::LinkUnusable,
            Refused::WrongAccount => Rejection::Forbidden,
            Refused::Invalid { .. } => Rejection::Invalid,
            Refused::WrongPassword => Rejection::WrongPassword,
        }
    }
}

impl<L: std::fmt::Debug> Refusal for InvitationRefusal<L> {
    fn rejection(&self) -> Rejection {
        match self {
            InvitationRefusal::NotFound => Rejection::NotFound,
            InvitationRefusal::Shown { why, .. } => why.rejection(),
        }
    }
}

impl Refusal for NotStaff {
    fn rejection(&self) -> Rejection {
        // The console is not advertised: a 404 for everyone else.
        Rejection::NotFound
    }
}

impl Refusal for StaffRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            StaffRefusal::NotStaff(e) => e.rejection(),
            StaffRefusal::NoSuchOrganization => Rejection::NotFound,
        }
    }
}

impl Refusal for TenantRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            TenantRefusal::NotStaff(e) => e.rejection(),
            TenantRefusal::NotFound => Rejection::NotFound,
            TenantRefusal::NotSent(_) => Rejection::Invalid,
            TenantRefusal::TooSoon { .. } => Rejection::RateLimited,
            TenantRefusal::NotResent(_) | TenantRefusal::NotRevoked(_) => Rejection::FinalState,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            TenantRefusal::TooSoon { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

impl Refusal for SendRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            SendRefusal::NoStanding(e) => e.rejection(),
            SendRefusal::NotFound => Rejection::NotFound,
            SendRefusal::Denied(_)
            | SendRefusal::ActOn(..)
            | SendRefusal::AllAboveYourRole(_)
            | SendRefusal::AllOutsideVerifiedDomains(_)
            | SendRefusal::NoFreeSeats(_) => Rejection::Forbidden,
            SendRefusal::OverHourlyLimit { .. } => Rejection::RateLimited,
            SendRefusal::Resend { refused, .. } => match refused {
                ResendError::TooSoon { .. } | ResendError::OverHourlyLimit(_) => {
                    Rejection::RateLimited
                }
                ResendError::Final(_) | ResendError::Superseded => Rejection::FinalState,
            },
            SendRefusal::NotPending(_) => Rejection::FinalState,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            SendRefusal::OverHourlyLimit { retry_after, .. }
            | SendRefusal::Resend {
                retry_after,
                refused: ResendError::TooSoon { .. } | ResendError::OverHourlyLimit(_),
                ..
            } => Some(*retry_after),
            _ => None,
        }
    }
}

impl Refusal for ImportRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            ImportRefusal::NoStanding(e) => e.rejection(),
            ImportRefusal::NotFound => Rejection::NotFound,
            ImportRefusal::Denied(_) | ImportRefusal::NoFreeSeats { .. } => Rejection::Forbidden,
            ImportRefusal::NoFile => Rejection::Invalid,
            ImportRefusal::File(FileError::TooLarge) => Rejection::TooLarge,
            ImportRefusal::File(_) => Rejection::Invalid,
            ImportRefusal::PlanChanged(_) => Rejection::FinalState,
            ImportRefusal::OverHourlyLimit { .. } => Rejection::RateLimited,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ImportRefusal::OverHourlyLimit { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl Refusal for InviteLinkRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            InviteLinkRefusal::NoStanding(e) => e.rejection(),
            InviteLinkRefusal::NotFound => Rejection::NotFound,
            InviteLinkRefusal::Denied(_)
            | InviteLinkRefusal::ActOn(_)
            | InviteLinkRefusal::NoFreeSeats(_) => Rejection::Forbidden,
            InviteLinkRefusal::OverLimit { .. } => Rejection::RateLimited,
            InviteLinkRefusal::NothingToRevoke(_) => Rejection::FinalState,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            InviteLinkRefusal::OverLimit { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl Refusal for JoinRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            JoinRefusal::NotFound => Rejection::NotFound,
            JoinRefusal::Refused { problem, .. } => match problem {
                JoinProblem::Unusable => Rejection::LinkUnusable,
                JoinProblem::WrongAccount
                | JoinProblem::NoFreeSeats(_)
                | JoinProblem::OutsideVerifiedDomains(_) => Rejection::Forbidden,
                JoinProblem::AlreadyMember | JoinProblem::EmailTaken => Rejection::FinalState,
                JoinProblem::InvalidEmail(_)
                | JoinProblem::InvalidAccount { .. }
                | JoinProblem::InvalidNote(_) => Rejection::Invalid,
                JoinProblem::WrongPassword => Rejection::WrongPassword,
            },
        }
    }
}

impl Refusal for SignupRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            SignupRefusal::NotFound => Rejection::NotFound,
            SignupRefusal::SignUp { problem, .. } => match problem {
                SignupProblem::Unusable => Rejection::LinkUnusable,
                SignupProblem::AccountExists => Rejection::FinalState,
                SignupProblem::Invalid { .. } => Rejection::Invalid,
            },
            SignupRefusal::Join(refusal) => refusal.rejection(),
        }
    }
}

impl Refusal for DomainRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            DomainRefusal::NoStanding(e) => e.rejection(),
            DomainRefusal::NotFound => Rejection::NotFound,
            DomainRefusal::NotPermitted | DomainRefusal::VerifiedElsewhere(_) => {
                Rejection::Forbidden
            }
            DomainRefusal::InvalidDomain(_)
            | DomainRefusal::InvalidProofEmail(_)
            | DomainRefusal::AlreadyVerified(_)
            | DomainRefusal::MalformedCode(_)
            | DomainRefusal::Code(_)
            | DomainRefusal::NoVerifiedDomain => Rejection::Invalid,
            DomainRefusal::CodeSentRecently { .. } => Rejection::RateLimited,
            DomainRefusal::NotPending | DomainRefusal::NotVerified => Rejection::FinalState,
            // The form offers Viewer to Editor only: a higher role is a forged value.
            DomainRefusal::RoleTooHigh(_) => Rejection::Malformed,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            DomainRefusal::CodeSentRecently { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

impl Refusal for DomainJoinRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            DomainJoinRefusal::NotOffered => Rejection::NotFound,
            DomainJoinRefusal::AlreadyMember(_) => Rejection::FinalState,
            DomainJoinRefusal::NoFreeSeats(_) => Rejection::Forbidden,
        }
    }
}

impl Refusal for RequestRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            RequestRefusal::NotOffered => Rejection::NotFound,
            RequestRefusal::AlreadyMember(_) => Rejection::FinalState,
            RequestRefusal::OutsideVerifiedDomains(_) => Rejection::Forbidden,
            RequestRefusal::InvalidNote(_) => Rejection::Invalid,
        }
    }
}

impl Refusal for JoinRequestRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            JoinRequestRefusal::NoStanding(e) => e.rejection(),
            JoinRequestRefusal::NotFound => Rejection::NotFound,
            JoinRequestRefusal::NotPermitted
            | JoinRequestRefusal::Denied(_)
            | JoinRequestRefusal::NoFreeSeats(_)
            | JoinRequestRefusal::OutsideVerifiedDomains(_)
            | JoinRequestRefusal::DomainNoLongerOffered(_) => Rejection::Forbidden,
            JoinRequestRefusal::Closed(_) | JoinRequestRefusal::AlreadyMember(_) => {
                Rejection::FinalState
            }
        }
    }
}

impl Refusal for ApiTokenRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            ApiTokenRefusal::NoStanding(e) => e.rejection(),
            ApiTokenRefusal::NotFound => Rejection::NotFound,
            ApiTokenRefusal::NotPermitted | ApiTokenRefusal::AboveCeiling(_) => {
                Rejection::Forbidden
            }
            ApiTokenRefusal::InvalidName(_) => Rejection::Invalid,
            ApiTokenRefusal::AlreadyRevoked => Rejection::FinalState,
        }
    }
}

impl Refusal for ApiAuthRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            // 401, as a wrong password is.
            ApiAuthRefusal::Unauthorized => Rejection::WrongPassword,
            ApiAuthRefusal::OtherOrganization => Rejection::NotFound,
        }
    }
}

impl Refusal for WebhookRefusal {
    fn rejection(&self) -> Rejection {
        match self {
            WebhookRefusal::NoStanding(e) => e.rejection(),
            WebhookRefusal::NotFound => Rejection::NotFound,
            WebhookRefusal::NotPermitted => Rejection::Forbidden,
            WebhookRefusal::Url(_) | WebhookRefusal::NoEvents => Rejection::Invalid,
        }
    }
}
