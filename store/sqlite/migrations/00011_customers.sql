-- +goose Up
-- Repeat customers and the refusal-of-service register (issue 16). No
-- identifier is kept in the clear: customer_index and register_index hold
-- a keyed hash of each normalised identifier (an HMAC with a key derived
-- from the encryption key, cut to 16 bytes), and an entry's identifiers
-- are inside its sealed blob.

-- Which cases are about a customer with that identifier.
CREATE TABLE customer_index (
	hash   BLOB NOT NULL,
	number TEXT NOT NULL,
	PRIMARY KEY (hash, number)
) WITHOUT ROWID;
CREATE INDEX customer_index_number ON customer_index (number);

-- A supervisor's or HR's decision that two cases are (linked = 1) or are
-- not (0) about the same customer; a < b.
CREATE TABLE case_links (
	a      TEXT NOT NULL,
	b      TEXT NOT NULL,
	linked INTEGER NOT NULL,
	by_key TEXT NOT NULL,
	at     INTEGER NOT NULL,
	PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE INDEX case_links_b ON case_links (b);

-- The refusal-of-service register: the status and dates in the clear for
-- the daily pass, the entry itself (identifiers, scope, cases, history)
-- sealed.
CREATE TABLE register (
	number       TEXT PRIMARY KEY,
	status       TEXT NOT NULL,
	until        INTEGER NOT NULL,
	review       INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	sealed_entry BLOB NOT NULL
);

CREATE TABLE register_index (
	hash   BLOB NOT NULL,
	number TEXT NOT NULL,
	PRIMARY KEY (hash, number)
) WITHOUT ROWID;
CREATE INDEX register_index_number ON register_index (number);

-- +goose Down
DROP TABLE register_index;
DROP TABLE register;
DROP TABLE case_links;
DROP TABLE customer_index;
