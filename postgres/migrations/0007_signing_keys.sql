-- The public keys whose RFC 9421 signatures a key's writes to signed
-- routes need (contract §9), as a JSON array of
-- {"keyid", "jwk", "createdAt"}: a few per key at most, loaded with it.
ALTER TABLE api_keys ADD COLUMN signing_keys text NOT NULL DEFAULT '[]';
