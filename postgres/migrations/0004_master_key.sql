-- What every node of a cluster must agree on, by name; the first node that
-- needs a value records it, and gatehouse never changes it afterwards:
--   master_key_fingerprint: keys.Fingerprint of the master key that seals
--   the keys and signs the Settings sessions (never the key itself).
CREATE TABLE cluster_settings (
    name   text        PRIMARY KEY,
    value  text        NOT NULL,
    set_at timestamptz NOT NULL
);
