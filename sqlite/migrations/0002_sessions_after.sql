-- Settings sessions issued before sessions_after (ms since the epoch) are
-- void: a logout, or replacing the user (a new password), moves it to now,
-- on every node at once.
ALTER TABLE users ADD COLUMN sessions_after INTEGER NOT NULL DEFAULT 0;
UPDATE users SET sessions_after = created_at;
