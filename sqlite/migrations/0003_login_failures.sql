-- Failed Settings logins by subject ("user:NAME" or "ip:ADDRESS"), so that
-- every node, and a restarted one, slows down the same brute force.
CREATE TABLE login_failures (
    subject TEXT    PRIMARY KEY,
    count   INTEGER NOT NULL,
    last_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_failures_last_at ON login_failures (last_at);
