-- Invitations an inviter sent recently: the per-inviter hourly limit reads this.
CREATE INDEX invitations_by_inviter ON permissions.invitations (invited_by, created_at);
