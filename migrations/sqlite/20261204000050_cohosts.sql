-- Co-hosts: registered hosts who help run another host's event (moderation, settings,
-- slideshow, downloads). The event's owner stays `sessions.user_id`; this table lists the others.
CREATE TABLE event_hosts (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX event_hosts_user_id_idx ON event_hosts (user_id);

-- One-time co-host links: only a SHA-256 of each token is kept; a link is used once and expires.
CREATE TABLE cohost_invites (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    used_by TEXT REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX cohost_invites_session_id_idx ON cohost_invites (session_id);
