-- Comments on photos, by a guest of the event or its host (author_id is the guest's or the
-- host's id; the name is kept as it was when written). `pending` comments wait for the host's
-- approval. They go with their photo and their event.
CREATE TABLE comments (
    id UUID PRIMARY KEY,
    picture_id UUID NOT NULL REFERENCES pictures (id) ON DELETE CASCADE,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    author_id UUID NOT NULL,
    author_name TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX comments_picture_id_idx ON comments (picture_id, created_at);
CREATE INDEX comments_session_id_idx ON comments (session_id);
