-- Mamori's first schema. Times are UTC unix milliseconds (INTEGER), so they
-- sort and compare as numbers. Columns named sealed_* hold AES-256-GCM
-- blobs (package seal) bound to their row; everything else is
-- non-confidential.

-- +goose Up

-- Platform deliveries already handled (event ids, interaction ids).
CREATE TABLE seen (
	key TEXT PRIMARY KEY,
	at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX seen_at ON seen (at);

-- One guided conversation per user, resumable after a restart.
CREATE TABLE conversations (
	user_key     TEXT PRIMARY KEY,
	sealed_state BLOB NOT NULL,
	updated      INTEGER NOT NULL
);

-- The last case number issued per kind and year.
CREATE TABLE case_numbers (
	kind TEXT NOT NULL,
	year INTEGER NOT NULL,
	last_number INTEGER NOT NULL,
	PRIMARY KEY (kind, year)
) WITHOUT ROWID;

CREATE TABLE cases (
	id             INTEGER PRIMARY KEY,
	number         TEXT NOT NULL UNIQUE,
	kind           TEXT NOT NULL,
	reporter_key   TEXT NOT NULL,
	reporter       TEXT NOT NULL, -- mamori.User as JSON
	department     TEXT NOT NULL,
	route          TEXT NOT NULL,
	channel        TEXT NOT NULL,
	status         TEXT NOT NULL,
	urgency        TEXT NOT NULL,
	suggestion     TEXT NOT NULL,
	crime          INTEGER NOT NULL,
	behaviours     TEXT NOT NULL, -- JSON array of behaviour ids
	created        INTEGER NOT NULL,
	sealed_answers BLOB NOT NULL
);
CREATE INDEX cases_reporter ON cases (reporter_key, created);

-- Only retention (not written yet) may delete cases; its migration will
-- replace this trigger.
-- +goose StatementBegin
CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases
BEGIN
	SELECT RAISE(ABORT, 'cases cannot be deleted');
END;
-- +goose StatementEnd

CREATE TABLE outbox (
	id             INTEGER PRIMARY KEY,
	key            TEXT NOT NULL UNIQUE,
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
CREATE INDEX outbox_due ON outbox (status, next_at);

-- Where a message with a Ref was posted, for updates in place.
CREATE TABLE posted_refs (
	ref     TEXT PRIMARY KEY,
	channel TEXT NOT NULL,
	ts      TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE jobs (
	id             INTEGER PRIMARY KEY,
	key            TEXT NOT NULL,
	kind           TEXT NOT NULL,
	due            INTEGER NOT NULL,
	sealed_payload BLOB, -- NULL when there is no payload
	status         TEXT NOT NULL CHECK (status IN ('pending', 'done', 'canceled')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	lease_until    INTEGER,
	done_at        INTEGER
);
-- At most one pending job per key: Schedule leaves an existing one as it is.
CREATE UNIQUE INDEX jobs_pending_key ON jobs (key) WHERE status = 'pending';
CREATE INDEX jobs_due ON jobs (status, due);

-- Append-only audit trail. Each row's hash covers the previous row's hash
-- and its own fields, so an edited or removed row breaks the chain
-- (see VerifyAudit).
CREATE TABLE audit (
	id        INTEGER PRIMARY KEY,
	at        INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	detail    TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, id);

-- +goose StatementBegin
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit is append-only');
END;
-- +goose StatementEnd

-- +goose Down

DROP TABLE audit;
DROP TABLE jobs;
DROP TABLE posted_refs;
DROP TABLE outbox;
DROP TABLE cases;
DROP TABLE case_numbers;
DROP TABLE conversations;
DROP TABLE seen;
