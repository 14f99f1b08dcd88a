//! The database schema, one definition for every backend (portable column types only).

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        is_staff -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        plan -> Text,
        created_at -> Timestamp,
        seat_limit -> Nullable<Integer>,
        restrict_to_verified_domains -> Bool,
        invitation_reminders -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    memberships (id) {
        id -> Text,
        organization_id -> Text,
        user_id -> Text,
        role -> Text,
        invited_by -> Nullable<Text>,
        notify_on_join -> Bool,
        created_at -> Timestamp,
        department -> Nullable<Text>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        organization_id -> Text,
        email -> Text,
        role -> Text,
        message -> Nullable<Text>,
        invited_by -> Text,
        token_nonce -> Text,
        token_hash -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_resent_at -> Nullable<Timestamp>,
        resend_count -> Integer,
        decided_at -> Nullable<Timestamp>,
        accepted_by -> Nullable<Text>,
        renewal_requested_at -> Nullable<Timestamp>,
        department -> Nullable<Text>,
        reminders_sent -> Integer,
        bounced_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invite_links (id) {
        id -> Text,
        organization_id -> Text,
        role -> Text,
        created_by -> Text,
        token_hash -> Text,
        status -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        approval_required -> Bool,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        organization_id -> Text,
        name -> Text,
        role -> Text,
        created_by -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        organization_id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        failing_since -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    join_requests (id) {
        id -> Text,
        organization_id -> Text,
        user_id -> Text,
        invite_link_id -> Nullable<Text>,
        domain -> Nullable<Text>,
        note -> Text,
        status -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        role -> Nullable<Text>,
    }
}

diesel::table! {
    invitation_imports (id) {
        id -> Text,
        organization_id -> Text,
        created_by -> Text,
        file_name -> Text,
        content -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        result -> Nullable<Text>,
    }
}

diesel::table! {
    tenant_invitations (id) {
        id -> Text,
        email -> Text,
        plan -> Text,
        message -> Nullable<Text>,
        invited_by -> Text,
        token_nonce -> Text,
        token_hash -> Text,
        status -> Text,
        status_reason -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_resent_at -> Nullable<Timestamp>,
        resend_count -> Integer,
        decided_at -> Nullable<Timestamp>,
        accepted_by -> Nullable<Text>,
        organization_id -> Nullable<Text>,
    }
}

diesel::table! {
    signup_requests (id) {
        id -> Text,
        email -> Text,
        token_nonce -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        invite_link_id -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        organization_id -> Nullable<Text>,
        action -> Text,
        actor_id -> Nullable<Text>,
        actor_label -> Text,
        actor_is_staff -> Bool,
        target -> Nullable<Text>,
        details -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (key_hash) {
        key_hash -> Text,
        user_id -> Nullable<Text>,
        state -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    outbox_emails (id) {
        id -> Text,
        kind -> Text,
        invitation_id -> Nullable<Text>,
        recipient -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    organization_domains (id) {
        id -> Text,
        organization_id -> Text,
        domain -> Text,
        status -> Text,
        enrollment -> Text,
        default_role -> Text,
        proof_email -> Text,
        code_nonce -> Text,
        code_sent_at -> Timestamp,
        code_expires_at -> Timestamp,
        attempts -> Integer,
        created_by -> Text,
        created_at -> Timestamp,
        verified_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(memberships -> organizations (organization_id));
diesel::joinable!(invitations -> organizations (organization_id));
diesel::joinable!(invite_links -> organizations (organization_id));
diesel::joinable!(organization_domains -> organizations (organization_id));
diesel::joinable!(join_requests -> organizations (organization_id));
diesel::joinable!(join_requests -> users (user_id));
diesel::joinable!(api_tokens -> organizations (organization_id));
diesel::joinable!(webhook_endpoints -> organizations (organization_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::table! {
    invitation_counts (organization_id, minute) {
        organization_id -> Text,
        minute -> Timestamp,
        created -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    invitation_counts,
    users,
    organizations,
    memberships,
    invitations,
    invite_links,
    invitation_imports,
    sessions,
    outbox_emails,
    tenant_invitations,
    signup_requests,
    audit_events,
    organization_domains,
    join_requests,
    api_tokens,
    webhook_endpoints,
    webhook_deliveries,
);
