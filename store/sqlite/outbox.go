package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

func (db *DB) queryOutbox(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]mamori.OutboxItem, error) {
	items, _, err := db.queryOutboxSkipping(ctx, q, query, args...)
	return items, err
}

// queryOutboxSkipping reads items, setting aside those that cannot be
// read (a damaged row, a blob sealed with another key) so that one bad
// row does not stop every other message.
func (db *DB) queryOutboxSkipping(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) (items []mamori.OutboxItem, bad []int64, err error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := sqlrow.ScanOutbox(db.sealer, rows)
		if err != nil {
			if m.ID == 0 {
				return nil, nil, err
			}
			db.log.Error("sqlite: unreadable outbox item", "id", m.ID, "err", err)
			bad = append(bad, m.ID)
			continue
		}
		items = append(items, m)
	}
	return items, bad, rows.Err()
}

// ClaimOutbox leases up to limit pending items that are due at now and not
// leased by another worker, oldest first. An item waits while an older
// pending item to its target is not yet due or is leased, so that a
// target gets its messages in order.
//
// It walks the pending items in outbox order and stops at the limit, so a
// claim costs the items ahead of the ones it takes, not the whole backlog;
// and it looks no further when nothing at all is due.
func (db *DB) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]mamori.OutboxItem, error) {
	if limit <= 0 {
		return nil, nil
	}
	var items []mamori.OutboxItem
	err := db.write(ctx, func(ctx context.Context, tx querier) error {
		at := sqlrow.Millis(now)
		var due bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending' AND next_at <= ?1
			AND (lease_until IS NULL OR lease_until <= ?1))`, at).Scan(&due); err != nil || !due {
			return err
		}
		ids, err := claimable(ctx, tx, at, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		list, _ := json.Marshal(ids) // for json_each
		var bad []int64
		items, bad, err = db.queryOutboxSkipping(ctx, tx, `SELECT `+sqlrow.OutboxColumns+` FROM outbox
			WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`, string(list))
		if err != nil {
			return err
		}
		for _, id := range bad {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'failed', last_error = 'unreadable: damaged or sealed with another key' WHERE id = ?`, id); err != nil {
				return err
			}
		}
		until := sqlrow.Millis(now.Add(lease))
		for i := range items {
			_, err := tx.ExecContext(ctx, `UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ?`, until, items[i].ID)
			if err != nil {
				return err
			}
			items[i].Attempts++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return items, nil
}

// claimable returns the ids of up to limit pending items that may be sent
// at the time at (see sqlrow.Claim), walking the pending items in order.
func claimable(ctx context.Context, tx querier, at int64, limit int) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+sqlrow.PendingColumns+` FROM outbox INDEXED BY outbox_pending
		WHERE status = 'pending' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	c := sqlrow.Claim{At: at, Limit: limit}
	for !c.Full() && rows.Next() {
		if _, err := c.Next(rows); err != nil {
			return nil, err
		}
	}
	return c.IDs, rows.Err()
}

// RenewOutbox extends the leases of the items still held as claimed.
func (db *DB) RenewOutbox(ctx context.Context, items []mamori.OutboxItem, now, until time.Time) ([]int64, error) {
	if len(items) == 0 {
		return nil, nil
	}
	var kept []int64
	err := db.write(ctx, func(ctx context.Context, tx querier) error {
		kept = kept[:0] // a write may run again
		for _, it := range items {
			res, err := tx.ExecContext(ctx, `UPDATE outbox SET lease_until = ?
				WHERE id = ? AND attempts = ? AND status = 'pending' AND lease_until > ?`,
				sqlrow.Millis(until), it.ID, it.Attempts, sqlrow.Millis(now))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				kept = append(kept, it.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("renew outbox: %w", err)
	}
	return kept, nil
}

// SentOutbox marks an item sent and, when its message has a Ref, records
// where it was posted.
func (db *DB) SentOutbox(ctx context.Context, id int64, p mamori.Posted, now time.Time) error {
	err := db.write(ctx, func(ctx context.Context, tx querier) error {
		var ref string
		if err := tx.QueryRowContext(ctx, `SELECT ref FROM outbox WHERE id = ?`, id).Scan(&ref); err != nil {
			return sqlrow.NotFound(err, fmt.Sprintf("outbox %d", id))
		}
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'sent', sent_at = ?, lease_until = NULL WHERE id = ?`, sqlrow.Millis(now), id)
		if err != nil || ref == "" {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO posted_refs (ref, channel, ts) VALUES (?, ?, ?)
			ON CONFLICT (ref) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`, ref, p.Channel, p.TS)
		return err
	})
	if err != nil {
		return fmt.Errorf("sent outbox: %w", err)
	}
	return nil
}

// RetryOutbox releases an item's lease after a failed attempt, due again
// at next, or marks it failed for good with giveUp. A sent item stays sent.
func (db *DB) RetryOutbox(ctx context.Context, id int64, next time.Time, errText string, giveUp bool) error {
	err := db.write(ctx, func(ctx context.Context, tx querier) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox
			SET next_at = ?, last_error = ?, lease_until = NULL,
				status = CASE WHEN status = 'pending' AND ? THEN 'failed' ELSE status END
			WHERE id = ?`, sqlrow.Millis(next), errText, giveUp, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("outbox %d: %w", id, mamori.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("retry outbox: %w", err)
	}
	return nil
}

// PostedRef returns where the message with that Ref was last posted.
func (db *DB) PostedRef(ctx context.Context, ref string) (mamori.Posted, error) {
	var p mamori.Posted
	err := db.ro.QueryRowContext(ctx, `SELECT channel, ts FROM posted_refs WHERE ref = ?`, ref).Scan(&p.Channel, &p.TS)
	if err != nil {
		return mamori.Posted{}, sqlrow.NotFound(err, "posted ref")
	}
	return p, nil
}

// ListOutbox lists up to limit items with that status, oldest first.
// A limit of 0 or less lists them all.
func (db *DB) ListOutbox(ctx context.Context, status string, limit int) ([]mamori.OutboxItem, error) {
	if limit <= 0 {
		limit = -1 // no limit, in SQLite
	}
	items, err := db.queryOutbox(ctx, db.ro, `SELECT `+sqlrow.OutboxColumns+` FROM outbox
		WHERE status = ? ORDER BY id LIMIT ?`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return items, nil
}

// ClaimJobs leases up to limit pending jobs that are due at now and not
// leased by another worker, earliest due first.
func (db *DB) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]mamori.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	var jobs []mamori.Job
	err := db.write(ctx, func(ctx context.Context, tx querier) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, key, kind, due, sealed_payload, attempts FROM jobs
			WHERE status = 'pending' AND due <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
			ORDER BY due, id LIMIT ?2`, sqlrow.Millis(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				j       mamori.Job
				due     int64
				payload []byte
			)
			if err := rows.Scan(&j.ID, &j.Key, &j.Kind, &due, &payload, &j.Attempts); err != nil {
				return err
			}
			j.Due = sqlrow.FromMillis(due)
			if payload != nil {
				pt, err := db.sealer.Open(payload, sqlrow.JobAAD(j.Key))
				if err != nil {
					return fmt.Errorf("job %d payload: %w", j.ID, err)
				}
				j.Payload = json.RawMessage(pt)
			}
			jobs = append(jobs, j)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		until := sqlrow.Millis(now.Add(lease))
		for i := range jobs {
			_, err := tx.ExecContext(ctx, `UPDATE jobs SET lease_until = ?, attempts = attempts + 1 WHERE id = ?`, until, jobs[i].ID)
			if err != nil {
				return err
			}
			jobs[i].Attempts++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return jobs, nil
}

// DoneJob marks a pending job done. A job already done or canceled stays
// as it is.
func (db *DB) DoneJob(ctx context.Context, id int64, now time.Time) error {
	err := db.write(ctx, func(ctx context.Context, tx querier) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM jobs WHERE id = ?`, id).Scan(&status); err != nil {
			return sqlrow.NotFound(err, fmt.Sprintf("job %d", id))
		}
		if status != "pending" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'done', done_at = ?, lease_until = NULL WHERE id = ?`, sqlrow.Millis(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("done job: %w", err)
	}
	return nil
}

// CountOutbox counts the items whose key starts with prefix, by status.
func (db *DB) CountOutbox(ctx context.Context, prefix string) (map[string]int, error) {
	// key >= prefix AND key < prefix+U+10FFFF uses outbox_key when the
	// query repeats its condition; fresh keys are not in it, and a prefix
	// that may begin one looks at every item.
	q := `SELECT status, count(*) FROM outbox WHERE key >= ? AND key < ?`
	if !strings.HasPrefix(prefix, mamori.FreshKey) && !strings.HasPrefix(mamori.FreshKey, prefix) {
		q += ` AND substr(key, 1, 3) <> 'in:'`
	}
	rows, err := db.ro.QueryContext(ctx, q+` GROUP BY status`, prefix, prefix+"\U0010FFFF")
	if err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("count outbox: %w", err)
		}
		counts[status] = n
	}
	return counts, rows.Err()
}
