package mem

import (
	"context"
	"sort"

	"github.com/mamori-oss/mamori"
)

// pruneLimit is sqlrow.PruneLimit.
const pruneLimit = 1000

// Prune deletes the rows kept only for a while, as the SQL stores do,
// but by what a row here knows: an outbox item by when it was created
// (not sent), a job by when it was due (not done). A deleted outbox item
// or job leaves an empty row behind (the ids are a vec), the size of a
// few fields; its message or payload goes.
func (t *tx) Prune(p mamori.Prune) (mamori.Pruned, error) {
	var n mamori.Pruned
	if err := t.writable("prune", tSeen|tOutKeys|tJobs); err != nil {
		return n, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = pruneLimit
	}
	if !p.Seen.IsZero() {
		at := millis(p.Seen)
		var old []string
		for k, v := range t.s.seen {
			if v < at {
				old = append(old, k)
			}
		}
		sort.Strings(old) // the same rows whatever the map's order
		for _, k := range old[:min(limit, len(old))] {
			delete(t.s.seen, k)
			n.Seen++
		}
	}
	if !p.Sent.IsZero() || !p.Failed.IsZero() {
		sent, failed := millis(p.Sent), millis(p.Failed)
		var old []int64
		t.s.outbox.all(func(id int64, r outRow) bool {
			if id < t.s.outbox.n && (!p.Sent.IsZero() && r.status == mamori.OutboxSent && r.created < sent ||
				!p.Failed.IsZero() && r.status == mamori.OutboxFailed && r.created < failed && r.nextAt < failed) {
				old = append(old, id)
			}
			return len(old) < limit
		})
		for _, id := range old {
			t.dropOutbox(id)
			n.Outbox++
		}
	}
	if !p.Jobs.IsZero() {
		at := millis(p.Jobs)
		var old []int64
		t.s.jobs.all(func(id int64, r jobRow) bool {
			if (r.status == "done" || r.status == "canceled") && r.due < at && id < t.s.jobs.n {
				old = append(old, id)
			}
			return len(old) < limit
		})
		for _, id := range old {
			t.s.jobs.set(id, jobRow{id: id})
			n.Jobs++
		}
	}
	return n, nil
}

// Rows counts the rows of the tables that grow with use, as the SQL
// stores' Rows does: a pruned outbox item or job is not counted.
func (db *DB) Rows(ctx context.Context) (map[string]int, error) {
	s, err := db.read(ctx)
	if err != nil {
		return nil, err
	}
	n := map[string]int{"seen": len(s.seen), "posted_refs": len(s.posted), "conversations": len(s.convs),
		"cases": len(s.cases), "care_tasks": len(s.care), "audit": len(s.audit)}
	s.outbox.all(func(_ int64, r outRow) bool {
		if r.status != "" {
			n["outbox"]++
		}
		return true
	})
	s.jobs.all(func(_ int64, r jobRow) bool {
		if r.status != "" {
			n["jobs"]++
		}
		return true
	})
	return n, nil
}

// Waiting counts the outbox items pending and failed.
func (db *DB) Waiting(ctx context.Context) (map[string]int, error) {
	s, err := db.read(ctx)
	if err != nil {
		return nil, err
	}
	n := map[string]int{mamori.OutboxPending: len(s.pending)}
	s.outbox.all(func(_ int64, r outRow) bool {
		if r.status == mamori.OutboxFailed {
			n[mamori.OutboxFailed]++
		}
		return true
	})
	return n, nil
}
