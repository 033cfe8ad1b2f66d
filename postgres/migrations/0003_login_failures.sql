-- Failed Settings logins by subject ("user:NAME" or "ip:ADDRESS"), so that
-- every node, and a restarted one, slows down the same brute force.
CREATE TABLE login_failures (
    subject text        PRIMARY KEY,
    count   integer     NOT NULL,
    last_at timestamptz NOT NULL
);
CREATE INDEX login_failures_last_at ON login_failures (last_at);
