-- What every node of a cluster (and every process on one database) must
-- agree on, by name; the first that needs a value records it, and
-- gatehouse never changes it afterwards:
--   master_key_fingerprint: keys.Fingerprint of the master key that seals
--   the keys and signs the Settings sessions (never the key itself).
CREATE TABLE cluster_settings (
    name   TEXT    PRIMARY KEY,
    value  TEXT    NOT NULL,
    set_at INTEGER NOT NULL
) WITHOUT ROWID;
