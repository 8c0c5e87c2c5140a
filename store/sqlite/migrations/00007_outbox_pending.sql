-- +goose Up
-- The outbox, rebuilt for a leaner enqueue:
-- * A key beginning with "in:" is unique by construction (random, or made
--   from a platform delivery that the same transaction recorded in seen),
--   so only the other keys are kept unique: an index entry at a random
--   place for every message was a large part of each step's write.
-- * The worker claims pending messages in outbox order, walking them
--   through outbox_pending; outbox_target (every target's JSON in a B-tree
--   of its own) is no longer needed for that.
CREATE TABLE outbox_new (
	id             INTEGER PRIMARY KEY,
	key            TEXT NOT NULL,
	target         TEXT NOT NULL, -- mamori.Target as JSON
	ref            TEXT NOT NULL, -- Message.Ref, "" if none
	sealed_message BLOB NOT NULL,
	lang           TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	next_at        INTEGER NOT NULL,
	lease_until    INTEGER,
	last_error     TEXT NOT NULL DEFAULT '',
	created        INTEGER NOT NULL,
	sent_at        INTEGER
);
INSERT INTO outbox_new (id, key, target, ref, sealed_message, lang, status, attempts, next_at, lease_until, last_error, created, sent_at)
	SELECT id, key, target, ref, sealed_message, lang, status, attempts, next_at, lease_until, last_error, created, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE UNIQUE INDEX outbox_key ON outbox (key) WHERE substr(key, 1, 3) <> 'in:';
CREATE INDEX outbox_due ON outbox (status, next_at);
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';

-- +goose Down
CREATE TABLE outbox_old (
	id             INTEGER PRIMARY KEY,
	key            TEXT NOT NULL UNIQUE,
	target         TEXT NOT NULL,
	ref            TEXT NOT NULL,
	sealed_message BLOB NOT NULL,
	lang           TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	next_at        INTEGER NOT NULL,
	lease_until    INTEGER,
	last_error     TEXT NOT NULL DEFAULT '',
	created        INTEGER NOT NULL,
	sent_at        INTEGER
);
INSERT INTO outbox_old (id, key, target, ref, sealed_message, lang, status, attempts, next_at, lease_until, last_error, created, sent_at)
	SELECT id, key, target, ref, sealed_message, lang, status, attempts, next_at, lease_until, last_error, created, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_old RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_at);
CREATE INDEX outbox_target ON outbox (target, status, id);
