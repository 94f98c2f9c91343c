-- Wrong PINs of a protected event per client address, counted in a fixed window: the limit
-- holds across replicas. The rows go with their event.
CREATE TABLE join_pin_attempts (
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    client TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    attempts BIGINT NOT NULL,
    PRIMARY KEY (session_id, client)
);
