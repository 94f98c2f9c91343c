-- Open multipart (resumable) uploads, so any replica can serve the next call and a periodic job
-- aborts the ones left behind. No reference to sessions: the job also cleans up after deleted
-- events, whose stored parts would otherwise linger.
CREATE TABLE multipart_uploads (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    object_key TEXT NOT NULL,
    store_upload_id TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    part_size INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX multipart_uploads_created_at_idx ON multipart_uploads (created_at);
