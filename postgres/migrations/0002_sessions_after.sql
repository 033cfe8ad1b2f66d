-- Settings sessions issued before sessions_after are void: a logout, or
-- replacing the user (a new password), moves it to now, on every node at
-- once.
ALTER TABLE users ADD COLUMN sessions_after timestamptz;
UPDATE users SET sessions_after = created_at;
ALTER TABLE users ALTER COLUMN sessions_after SET NOT NULL;
