-- +goose Up
-- Messages to one target go out in order: a claim skips an item while an
-- older one to the same target waits.
CREATE INDEX outbox_target ON outbox (target, status, id);

-- A sealed known value: opening the database with another key fails at
-- once instead of leaving rows nobody can read.
CREATE TABLE key_check (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	sealed BLOB NOT NULL
);

-- +goose Down
DROP TABLE key_check;
DROP INDEX outbox_target;
