-- +goose Up
-- A reporter can stop care check-ins for a case at any time.
ALTER TABLE cases ADD COLUMN checkins_stopped INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE cases DROP COLUMN checkins_stopped;
