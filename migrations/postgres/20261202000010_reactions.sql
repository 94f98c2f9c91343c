-- Reactions to photos: one per person (guest or host id) per photo, changeable. They go with
-- their photo and their event.
CREATE TABLE reactions (
    picture_id UUID NOT NULL REFERENCES pictures (id) ON DELETE CASCADE,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    reactor_id UUID NOT NULL,
    reaction TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (picture_id, reactor_id)
);
CREATE INDEX reactions_session_id_idx ON reactions (session_id, reactor_id);
