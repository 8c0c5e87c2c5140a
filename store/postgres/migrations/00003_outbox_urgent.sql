-- +goose Up
-- A claim takes the pending urgent items (an SOS alert: keys beginning
-- with "urgent:") first, ahead of a campaign's backlog. This index holds
-- only those, so finding them costs the few that wait, not the backlog
-- (outbox_pending) nor every urgent item ever sent (the key's index). Its
-- condition is sqlrow.UrgentPending word for word, so that the planner
-- sees the claim's query implies it; the key is COLLATE "C", so the range
-- is byte order.
CREATE INDEX outbox_urgent ON outbox (id) WHERE status = 'pending' AND key >= 'urgent:' AND key < 'urgent;';

-- +goose Down
DROP INDEX outbox_urgent;
