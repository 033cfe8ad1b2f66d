-- Day two of a key (contract §8): a roll keeps the previous secret's
-- digest until the next roll (after previous_valid_until it is told
-- key_rolled), when that secret was last used, whether the key is
-- enabled, the addresses it is accepted from (JSON array of masked CIDR
-- prefixes; NULL for any), and its read-only grace after expiry
-- (nanoseconds; 0 for none).
ALTER TABLE api_keys ADD COLUMN previous_digest       BLOB;
ALTER TABLE api_keys ADD COLUMN previous_valid_until  INTEGER;
ALTER TABLE api_keys ADD COLUMN previous_last_used_at INTEGER;
ALTER TABLE api_keys ADD COLUMN enabled               INTEGER NOT NULL DEFAULT 1;
ALTER TABLE api_keys ADD COLUMN allowed_ips           TEXT;
ALTER TABLE api_keys ADD COLUMN read_only_grace_ns    INTEGER NOT NULL DEFAULT 0;
