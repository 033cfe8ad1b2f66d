-- Keys, their audit log and usage, the change log that other processes
-- follow, and the Settings UI's administrators. Times are Unix
-- milliseconds (UTC); durations are nanoseconds.

CREATE TABLE api_keys (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL,
    -- gatehouse.NameKey(name): the case-folded name that must be unique.
    name_key      TEXT    NOT NULL,
    digest        BLOB    NOT NULL,
    sealed        BLOB    NOT NULL,
    hint          TEXT    NOT NULL,
    valid_until   INTEGER,
    -- JSON array of "<name>:<access>" strings.
    scopes        TEXT    NOT NULL,
    rate_requests INTEGER NOT NULL DEFAULT 0,
    rate_per_ns   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    created_by    TEXT    NOT NULL,
    last_used_at  INTEGER
);
CREATE UNIQUE INDEX api_keys_name_key ON api_keys (name_key);
CREATE INDEX api_keys_created_at_id ON api_keys (created_at, id);

-- No foreign key: the log outlives the key.
CREATE TABLE audit_events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT    NOT NULL,
    action TEXT    NOT NULL,
    actor  TEXT    NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX audit_events_key_id ON audit_events (key_id, seq);

CREATE TABLE key_usage (
    key_id       TEXT    NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour         INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour)
) WITHOUT ROWID;

-- One row: the revision of the latest change. Every create, renew and
-- delete bumps it in its own transaction, so revisions commit in order.
CREATE TABLE key_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO key_revision (id, revision) VALUES (1, 0);

-- The recent changes, pruned to the last Store.KeepChanges.
CREATE TABLE key_changes (
    revision INTEGER PRIMARY KEY,
    key_id   TEXT    NOT NULL
);

CREATE TABLE users (
    username      TEXT    PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
