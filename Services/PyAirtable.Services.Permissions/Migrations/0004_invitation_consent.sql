-- Invitations may be addressed to a user id (WorkspaceService.AddMember) instead of an e-mail address, and
-- can be declined: membership needs the invitee's consent.
ALTER TABLE permissions.invitations ALTER COLUMN email DROP NOT NULL;
ALTER TABLE permissions.invitations ADD COLUMN invitee_id uuid;
ALTER TABLE permissions.invitations ADD COLUMN declined_at timestamptz;
ALTER TABLE permissions.invitations ADD CONSTRAINT invitations_one_addressee CHECK ((email IS NULL) <> (invitee_id IS NULL));
CREATE INDEX invitations_by_invitee ON permissions.invitations (invitee_id, created_at DESC) WHERE invitee_id IS NOT NULL;
CREATE INDEX invitations_by_email ON permissions.invitations (email, created_at DESC) WHERE email IS NOT NULL;
