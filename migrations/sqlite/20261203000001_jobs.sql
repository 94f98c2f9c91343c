-- Issue 13: durable processing jobs. A photo's variants are made by a job written in the same
-- transaction as the photo row; the runner claims jobs with a lease, retries transient failures
-- with backoff and records the outcome. Timestamps are Unix microseconds, ids text.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    photo_id TEXT NOT NULL REFERENCES pictures (id) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed')),
    -- Claims so far: a job that kills its process every time still ends 'failed'.
    attempts INTEGER NOT NULL DEFAULT 0,
    run_after INTEGER NOT NULL,
    lease_until INTEGER,
    locked_by TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- The claim reads unfinished jobs newest first; finished ones stay out of the index.
CREATE INDEX jobs_claim_idx ON jobs (created_at DESC) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_photo_idx ON jobs (photo_id);

-- Photos still waiting for their variants (the former sweep's work) become jobs; the id is a
-- random UUID in the hyphenated form the server writes.
INSERT INTO jobs (id, kind, photo_id, state, attempts, run_after, created_at, updated_at)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-'
           || substr(h, 17, 4) || '-' || substr(h, 21, 12),
       'variants', id, 'queued', 0, created_at, created_at, created_at
FROM (SELECT lower(hex(randomblob(16))) AS h, id, created_at
      FROM pictures WHERE thumb_status = 'pending');
