-- +goose Up
-- From here on every audit row is keyed (package audit: "k1:" and an
-- HMAC whose key is derived from the encryption key). Rows already there
-- keep their plain hash (NOT VALID: they are not checked); the store
-- appends an audit.keyed entry after them when it opens. The constraint
-- refuses a row hashed the old way, so a replica of a Mamori older than
-- its keying (during a rolling deploy, or a downgrade) cannot append rows
-- that the verification would take for tampering.
ALTER TABLE audit ADD CONSTRAINT audit_keyed CHECK (left(hash, 3) = 'k1:') NOT VALID;

-- +goose Down
ALTER TABLE audit DROP CONSTRAINT audit_keyed;
