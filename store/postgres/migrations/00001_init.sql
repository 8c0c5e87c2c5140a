-- Mamori's schema on PostgreSQL: the same tables as the SQLite backend
-- after its migration 6, in one step. Times are UTC unix milliseconds
-- (BIGINT), as in SQLite, so the audit hash covers the same numbers.
-- Columns named sealed_* hold AES-256-GCM blobs (package seal) bound to
-- their row; everything else is non-confidential. Keys that are sorted or
-- compared as ranges are COLLATE "C": byte order whatever the database's
-- locale.

-- +goose Up

-- +goose StatementBegin
CREATE FUNCTION mamori_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';
END
$$;
-- +goose StatementEnd

-- Platform deliveries already handled (event ids, interaction ids).
CREATE TABLE seen (
	key TEXT PRIMARY KEY,
	at  BIGINT NOT NULL
);
CREATE INDEX seen_at ON seen (at);

-- One guided conversation per user, resumable after a restart.
CREATE TABLE conversations (
	user_key     TEXT PRIMARY KEY,
	sealed_state BYTEA NOT NULL,
	updated      BIGINT NOT NULL
);

-- The last case number issued per kind and year.
CREATE TABLE case_numbers (
	kind        TEXT NOT NULL,
	year        INTEGER NOT NULL,
	last_number INTEGER NOT NULL,
	PRIMARY KEY (kind, year)
);

CREATE TABLE cases (
	id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	number           TEXT NOT NULL UNIQUE,
	kind             TEXT NOT NULL,
	reporter_key     TEXT NOT NULL,
	reporter         TEXT NOT NULL, -- mamori.User as JSON
	department       TEXT NOT NULL,
	route            TEXT NOT NULL,
	channel          TEXT NOT NULL,
	status           TEXT NOT NULL,
	urgency          TEXT NOT NULL,
	suggestion       TEXT NOT NULL,
	crime            BOOLEAN NOT NULL,
	behaviours       TEXT NOT NULL, -- JSON array of behaviour ids
	created          BIGINT NOT NULL,
	sealed_answers   BYTEA NOT NULL,
	assignee         TEXT NOT NULL DEFAULT '',
	sealed_decision  BYTEA,
	updated          BIGINT NOT NULL DEFAULT 0,
	checkins_stopped BOOLEAN NOT NULL DEFAULT false,
	taken            BIGINT NOT NULL DEFAULT 0,
	judged           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX cases_reporter ON cases (reporter_key, created);
CREATE INDEX cases_open ON cases (status, department, created);

-- Only retention (not written yet) may delete cases; its migration will
-- replace these triggers.
CREATE TRIGGER cases_no_delete BEFORE DELETE ON cases
	FOR EACH ROW EXECUTE FUNCTION mamori_refuse('cases cannot be deleted');
CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases
	FOR EACH STATEMENT EXECUTE FUNCTION mamori_refuse('cases cannot be deleted');

CREATE TABLE outbox (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key            TEXT COLLATE "C" NOT NULL UNIQUE,
	target         TEXT NOT NULL, -- mamori.Target as JSON
	ref            TEXT NOT NULL, -- Message.Ref, "" if none
	sealed_message BYTEA NOT NULL,
	lang           TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	next_at        BIGINT NOT NULL,
	lease_until    BIGINT,
	last_error     TEXT NOT NULL DEFAULT '',
	created        BIGINT NOT NULL,
	sent_at        BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_at);
-- Messages to one target go out in order: a claim skips an item while an
-- older one to the same target waits.
CREATE INDEX outbox_target ON outbox (target, status, id);

-- Where a message with a Ref was posted, for updates in place.
CREATE TABLE posted_refs (
	ref     TEXT PRIMARY KEY,
	channel TEXT NOT NULL,
	ts      TEXT NOT NULL
);

CREATE TABLE jobs (
	id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	key            TEXT NOT NULL,
	kind           TEXT NOT NULL,
	due            BIGINT NOT NULL,
	sealed_payload BYTEA, -- NULL when there is no payload
	status         TEXT NOT NULL CHECK (status IN ('pending', 'done', 'canceled')),
	attempts       INTEGER NOT NULL DEFAULT 0,
	lease_until    BIGINT,
	done_at        BIGINT
);
-- At most one pending job per key: Schedule leaves an existing one as it is.
CREATE UNIQUE INDEX jobs_pending_key ON jobs (key) WHERE status = 'pending';
CREATE INDEX jobs_due ON jobs (status, due);

-- Append-only audit trail. Each row's hash covers the previous row's hash
-- and its own fields, so an edited or removed row breaks the chain
-- (see VerifyAudit). Ids are given by the store, one after the other.
CREATE TABLE audit (
	id        BIGINT PRIMARY KEY,
	at        BIGINT NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	detail    TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
	FOR EACH ROW EXECUTE FUNCTION mamori_refuse('audit is append-only');
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION mamori_refuse('audit is append-only');
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION mamori_refuse('audit is append-only');

-- A sealed known value: opening the database with another key fails at
-- once instead of leaving rows nobody can read.
CREATE TABLE key_check (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	sealed BYTEA NOT NULL
);

-- Care tasks HR owes a reporter. Why it was opened and the notes of the
-- contacts made are health-related: sealed.
CREATE TABLE care_tasks (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	number      TEXT NOT NULL REFERENCES cases (number),
	reporter    TEXT NOT NULL, -- mamori.User as JSON
	status      TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
	assignee    TEXT NOT NULL DEFAULT '',
	due         BIGINT NOT NULL,
	created     BIGINT NOT NULL,
	updated     BIGINT NOT NULL,
	open_key    TEXT UNIQUE, -- number and reason while not closed, else NULL
	sealed_care BYTEA NOT NULL -- reason and notes
);
CREATE INDEX care_tasks_status ON care_tasks (status, created);

-- One person's round of a training programme.
CREATE TABLE training (
	programme  TEXT COLLATE "C" NOT NULL,
	user_key   TEXT COLLATE "C" NOT NULL,
	round      INTEGER NOT NULL,
	"user"     TEXT NOT NULL, -- mamori.User as JSON
	department TEXT NOT NULL,
	assigned   BIGINT NOT NULL,
	due        BIGINT NOT NULL,
	done       BIGINT NOT NULL DEFAULT 0,
	nudged     BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (programme, user_key, round)
);
CREATE INDEX training_due ON training (done, due);

-- How to reach a user or a channel later (Teams conversation references):
-- opaque to the store.
CREATE TABLE refs (
	key     TEXT PRIMARY KEY,
	data    BYTEA NOT NULL,
	updated BIGINT NOT NULL
);

-- +goose Down

DROP TABLE refs;
DROP TABLE training;
DROP TABLE care_tasks;
DROP TABLE key_check;
DROP TABLE audit;
DROP TABLE jobs;
DROP TABLE posted_refs;
DROP TABLE outbox;
DROP TABLE cases;
DROP TABLE case_numbers;
DROP TABLE conversations;
DROP TABLE seen;
DROP FUNCTION mamori_refuse();
