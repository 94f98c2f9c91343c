-- Guestbook messages: a guest of the event (or its host) leaves a text, optionally with one of
-- their own photos of the event (author_id is the guest's or the host's id; the name is kept as
-- it was when written). `pending` messages wait for the host's approval. They go with their
-- event; a deleted photo leaves the message without one.
CREATE TABLE guestbook_messages (
    id UUID PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    author_id UUID NOT NULL,
    author_name TEXT NOT NULL,
    body TEXT NOT NULL,
    picture_id UUID REFERENCES pictures (id) ON DELETE SET NULL,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX guestbook_messages_session_id_idx ON guestbook_messages (session_id, created_at);
CREATE INDEX guestbook_messages_picture_id_idx ON guestbook_messages (picture_id);
