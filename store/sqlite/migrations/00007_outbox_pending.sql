-- +goose Up
-- The worker claims pending messages in outbox order, walking them through
-- this index; outbox_target (every target's JSON in a B-tree of its own,
-- written on each enqueue) is no longer needed for that.
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
DROP INDEX outbox_target;

-- +goose Down
CREATE INDEX outbox_target ON outbox (target, status, id);
DROP INDEX outbox_pending;
