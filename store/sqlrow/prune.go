package sqlrow

import (
	"fmt"

	"github.com/mamori-oss/mamori"
)

// PruneLimit is how many rows of each table one Prune deletes when its
// Limit is not set: a few milliseconds of a writer's time, so that the
// daily pass, a batch at a time, never holds the writers up for long.
const PruneLimit = 1000

// Prune deletes the rows kept only for a while; see mamori.Tx. Each
// table's rows are picked through an index: seen by at (seen_at), outbox
// and jobs by status (outbox_due, jobs_due).
func (t *Tx) Prune(p mamori.Prune) (mamori.Pruned, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = PruneLimit
	}
	var n mamori.Pruned
	var err error
	if !p.Seen.IsZero() {
		n.Seen, err = t.deleted(`DELETE FROM seen WHERE key IN (SELECT key FROM seen WHERE at < ? LIMIT ?)`, Millis(p.Seen), limit)
		if err != nil {
			return n, fmt.Errorf("prune seen: %w", err)
		}
	}
	if !p.Sent.IsZero() {
		// An item is sent after it is due (next_at), so next_at < Sent
		// holds for every item sent before it, and walks outbox_due.
		n.Outbox, err = t.deleted(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
			WHERE status = 'sent' AND next_at < ?1 AND sent_at < ?1 AND id < (SELECT MAX(id) FROM outbox) LIMIT ?2)`,
			Millis(p.Sent), limit)
		if err != nil {
			return n, fmt.Errorf("prune outbox: %w", err)
		}
	}
	if !p.Failed.IsZero() && n.Outbox < limit {
		// A failed item's next_at is its last attempt.
		failed, err := t.deleted(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
			WHERE status = 'failed' AND next_at < ?1 AND created < ?1 AND id < (SELECT MAX(id) FROM outbox) LIMIT ?2)`,
			Millis(p.Failed), limit-n.Outbox)
		if err != nil {
			return n, fmt.Errorf("prune outbox: %w", err)
		}
		n.Outbox += failed
	}
	if !p.Jobs.IsZero() {
		// A canceled job has no done_at: it goes once it was due.
		n.Jobs, err = t.deleted(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
			WHERE status IN ('done', 'canceled') AND due < ?1 AND (done_at IS NULL OR done_at < ?1)
			AND id < (SELECT MAX(id) FROM jobs) LIMIT ?2)`, Millis(p.Jobs), limit)
		if err != nil {
			return n, fmt.Errorf("prune jobs: %w", err)
		}
	}
	return n, nil
}

// deleted runs a DELETE and returns how many rows it deleted.
func (t *Tx) deleted(query string, args ...any) (int, error) {
	res, err := t.exec(query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
