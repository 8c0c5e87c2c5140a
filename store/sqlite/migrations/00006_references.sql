-- +goose Up
-- How to reach a user or a channel later (Teams conversation references):
-- opaque to the store. A reference names a tenant, a conversation and a
-- service URL, not what anyone said.
CREATE TABLE refs (
	key     TEXT PRIMARY KEY,
	data    BLOB NOT NULL,
	updated INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE refs;
