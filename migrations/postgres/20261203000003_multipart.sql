-- Open multipart (resumable) uploads, so any replica can serve the next call and a periodic job
-- aborts the ones left behind. No reference to sessions: the job also cleans up after deleted
-- events, whose stored parts would otherwise linger.
CREATE TABLE multipart_uploads (
    id UUID PRIMARY KEY,
    session_id UUID NOT NULL,
    object_key TEXT NOT NULL,
    store_upload_id TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    part_size BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX multipart_uploads_created_at_idx ON multipart_uploads (created_at);
