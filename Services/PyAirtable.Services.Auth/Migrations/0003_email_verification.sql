-- E-mail verification: an account proves it receives mail at its address before it may join workspaces.
ALTER TABLE auth.credentials ADD COLUMN email_verified_at timestamptz;

-- One pending code per account (a new one replaces it). Only a hash of the code is kept: SHA-256 over the
-- account id, the address and the code, so a code is bound to the address it was mailed to.
CREATE TABLE auth.email_verifications (
    user_id     uuid PRIMARY KEY REFERENCES auth.credentials (user_id) ON DELETE CASCADE,
    email       text NOT NULL,
    code_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    failed_attempts int NOT NULL DEFAULT 0,
    consumed_at timestamptz
);
