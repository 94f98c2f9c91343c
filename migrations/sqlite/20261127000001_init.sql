-- Timestamps are Unix microseconds (INTEGER) so ordering and comparisons are exact.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email_normalized_key ON users (email_normalized);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    settings TEXT NOT NULL,
    missions TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_ends_at_idx ON sessions (ends_at);

CREATE TABLE session_users (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE INDEX session_users_session_id_idx ON session_users (session_id);
CREATE INDEX session_users_last_seen_idx ON session_users (last_seen);

CREATE TABLE pictures (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    u_name TEXT NOT NULL,
    original_filename TEXT NOT NULL,
    s3_key TEXT NOT NULL,
    s3_bucket TEXT NOT NULL,
    mimetype TEXT NOT NULL,
    filesize_bytes INTEGER NOT NULL,
    mission_id TEXT,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX pictures_s3_key_key ON pictures (s3_key);
CREATE INDEX pictures_session_created_idx ON pictures (session_id, created_at DESC);
