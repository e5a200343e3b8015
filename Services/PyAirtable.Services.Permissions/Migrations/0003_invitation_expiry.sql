-- Invitations expire (7 days unless the inviter's service chooses otherwise).
ALTER TABLE permissions.invitations ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '7 days';
