-- Clients (an IPv4 address or an IPv6 /64) from which an account has logged in successfully. While
-- an account is under a distributed guessing attack, only these may still try its password.
CREATE TABLE auth.known_clients (
    user_id         uuid        NOT NULL REFERENCES auth.credentials (user_id) ON DELETE CASCADE,
    client          text        NOT NULL,
    last_success_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client)
);

-- The API key that minted a key (NULL when a user session did). Revoking a key revokes every key
-- descended from it: a leaked key cannot leave working children behind.
ALTER TABLE auth.api_keys ADD COLUMN parent_key_id uuid REFERENCES auth.api_keys (id) ON DELETE SET NULL;
CREATE INDEX api_keys_by_parent ON auth.api_keys (parent_key_id) WHERE parent_key_id IS NOT NULL;
