-- Photos that are not approved (waiting for moderation, hidden): few, and read on every gallery
-- change to tell which guests see a gallery of their own (`gallery_personal_viewers`).
CREATE INDEX pictures_unapproved_idx ON pictures (session_id) WHERE status <> 'approved';
