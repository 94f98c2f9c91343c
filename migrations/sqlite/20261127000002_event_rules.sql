-- Event rules (pre-approval, reveal, per-guest limits, duplicates) and thumbnails.
ALTER TABLE pictures ADD COLUMN user_id TEXT REFERENCES session_users (id) ON DELETE SET NULL;
ALTER TABLE pictures ADD COLUMN status TEXT NOT NULL DEFAULT 'approved';
ALTER TABLE pictures ADD COLUMN content_hash TEXT;
ALTER TABLE pictures ADD COLUMN thumb_key TEXT;
ALTER TABLE pictures ADD COLUMN thumb_status TEXT NOT NULL DEFAULT 'pending';
CREATE UNIQUE INDEX pictures_session_hash_key ON pictures (session_id, content_hash) WHERE content_hash IS NOT NULL;
CREATE INDEX pictures_session_user_idx ON pictures (session_id, user_id);
CREATE INDEX pictures_thumb_pending_idx ON pictures (created_at) WHERE thumb_status = 'pending';
CREATE INDEX session_users_session_last_seen_idx ON session_users (session_id, last_seen);
