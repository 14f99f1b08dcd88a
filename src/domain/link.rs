//! The one core of the kinds of link Joinery mails or hands out (DESIGN.md, "Invitations" and
//! "The acceptance page"; STYLE.md, habit 16): a member invitation, a tenant-owner invitation,
//! an invite link, a sign-up link and a join link (a sign-up link mailed from an invite link).
//!
//! Each kind keeps its token scheme (`token::LinkToken::derive` from a stored nonce, or
//! `LinkToken::generate` for invite links, whose token is shown once), and they share one
//! token type, one look-up by token hash (`db::links::find`), one typed path extractor
//! (`web::links::LinkPath`), and this module's decision: which page a visitor of a usable
//! link sees ([`page`]), and what an unusable one says ([`LinkUnusable`]).

use super::invitation::InvitationDetails;
use super::invite_link::InviteLinkDetails;
use super::signup::SignupRequest;
use super::tenant::TenantInvitation;
use super::{EmailAddress, Role};

/// A link found by its token, of whichever kind.
#[derive(Debug, Clone)]
pub enum Link {
    /// A member invitation, with its organization and inviter.
    MemberInvitation(InvitationDetails),
    /// A tenant-owner invitation.
    TenantInvitation(TenantInvitation),
    /// An invite link, with its organization and creator.
    InviteLink(InviteLinkDetails),
    /// A mailed sign-up link (a join link when it carries an invite link).
    Signup(SignupRequest),
}

impl Link {
    /// Its kind.
    pub fn kind(&self) -> LinkKind {
        match self {
            Link::MemberInvitation(_) => LinkKind::MemberInvitation,
            Link::TenantInvitation(_) => LinkKind::TenantInvitation,
            Link::InviteLink(_) => LinkKind::InviteLink,
            Link::Signup(request) if request.invite_link_id.is_some() => LinkKind::JoinLink,
            Link::Signup(_) => LinkKind::SignupLink,
        }
    }
}

/// The kinds of link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// An invitation to join an organization, sent to one address.
    MemberInvitation,
    /// A staff invitation to create an organization, sent to one address.
    TenantInvitation,
    /// A link to join an organization, bound to no address, used once.
    InviteLink,
    /// A sign-up link: proves an address, then creates an account and a Trial organization.
    SignupLink,
    /// A sign-up link mailed from an invite link: proves the address, then joins through it.
    JoinLink,
}

impl LinkKind {
    /// Whether the link names the address it was sent to (everything but an invite link).
    pub fn names_address(self) -> bool {
        self != LinkKind::InviteLink
    }

    /// Whether its page tells a visitor who is already a member so (the link stays unused),
    /// rather than leaving that to the accept step.
    fn tells_members(self) -> bool {
        matches!(self, LinkKind::InviteLink | LinkKind::JoinLink)
    }

    /// What the kind is called in headings: "invitation", "invite link", "sign-up link".
    pub fn noun(self) -> &'static str {
        match self {
            LinkKind::MemberInvitation | LinkKind::TenantInvitation => "invitation",
            LinkKind::InviteLink => "invite link",
            LinkKind::SignupLink | LinkKind::JoinLink => "sign-up link",
        }
    }
}

/// Why a link can no longer be used (its page answers 410).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkUnusable {
    /// Past its expiry (a fact of time, swept or not).
    Expired,
    /// Revoked by a person, replaced, or because whoever made it may no longer grant it.
    Revoked,
    /// Already used (single use).
    Used,
    /// Declined by the invitee.
    Declined,
}

impl LinkUnusable {
    /// Why a link is unusable after a conditional update on it lost to another request:
    /// `check`, its usability re-read now, or [`LinkUnusable::Used`] when it still looks
    /// usable (the winner used it).
    pub fn after_lost_race(check: Result<(), LinkUnusable>) -> LinkUnusable {
        check.err().unwrap_or(LinkUnusable::Used)
    }

    /// The heading of the page, e.g. "This invitation has expired".
    pub fn title(self, kind: LinkKind) -> String {
        let noun = kind.noun();
        match self {
            LinkUnusable::Expired => format!("This {noun} has expired"),
            LinkUnusable::Revoked => format!("This {noun} has been revoked"),
            LinkUnusable::Used => format!("This {noun} has already been used"),
            LinkUnusable::Declined => format!("This {noun} was declined"),
        }
    }

    /// What the person can do about it, naming `organization` (and nothing else about it)
    /// where the kind has one.
    pub fn advice(self, kind: LinkKind, organization: &str) -> String {
        use LinkKind as K;
        use LinkUnusable as U;
        match (kind, self) {
            (K::MemberInvitation | K::TenantInvitation, U::Expired) => {
                "Ask the person who invited you to send a new invitation.".into()
            }
            (K::MemberInvitation | K::TenantInvitation, U::Revoked) => {
                "The person who invited you withdrew it. Ask them if you think this is a mistake."
                    .into()
            }
            (K::MemberInvitation | K::TenantInvitation, U::Used) => {
                "Each invitation link works once. Log in to reach the organization.".into()
            }
            (K::MemberInvitation | K::TenantInvitation, U::Declined) => {
                "If you changed your mind, ask for a new invitation.".into()
            }
            (K::InviteLink, why) => {
                let why = match why {
                    U::Expired => "Invite links work for a limited time.",
                    U::Used => "Each invite link works once.",
                    U::Revoked | U::Declined => "It was withdrawn.",
                };
                format!("{why} Ask {organization}'s admin for a new one.")
            }
            (K::SignupLink, U::Used) => {
                "Each sign-up link works once. If you created your account with it, log in.".into()
            }
            (K::SignupLink, _) => {
                "Sign-up links work for 24 hours. Sign up again to get a new link.".into()
            }
            (K::JoinLink, U::Used) => {
                "Each of these links works once. If you joined with it, log in.".into()
            }
            (K::JoinLink, _) => {
                "These links work for 24 hours at most. Open the invite link again to get a new one."
                    .into()
            }
        }
    }
}

/// Who is looking at a link's page.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    /// The signed-in person's email and their role in the link's organization (if a member);
    /// `None` when nobody is signed in.
    pub signed_in: Option<(&'a EmailAddress, Option<Role>)>,
    /// Whether an account has the link's address (for kinds that name one).
    pub address_has_account: bool,
}

/// The page a visitor of a link sees: exactly one of these (DESIGN.md, "The acceptance page").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPage {
    /// Signed out, and no account has the address: name and password (and what the kind asks
    /// besides, such as a company name) → "Create account & …".
    NewAccount,
    /// Signed out, and an account has the address: "Log in as {email} to …", password.
    LogIn,
    /// Signed out, on a link bound to no address: give an email address to be sent a link
    /// (or log in).
    AskEmail,
    /// Signed in as the person the link is for: one click (and "Decline" for invitations).
    Confirm,
    /// Signed in as another account: "… does not match your account", with "Log out".
    WrongAccount,
    /// Signed in, already a member with this role: said so; the link stays unused.
    AlreadyMember(Role),
    /// A sign-up link whose address has an account by now: log in instead.
    AccountExists,
    /// The link can no longer be used; `kind` is whose wording applies (a join link's page
    /// may speak of the invite link it came from).
    Unusable {
        /// The kind the reason is about.
        kind: LinkKind,
        /// Why.
        why: LinkUnusable,
    },
}

/// Which page a visit of a `kind` link addressed to `address` (when the kind names one) shows,
/// given whether it is `usable` now (the kind's own facts decide that: expiry, state, the
/// creator's standing). Reads nothing and changes nothing: opening a link is a GET.
pub fn page(
    kind: LinkKind,
    usable: Result<(), (LinkKind, LinkUnusable)>,
    address: Option<&EmailAddress>,
    visit: Visit<'_>,
) -> LinkPage {
    if let Err((kind, why)) = usable {
        return LinkPage::Unusable { kind, why };
    }
    if kind == LinkKind::SignupLink {
        // Sign-up creates an account for the address, whoever is signed in now.
        return if visit.address_has_account {
            LinkPage::AccountExists
        } else {
            LinkPage::NewAccount
        };
    }
    match (visit.signed_in, address) {
        (None, None) => LinkPage::AskEmail,
        (None, Some(_)) if visit.address_has_account => LinkPage::LogIn,
        (None, Some(_)) => LinkPage::NewAccount,
        (Some((email, _)), Some(address)) if email != address => LinkPage::WrongAccount,
        (Some((_, Some(role))), _) if kind.tells_members() => LinkPage::AlreadyMember(role),
        (Some(_), _) => LinkPage::Confirm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn visit(signed_in: Option<(&EmailAddress, Option<Role>)>, exists: bool) -> Visit<'_> {
        Visit {
            signed_in,
            address_has_account: exists,
        }
    }

    #[test]
    fn an_invitation_shows_exactly_one_of_the_four_branches() {
        let invited = email("ann@example.com");
        let other = email("bob@example.com");
        let k = LinkKind::MemberInvitation;
        let at = Some(&invited);
        assert_eq!(
            page(k, Ok(()), at, visit(None, false)),
            LinkPage::NewAccount
        );
        assert_eq!(page(k, Ok(()), at, visit(None, true)), LinkPage::LogIn);
        assert_eq!(
            page(k, Ok(()), at, visit(Some((&invited, None)), true)),
            LinkPage::Confirm
        );
        // A member already is told at acceptance (their role is kept), not on the page.
        assert_eq!(
            page(
                k,
                Ok(()),
                at,
                visit(Some((&invited, Some(Role::Admin))), true)
            ),
            LinkPage::Confirm
        );
        assert_eq!(
            page(k, Ok(()), at, visit(Some((&other, None)), true)),
            LinkPage::WrongAccount
        );
        assert_eq!(
            page(k, Err((k, LinkUnusable::Declined)), at, visit(None, false)),
            LinkPage::Unusable {
                kind: k,
                why: LinkUnusable::Declined
            }
        );
    }

    #[test]
    fn an_invite_link_asks_for_an_email_and_tells_members() {
        let me = email("ann@example.com");
        let k = LinkKind::InviteLink;
        assert_eq!(
            page(k, Ok(()), None, visit(None, false)),
            LinkPage::AskEmail
        );
        assert_eq!(
            page(k, Ok(()), None, visit(Some((&me, None)), true)),
            LinkPage::Confirm
        );
        assert_eq!(
            page(
                k,
                Ok(()),
                None,
                visit(Some((&me, Some(Role::Editor))), true)
            ),
            LinkPage::AlreadyMember(Role::Editor)
        );
    }

    #[test]
    fn a_join_link_is_for_its_address_only_and_tells_members() {
        let proved = email("ann@example.com");
        let other = email("bob@example.com");
        let k = LinkKind::JoinLink;
        let at = Some(&proved);
        assert_eq!(
            page(k, Ok(()), at, visit(None, false)),
            LinkPage::NewAccount
        );
        assert_eq!(page(k, Ok(()), at, visit(None, true)), LinkPage::LogIn);
        assert_eq!(
            page(
                k,
                Ok(()),
                at,
                visit(Some((&proved, Some(Role::Viewer))), true)
            ),
            LinkPage::AlreadyMember(Role::Viewer)
        );
        assert_eq!(
            page(
                k,
                Ok(()),
                at,
                visit(Some((&other, Some(Role::Viewer))), true)
            ),
            LinkPage::WrongAccount
        );
        // The invite link it came from was used meanwhile: its wording.
        assert_eq!(
            page(
                k,
                Err((LinkKind::InviteLink, LinkUnusable::Used)),
                at,
                visit(None, false)
            ),
            LinkPage::Unusable {
                kind: LinkKind::InviteLink,
                why: LinkUnusable::Used
            }
        );
    }

    #[test]
    fn a_sign_up_link_creates_an_account_unless_one_exists_by_now() {
        let proved = email("ann@example.com");
        let other = email("bob@example.com");
        let k = LinkKind::SignupLink;
        let at = Some(&proved);
        assert_eq!(
            page(k, Ok(()), at, visit(None, false)),
            LinkPage::NewAccount
        );
        assert_eq!(
            page(k, Ok(()), at, visit(Some((&other, None)), false)),
            LinkPage::NewAccount
        );
        assert_eq!(
            page(k, Ok(()), at, visit(None, true)),
            LinkPage::AccountExists
        );
    }

    #[test]
    fn unusable_links_say_why_in_their_kinds_words() {
        assert_eq!(
            LinkUnusable::Used.title(LinkKind::MemberInvitation),
            "This invitation has already been used"
        );
        assert_eq!(
            LinkUnusable::Expired.title(LinkKind::SignupLink),
            "This sign-up link has expired"
        );
        assert_eq!(
            LinkUnusable::Revoked.advice(LinkKind::InviteLink, "Acme"),
            "It was withdrawn. Ask Acme's admin for a new one."
        );
    }
}
