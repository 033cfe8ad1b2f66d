-- Day two of a key (contract §8): a roll keeps the previous secret's
-- digest until the next roll (after previous_valid_until it is told
-- key_rolled), when that secret was last used, whether the key is
-- enabled, the addresses it is accepted from (masked CIDR prefixes; NULL
-- for any), and its read-only grace after expiry (nanoseconds; 0 for
-- none).
ALTER TABLE api_keys
    ADD COLUMN previous_digest       bytea,
    ADD COLUMN previous_valid_until  timestamptz,
    ADD COLUMN previous_last_used_at timestamptz,
    ADD COLUMN enabled               boolean NOT NULL DEFAULT true,
    ADD COLUMN allowed_ips           text[],
    ADD COLUMN read_only_grace_ns    bigint  NOT NULL DEFAULT 0;
