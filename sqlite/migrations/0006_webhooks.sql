-- The webhooks' outbox (contract §10). A key change writes its event here
-- in the transaction of the change; the scheduler adds the time-driven
-- events (key.expiring, key.expired, key.previous_expired), once per key
-- and period (the validUntil, or previous_valid_until, they are about);
-- each node's sender claims due events for a lease, sends them and records
-- the attempt. key_json is the key as it was (without its digests and
-- sealed secret), so that a deleted key's event can still be sent. done
-- lists the endpoints that have the event.
CREATE TABLE webhook_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    type            TEXT    NOT NULL,
    key_id          TEXT    NOT NULL,
    period          INTEGER,
    at              INTEGER NOT NULL,
    key_json        TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_result     TEXT    NOT NULL DEFAULT '',
    done            TEXT    NOT NULL DEFAULT '[]',
    delivered_at    INTEGER,
    failed          INTEGER NOT NULL DEFAULT 0,
    claimed_until   INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX webhook_events_once ON webhook_events (key_id, type, period) WHERE period IS NOT NULL;
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE delivered_at IS NULL AND failed = 0;
CREATE INDEX webhook_events_at ON webhook_events (at);
CREATE INDEX api_keys_by_valid_until ON api_keys (valid_until) WHERE valid_until IS NOT NULL;
CREATE INDEX api_keys_by_previous_valid_until ON api_keys (previous_valid_until) WHERE previous_valid_until IS NOT NULL;

-- How far the scheduler got: key.expired has been added for every key
-- whose validUntil is at or before through (Unix ms).
CREATE TABLE webhook_schedule (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL
);
