-- Issue 13: durable processing jobs. A photo's variants are made by a job written in the same
-- transaction as the photo row; replicas claim jobs with a lease (a dead replica's job is taken
-- over once its lease expires), retry transient failures with backoff and record the outcome.
CREATE TABLE jobs (
    id UUID PRIMARY KEY,
    kind TEXT NOT NULL,
    photo_id UUID NOT NULL REFERENCES pictures (id) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed')),
    -- Claims so far: a job that kills its replica every time still ends 'failed'.
    attempts BIGINT NOT NULL DEFAULT 0,
    run_after TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ,
    locked_by TEXT,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
-- The claim reads unfinished jobs newest first; finished ones stay out of the index.
CREATE INDEX jobs_claim_idx ON jobs (created_at DESC) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_photo_idx ON jobs (photo_id);

-- Photos still waiting for their variants (the former sweep's work) become jobs.
INSERT INTO jobs (id, kind, photo_id, state, attempts, run_after, created_at, updated_at)
SELECT gen_random_uuid(), 'variants', id, 'queued', 0, created_at, created_at, now()
FROM pictures WHERE thumb_status = 'pending';
