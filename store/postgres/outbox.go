package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// queryOutbox reads items, setting aside those that cannot be read (a
// damaged row, a blob sealed with another key) so that one bad row does
// not stop every other message.
func (db *DB) queryOutbox(ctx context.Context, q querier, query string, args ...any) (items []mamori.OutboxItem, bad []int64, err error) {
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
			db.log.Error("postgres: unreadable outbox item", "id", m.ID, "err", err)
			bad = append(bad, m.ID)
			continue
		}
		items = append(items, m)
	}
	return items, bad, rows.Err()
}

// ClaimOutbox leases up to limit pending items that are due at now and not
// leased by another worker, oldest first.
//
// The rows are locked FOR UPDATE SKIP LOCKED, so replicas claiming at once
// take different rows without waiting for each other. A replica skipping
// a row another one is claiming must not take a newer item to the same
// target, or that target would get its messages out of order; so, once
// the rows are locked, an item is let go when an older pending item to
// its target is not among them.
func (db *DB) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]mamori.OutboxItem, error) {
	if limit <= 0 {
		return nil, nil
	}
	var items []mamori.OutboxItem
	err := db.write(ctx, func(tx *sql.Tx) error {
		var (
			err error
			bad []int64
		)
		at := sqlrow.Millis(now)
		var due bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending' AND next_at <= $1
			AND (lease_until IS NULL OR lease_until <= $1))`, at).Scan(&due); err != nil || !due {
			return err
		}
		cands, err := claimable(ctx, tx, at, limit)
		if err != nil || len(cands) == 0 {
			return err
		}
		// Another replica may have leased some of them meanwhile: they are
		// checked again once locked.
		items, bad, err = db.queryOutbox(ctx, tx, `SELECT `+sqlrow.OutboxColumns+` FROM outbox
			WHERE id = ANY($1) AND status = 'pending' AND next_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
			ORDER BY id FOR UPDATE SKIP LOCKED`, cands, at)
		if err != nil {
			return err
		}
		held := make([]int64, 0, len(items)+len(bad))
		for _, m := range items {
			held = append(held, m.ID)
		}
		held = append(held, bad...)
		if len(held) == 0 {
			return nil
		}
		if len(bad) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'failed', last_error = 'unreadable: damaged or sealed with another key'
				WHERE id = ANY($1)`, bad); err != nil {
				return err
			}
		}
		behind, err := int64s(ctx, tx, `SELECT x.id FROM outbox x WHERE x.id = ANY($1) AND EXISTS (
			SELECT 1 FROM outbox o WHERE o.target = x.target AND o.status = 'pending' AND o.id < x.id AND o.id <> ALL($1))`, held)
		if err != nil {
			return err
		}
		items = slices.DeleteFunc(items, func(m mamori.OutboxItem) bool { return slices.Contains(behind, m.ID) })
		ids := make([]int64, len(items))
		for i := range items {
			ids[i] = items[i].ID
			items[i].Attempts++
		}
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET lease_until = $1, attempts = attempts + 1 WHERE id = ANY($2)`,
			sqlrow.Millis(now.Add(lease)), ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return items, nil
}

// claimable returns the ids of up to limit pending items that may be sent
// at the time at (see sqlrow.Claim). It reads the pending items in order,
// a page at a time, and stops at the limit, so a claim costs the items
// ahead of the ones it takes, not the whole backlog.
func claimable(ctx context.Context, q querier, at int64, limit int) ([]int64, error) {
	const page = 500
	c := sqlrow.Claim{At: at, Limit: limit}
	var after int64
	for {
		rows, err := q.QueryContext(ctx, `SELECT `+sqlrow.PendingColumns+` FROM outbox
			WHERE status = 'pending' AND id > $1 ORDER BY id LIMIT $2`, after, page)
		if err != nil {
			return nil, err
		}
		n := 0
		for !c.Full() && rows.Next() {
			if after, err = c.Next(rows); err != nil {
				rows.Close()
				return nil, err
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if c.Full() || n < page {
			return c.IDs, nil
		}
	}
}

// int64s runs a query returning one number a row.
func int64s(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ns []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	return ns, rows.Err()
}

// RenewOutbox extends the leases of the items still held as claimed, in
// one statement.
func (db *DB) RenewOutbox(ctx context.Context, items []mamori.OutboxItem, now, until time.Time) ([]int64, error) {
	if len(items) == 0 {
		return nil, nil
	}
	ids, attempts := make([]int64, len(items)), make([]int64, len(items))
	for i, it := range items {
		ids[i], attempts[i] = it.ID, int64(it.Attempts)
	}
	rows, err := db.db.QueryContext(ctx, `UPDATE outbox o SET lease_until = $1
		FROM unnest($2::bigint[], $3::bigint[]) AS c (id, attempts)
		WHERE o.id = c.id AND o.attempts = c.attempts AND o.status = 'pending' AND o.lease_until > $4
		RETURNING o.id`, sqlrow.Millis(until), ids, attempts, sqlrow.Millis(now))
	if err != nil {
		return nil, fmt.Errorf("renew outbox: %w", err)
	}
	defer rows.Close()
	var kept []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("renew outbox: %w", err)
		}
		kept = append(kept, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("renew outbox: %w", err)
	}
	slices.Sort(kept)
	return kept, nil
}

// SentOutbox marks an item sent and, when its message has a Ref, records
// where it was posted.
func (db *DB) SentOutbox(ctx context.Context, id int64, p mamori.Posted, now time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var ref string
		if err := tx.QueryRowContext(ctx, `UPDATE outbox SET status = 'sent', sent_at = $1, lease_until = NULL WHERE id = $2 RETURNING ref`,
			sqlrow.Millis(now), id).Scan(&ref); err != nil {
			return sqlrow.NotFound(err, fmt.Sprintf("outbox %d", id))
		}
		if ref == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO posted_refs (ref, channel, ts) VALUES ($1, $2, $3)
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
	res, err := db.db.ExecContext(ctx, `UPDATE outbox
		SET next_at = $1, last_error = $2, lease_until = NULL,
			status = CASE WHEN status = 'pending' AND $3::boolean THEN 'failed' ELSE status END
		WHERE id = $4`, sqlrow.Millis(next), errText, giveUp, id)
	if err != nil {
		return fmt.Errorf("retry outbox: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("retry outbox: %w", err)
	} else if n == 0 {
		return fmt.Errorf("retry outbox: outbox %d: %w", id, mamori.ErrNotFound)
	}
	return nil
}

// PostedRef returns where the message with that Ref was last posted.
func (db *DB) PostedRef(ctx context.Context, ref string) (mamori.Posted, error) {
	var p mamori.Posted
	err := db.db.QueryRowContext(ctx, `SELECT channel, ts FROM posted_refs WHERE ref = $1`, ref).Scan(&p.Channel, &p.TS)
	if err != nil {
		return mamori.Posted{}, sqlrow.NotFound(err, "posted ref")
	}
	return p, nil
}

// ListOutbox lists up to limit items with that status, oldest first.
// A limit of 0 or less lists them all.
func (db *DB) ListOutbox(ctx context.Context, status string, limit int) ([]mamori.OutboxItem, error) {
	var lim any // LIMIT NULL: no limit
	if limit > 0 {
		lim = limit
	}
	items, _, err := db.queryOutbox(ctx, db.db, `SELECT `+sqlrow.OutboxColumns+` FROM outbox
		WHERE status = $1 ORDER BY id LIMIT $2`, status, lim)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return items, nil
}

// ClaimJobs leases up to limit pending jobs that are due at now and not
// leased by another worker, earliest due first. FOR UPDATE SKIP LOCKED
// lets replicas claiming at once take different jobs without waiting.
func (db *DB) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]mamori.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	var jobs []mamori.Job
	err := db.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, key, kind, due, sealed_payload, attempts FROM jobs
			WHERE status = 'pending' AND due <= $1 AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY due, id LIMIT $2 FOR UPDATE SKIP LOCKED`, sqlrow.Millis(now), limit)
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
		if len(jobs) == 0 {
			return nil
		}
		ids := make([]int64, len(jobs))
		for i := range jobs {
			ids[i] = jobs[i].ID
			jobs[i].Attempts++
		}
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET lease_until = $1, attempts = attempts + 1 WHERE id = ANY($2)`,
			sqlrow.Millis(now.Add(lease)), ids)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return jobs, nil
}

// DoneJob marks a pending job done. A job already done or canceled stays
// as it is.
func (db *DB) DoneJob(ctx context.Context, id int64, now time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM jobs WHERE id = $1 FOR UPDATE`, id).Scan(&status); err != nil {
			return sqlrow.NotFound(err, fmt.Sprintf("job %d", id))
		}
		if status != "pending" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'done', done_at = $1, lease_until = NULL WHERE id = $2`, sqlrow.Millis(now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("done job: %w", err)
	}
	return nil
}

// CountOutbox counts the items whose key starts with prefix, by status.
func (db *DB) CountOutbox(ctx context.Context, prefix string) (map[string]int, error) {
	// The key is COLLATE "C": key >= prefix AND key < prefix+U+10FFFF
	// compares bytes and uses the key's index.
	rows, err := db.db.QueryContext(ctx, `SELECT status, count(*) FROM outbox WHERE key >= $1 AND key < $2 GROUP BY status`,
		prefix, prefix+"\U0010FFFF")
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
