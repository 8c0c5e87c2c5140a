-- +goose Up
-- From here on every audit row is keyed (package audit: "k1:" and an
-- HMAC whose key is derived from the encryption key). Rows already there
-- keep their plain hash; the store appends an audit.keyed entry after
-- them when it opens. This trigger refuses a row hashed the old way, so a
-- Mamori older than its keying (a downgrade) cannot append rows that the
-- verification would take for tampering.
-- +goose StatementBegin
CREATE TRIGGER audit_keyed BEFORE INSERT ON audit
WHEN substr(NEW.hash, 1, 3) <> 'k1:'
BEGIN
	SELECT RAISE(ABORT, 'audit rows are keyed since migration 10: this Mamori is older than the database');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_keyed;
