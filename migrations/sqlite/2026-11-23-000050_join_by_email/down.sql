-- SQLite cannot drop a column that a foreign key uses: rebuild the table as it was.
CREATE TABLE signup_requests_before (
    id          TEXT PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL,
    token_nonce TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
INSERT INTO signup_requests_before (id, email, token_nonce, token_hash, created_at, expires_at, used_at)
    SELECT id, email, token_nonce, token_hash, created_at, expires_at, used_at FROM signup_requests;
DROP TABLE signup_requests;
ALTER TABLE signup_requests_before RENAME TO signup_requests;
CREATE INDEX signup_requests_email ON signup_requests (email, created_at);
