-- Duplicate detection applies only to uploads that name their guest, so one event may hold
-- the same content more than once: the index on (session_id, content_hash) is not unique.
DROP INDEX IF EXISTS pictures_session_hash_key;
CREATE INDEX IF NOT EXISTS pictures_session_hash_idx ON pictures (session_id, content_hash);
