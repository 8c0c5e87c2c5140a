-- +goose Up
-- OutboxPending runs on every typed message: is a question to this person
-- still unsent? Only pending items are in the index, so it stays as small
-- as what waits to be sent, and a lookup costs the few items to one
-- target, not the backlog (a campaign of 10,000 waits for half an hour).
CREATE INDEX outbox_pending_target ON outbox (target, created) WHERE status = 'pending';

-- +goose Down
DROP INDEX outbox_pending_target;
