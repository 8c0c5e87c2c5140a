package sqlrow

import (
	"context"
	"fmt"
)

// Tables are the tables Rows counts: those that grow with use, and the
// records kept for years.
var Tables = []string{"seen", "outbox", "jobs", "posted_refs", "conversations", "cases", "care_tasks", "audit"}

// Rows counts the rows of each of Tables through q, in one snapshot when
// q is a transaction: what `mamori retention plan` reports, and what the
// tests of bounded growth watch.
func Rows(ctx context.Context, q Querier) (map[string]int, error) {
	n := map[string]int{}
	for _, table := range Tables {
		var c int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&c); err != nil {
			return nil, fmt.Errorf("count %s: %w", table, err)
		}
		n[table] = c
	}
	return n, nil
}

// Waiting counts the outbox items pending and failed, each through an
// index on the status (outbox_pending, outbox_due): a /metrics scrape
// costs the messages that wait, not the whole outbox with the sent ones,
// which a count by status over every key would read row by row.
func Waiting(ctx context.Context, q Querier) (map[string]int, error) {
	n := map[string]int{}
	for _, status := range []string{"pending", "failed"} {
		var c int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE status = '`+status+`'`).Scan(&c); err != nil {
			return nil, fmt.Errorf("count %s: %w", status, err)
		}
		n[status] = c
	}
	return n, nil
}
