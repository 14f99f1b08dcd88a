//! Carrying out one invite submission (`Sending`): expiring the entries' overdue invitations,
//! resends, replacements and creations, and their audit events, in the caller's transaction.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Who sends a submission, where and when: what writing it needs.
pub(crate) struct Sending<'a> {
    ctx: AuditContext,
    batch: InviteBatch,
    svc: &'a Services,
}

impl<'a> Sending<'a> {
    /// `actor` sending in `acting`'s organization at `now`.
    pub(crate) fn new(
        svc: &'a Services,
        actor: &Actor,
        acting: &Acting,
        now: DateTime<Utc>,
    ) -> Self {
        Sending {
            ctx: acting.audit(actor),
            batch: batch(svc, actor, acting.org.id, now),
            svc,
        }
    }

    /// The same submission, emailing its invitations or not (the JSON API's `"send_email":
    /// false`: the caller delivers the links).
    pub(crate) fn emailing(mut self, send_email: bool) -> Self {
        self.batch.send_email = send_email;
        self
    }

    /// Carries out `plans` (one per entry, as [`plan_batch`] made them from `existing`):
    /// writes Expired onto the entries' overdue invitations first (one pending invitation per
    /// address is stored), resends, replaces and creates, and records every event. Returns each entry's
    /// outcome. A few dozen statements for 1,000 addresses: multi-row INSERTs for the new
    /// invitations, their emails and their audit events.
    pub(crate) fn carry_out(
        &self,
        c: &mut Conn,
        entries: &[InviteEntry],
        existing: &Existing,
        plans: &[InvitePlan],
    ) -> std::result::Result<Vec<AddressOutcome>, DbError> {
        let (org, now) = (self.batch.organization, self.batch.now);
        let sending: HashSet<&EmailAddress> = entries.iter().map(|e| &e.email).collect();
        let overdue: Vec<_> = existing
            .overdue(now)
            .into_iter()
            .filter(|(email, _)| sending.contains(email))
            .collect();
        if !overdue.is_empty() {
            db::invitations::expire_overdue(c, org, &overdue, now)?;
        }
        let mut outcomes = Vec::with_capacity(entries.len());
        let mut creations = Vec::new();
        let mut events: Vec<(AuditAction, &str, String)> = Vec::new();
        for (entry, plan) in entries.iter().zip(plans) {
            let (email, role) = (&entry.email, entry.role);
            let outcome = match *plan {
                InvitePlan::New => AddressOutcome::Sent,
                InvitePlan::ResendExisting(id) => {
                    let send = self.batch.send_email;
                    if db::invitations::mark_resent(c, id, email, send, now)? {
                        let details = format!("role {role}; the same link again (invited again)");
                        events.push((AuditAction::InvitationResent, email.as_str(), details));
                        AddressOutcome::Resent
                    } else {
                        plan.outcome_when_lost(is_member(c, org, email)?)
                    }
                }
                InvitePlan::ReplaceExisting(id) => {
                    if db::invitations::end(c, id, Ending::Revoked("replaced"), now)? {
                        let was = existing
                            .pending
                            .get(email)
                            .map_or("another role", |p| p.role.label());
                        let details = format!("replaced: role {was} → {role}");
                        events.push((AuditAction::InvitationRevoked, email.as_str(), details));
                        AddressOutcome::Sent
                    } else {
                        plan.outcome_when_lost(is_member(c, org, email)?)
                    }
                }
                InvitePlan::Skip(reason) => AddressOutcome::Skipped(reason),
            };
            if outcome == AddressOutcome::Sent {
                creations.push(Creation::from(entry));
                let details = format!("role {role}");
                events.push((AuditAction::InvitationSent, email.as_str(), details));
            }
            outcomes.push(outcome);
        }
        let token_key = &self.svc.settings.token_key;
        db::invitations::create_all(c, &self.batch, &creations, token_key)?;
        audit::record_many(c, &self.ctx, Some(org), &events, now)?;
        Ok(outcomes)
    }
}

/// New invitations of `org` sent by `actor` at `now`, usable for the configured lifetime.
pub(super) fn batch(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> InviteBatch {
    InviteBatch {
        organization: org,
        inviter: actor.user.id,
        ttl: svc.settings.invitation_ttl,
        now,
        send_email: true,
    }
}

fn is_member(
    c: &mut Conn,
    org: OrganizationId,
    email: &EmailAddress,
) -> std::result::Result<bool, DbError> {
    db::organizations::is_member_by_email(c, org, email)
}
