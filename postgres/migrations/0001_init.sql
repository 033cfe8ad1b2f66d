-- Keys, their audit log and usage, the change log that every node follows,
-- and the Settings UI's administrators. Durations are nanoseconds.

CREATE TABLE api_keys (
    -- "C": IDs order byte by byte, as in Go, whatever the database's locale.
    id            text        COLLATE "C" PRIMARY KEY,
    name          text        NOT NULL,
    -- gatehouse.NameKey(name): the case-folded name that must be unique.
    name_key      text        NOT NULL,
    digest        bytea       NOT NULL,
    sealed        bytea       NOT NULL,
    hint          text        NOT NULL,
    valid_until   timestamptz,
    scopes        text[]      NOT NULL,
    rate_requests integer     NOT NULL DEFAULT 0,
    rate_per_ns   bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    created_by    text        NOT NULL,
    last_used_at  timestamptz,
    CONSTRAINT api_keys_name_key_unique UNIQUE (name_key)
);
CREATE INDEX api_keys_created_at_id ON api_keys (created_at, id);

-- No foreign key: the log outlives the key.
CREATE TABLE audit_events (
    id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id text        NOT NULL,
    action text        NOT NULL,
    actor  text        NOT NULL,
    at     timestamptz NOT NULL
);
CREATE INDEX audit_events_key_id ON audit_events (key_id, id);

CREATE TABLE key_usage (
    key_id       text        NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour         timestamptz NOT NULL,
    count        bigint      NOT NULL,
    last_used_at timestamptz NOT NULL,
    PRIMARY KEY (key_id, hour)
);

-- One row: the revision of the latest change. Every create, renew and
-- delete updates it in its own transaction; the row lock makes writers
-- wait for each other, so revisions commit in order.
CREATE TABLE key_revision (
    id       integer PRIMARY KEY CHECK (id = 1),
    revision bigint  NOT NULL
);
INSERT INTO key_revision (id, revision) VALUES (1, 0);

-- The recent changes, pruned to the last Store.KeepChanges.
CREATE TABLE key_changes (
    revision bigint PRIMARY KEY,
    key_id   text   NOT NULL
);

CREATE TABLE users (
    username      text        PRIMARY KEY,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);
