-- +goose Up
-- Repeat customers and the refusal-of-service register (issue 16). No
-- identifier is kept in the clear: customer_index and register_index hold
-- a keyed hash of each normalised identifier (an HMAC with a key derived
-- from the encryption key, cut to 16 bytes), and an entry's identifiers
-- are inside its sealed blob.

-- Which cases are about a customer with that identifier.
CREATE TABLE customer_index (
	hash   BYTEA NOT NULL,
	number TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (hash, number)
);
CREATE INDEX customer_index_number ON customer_index (number);

-- A supervisor's or HR's decision that two cases are (linked) or are
-- not about the same customer; a < b.
CREATE TABLE case_links (
	a      TEXT NOT NULL,
	b      TEXT NOT NULL,
	linked BOOLEAN NOT NULL,
	by_key TEXT NOT NULL,
	at     BIGINT NOT NULL,
	PRIMARY KEY (a, b)
);
CREATE INDEX case_links_b ON case_links (b);

-- The refusal-of-service register: the status and dates in the clear for
-- the daily pass, the entry itself (identifiers, scope, cases, history)
-- sealed.
CREATE TABLE register (
	number       TEXT PRIMARY KEY,
	status       TEXT NOT NULL,
	until        BIGINT NOT NULL,
	review       BIGINT NOT NULL,
	created      BIGINT NOT NULL,
	sealed_entry BYTEA NOT NULL
);

CREATE TABLE register_index (
	hash   BYTEA NOT NULL,
	number TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (hash, number)
);
CREATE INDEX register_index_number ON register_index (number);

-- +goose Down
DROP TABLE register_index;
DROP TABLE register;
DROP TABLE case_links;
DROP TABLE customer_index;
