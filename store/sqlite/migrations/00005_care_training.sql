-- +goose Up
-- When a case was first taken and last judged, for the statistics.
ALTER TABLE cases ADD COLUMN taken INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN judged INTEGER NOT NULL DEFAULT 0;

-- Care tasks HR owes a reporter. Why it was opened and the notes of the
-- contacts made are health-related: sealed.
CREATE TABLE care_tasks (
	id           INTEGER PRIMARY KEY,
	number       TEXT NOT NULL REFERENCES cases (number),
	reporter     TEXT NOT NULL, -- mamori.User as JSON
	status       TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
	assignee     TEXT NOT NULL DEFAULT '',
	due          INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL,
	open_key     TEXT UNIQUE, -- number and reason while not closed, else NULL
	sealed_care  BLOB NOT NULL -- reason and notes
);
CREATE INDEX care_tasks_status ON care_tasks (status, created);

-- One person's round of a training programme.
CREATE TABLE training (
	programme  TEXT NOT NULL,
	user_key   TEXT NOT NULL,
	round      INTEGER NOT NULL,
	user       TEXT NOT NULL, -- mamori.User as JSON
	department TEXT NOT NULL,
	assigned   INTEGER NOT NULL,
	due        INTEGER NOT NULL,
	done       INTEGER NOT NULL DEFAULT 0,
	nudged     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (programme, user_key, round)
) WITHOUT ROWID;
CREATE INDEX training_due ON training (done, due);

-- +goose Down
DROP TABLE training;
DROP TABLE care_tasks;
ALTER TABLE cases DROP COLUMN judged;
ALTER TABLE cases DROP COLUMN taken;
