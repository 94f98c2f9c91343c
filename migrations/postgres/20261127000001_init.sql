CREATE TABLE users (
    id UUID PRIMARY KEY,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email_normalized_key ON users (email_normalized);

CREATE TABLE sessions (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    settings JSONB NOT NULL,
    missions JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_ends_at_idx ON sessions (ends_at);

CREATE TABLE session_users (
    id UUID PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL
);
CREATE INDEX session_users_session_id_idx ON session_users (session_id);
CREATE INDEX session_users_last_seen_idx ON session_users (last_seen);

CREATE TABLE pictures (
    id UUID PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    u_name TEXT NOT NULL,
    original_filename TEXT NOT NULL,
    s3_key TEXT NOT NULL,
    s3_bucket TEXT NOT NULL,
    mimetype TEXT NOT NULL,
    filesize_bytes BIGINT NOT NULL,
    mission_id TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX pictures_s3_key_key ON pictures (s3_key);
CREATE INDEX pictures_session_created_idx ON pictures (session_id, created_at DESC);
