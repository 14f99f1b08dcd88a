DELETE FROM outbox_emails WHERE kind = 'domain_code';
ALTER TABLE outbox_emails ADD CONSTRAINT outbox_emails_kind_check CHECK (kind IN ('invitation', 'member_joined', 'tenant_invitation', 'signup', 'signup_existing', 'renewal_request'));
