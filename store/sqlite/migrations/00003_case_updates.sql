-- +goose Up
-- Cases move: taken, judged, reopened. The decision is confidential and
-- sealed like the answers.
ALTER TABLE cases ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN sealed_decision BLOB;
ALTER TABLE cases ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
CREATE INDEX cases_open ON cases (status, department, created);

-- +goose Down
DROP INDEX cases_open;
ALTER TABLE cases DROP COLUMN updated;
ALTER TABLE cases DROP COLUMN sealed_decision;
ALTER TABLE cases DROP COLUMN assignee;
