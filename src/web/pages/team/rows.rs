//! The rows of the Team page's invitation tables and of *Join requests*, as the template
//! shows them: what the viewer may do with each (the server checks again on submit).

#[allow(clippy::wildcard_imports)]
use super::*;

/// A row of *Join requests*: who asks, when, through what, with Approve and Reject.
pub struct JoinRequestRow {
    /// Their name.
    pub name: String,
    /// Their address.
    pub email: String,
    /// "invite link", "domain example.com".
    pub via: String,
    /// Their note (empty for none).
    pub note: String,
    /// When they asked.
    pub sent: TimeView,
    /// When the request expires if nobody answers.
    pub expires: TimeView,
    /// The role the Approve form preselects (the link's, or the domain's default).
    pub suggested_role: Role,
    /// Where Approve posts.
    pub approve_path: String,
    /// GET here to confirm rejecting.
    pub reject_path: String,
    /// A unique prefix for the row's element ids.
    pub key: String,
}

/// The rows of *Join requests* for `requests` of `org` at `now`.
pub(super) fn join_request_rows(
    requests: Vec<crate::domain::join_request::JoinRequest>,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Vec<JoinRequestRow> {
    requests
        .into_iter()
        .map(|r| JoinRequestRow {
            name: r.name,
            email: r.email.to_string(),
            via: r.via.label(),
            note: r.note,
            sent: TimeView::new(r.created_at, now),
            expires: TimeView::new(r.expires_at, now),
            suggested_role: r.suggested_role,
            approve_path: paths::approve_join_request(org, r.id),
            reject_path: paths::reject_join_request(org, r.id),
            key: format!("jr-{}", r.id),
        })
        .collect()
}

pub(super) fn pending_row(
    p: InvitationListing,
    org: OrganizationId,
    viewer: Inviter,
    now: DateTime<Utc>,
) -> PendingRow {
    let inv = &p.invitation;
    // Offer only what the viewer may do (the server checks again on submit).
    let may_act = check_acting_on(viewer, inv.role).is_ok();
    let (delivery, delivery_error) = match p.delivery {
        Some(d) if inv.bounced_at.is_some() => ("bounced".to_owned(), d.last_error),
        Some(d) => {
            let label = match d.status.as_str() {
                "queued" if d.attempts > 0 => "retrying",
                "queued" => "queued",
                "sending" => "sending",
                "sent" => "sent",
                "failed" => "failed",
                _ => "not-sent",
            };
            (label.to_owned(), d.last_error)
        }
        None => ("queued".to_owned(), None),
    };
    PendingRow {
        email: inv.email.to_string(),
        role: inv.role,
        invited_by: p.inviter_name,
        sent: TimeView::new(inv.created_at, now),
        expires: TimeView::new(inv.facts.expires_at, now),
        delivery,
        delivery_error,
        resend_path: may_act.then(|| paths::relative_to_team(org, paths::resend(org, inv.id))),
        resend_available: inv
            .facts
            .resend_available_at(now)
            .map(|t| (TimeView::new(t, now), (t - now).num_seconds().max(1))),
        revoke_path: may_act.then(|| paths::relative_to_team(org, paths::revoke(org, inv.id))),
        fix_path: (may_act && inv.bounced_at.is_some())
            .then(|| paths::relative_to_team(org, paths::fix_address(org, inv.id))),
        history_path: paths::relative_to_team(org, paths::invitation_history(org, inv.id)),
    }
}

pub(super) fn history_row(
    h: InvitationListing,
    org: OrganizationId,
    viewer: Inviter,
    live: &HashSet<String>,
    now: DateTime<Utc>,
) -> HistoryRow {
    let inv = &h.invitation;
    let status = inv.facts.effective_status(now);
    let when = inv.decided_at.unwrap_or(inv.facts.expires_at);
    // An expired invitation whose address already has a newer pending one offers no resend.
    // Nor one whose role is above the viewer's own.
    let resend_path = (status == InvitationStatus::Expired
        && !live.contains(inv.email.as_str())
        && check_acting_on(viewer, inv.role).is_ok())
    .then(|| paths::relative_to_team(org, paths::resend(org, inv.id)));
    HistoryRow {
        history_path: paths::relative_to_team(org, paths::invitation_history(org, inv.id)),
        email: inv.email.to_string(),
        role: inv.role,
        invited_by: h.inviter_name,
        status: status.label().to_owned(),
        reason: inv.status_reason.clone(),
        when: TimeView::new(when, now),
        // Once a new invitation is pending the request has been answered.
        renewal_requested: inv
            .renewal_requested_at
            .filter(|_| resend_path.is_some())
            .map(|at| TimeView::new(at, now)),
        resend_path,
    }
}
