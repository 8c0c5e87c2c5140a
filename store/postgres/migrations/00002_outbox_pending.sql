-- +goose Up
-- The worker walks the pending messages in outbox order through this
-- index and stops at its limit, instead of sorting every due message.
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';

-- +goose Down
DROP INDEX outbox_pending;
