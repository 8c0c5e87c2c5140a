package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

// tx is a sqlrow.Tx on q, for the statements the SQL stores share.
func (db *DB) tx(ctx context.Context, q querier) *sqlrow.Tx {
	return &sqlrow.Tx{Ctx: ctx, Q: q, Sealer: db.sealer, Dialect: dialect, Write: true}
}

// ClaimOutbox leases up to limit pending items that are due at now and not
// leased by another worker: the urgent ones (mamori.UrgentKey) first, then
// the others, each oldest first, and returns them in that order. An item
// waits while an older pending item to its target is not yet due or is
// leased, so that a target gets its messages in order; an urgent item
// waits only for an older urgent one.
//
// It walks the pending urgent items (outbox_urgent), then the pending
// items in outbox order, and stops at the limit, so a claim costs the items
// ahead of the ones it takes, not the whole backlog; and it looks no
// further when nothing at all is due.
func (db *DB) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]mamori.OutboxItem, error) {
	if limit <= 0 {
		return nil, nil
	}
	var items []mamori.OutboxItem
	err := db.write(ctx, func(ctx context.Context, tx querier) error {
		items = nil
		t := db.tx(ctx, tx)
		at := sqlrow.Millis(now)
		if due, err := t.AnyDue(at); err != nil || !due {
			return err
		}
		ids, err := claimable(ctx, tx, at, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		list, _ := json.Marshal(ids) // for json_each
		var bad []int64
		items, bad, err = t.QueryOutbox(db.log, `SELECT `+sqlrow.OutboxColumns+` FROM outbox
			WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`, string(list))
		if err != nil {
			return err
		}
		if err := t.FailUnreadable(bad); err != nil {
			return err
		}
		sqlrow.UrgentFirst(items)
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
// at the time at (see sqlrow.Claim): the urgent items, then every pending
// item, each walked in order.
func claimable(ctx context.Context, tx querier, at int64, limit int) ([]int64, error) {
	c := sqlrow.Claim{At: at, Limit: limit}
	// INDEXED BY makes a query SQLite cannot run on that index an error,
	// rather than a walk of the whole outbox.
	err := walk(ctx, tx, &c, c.Urgent, `SELECT `+sqlrow.PendingColumns+` FROM outbox INDEXED BY outbox_urgent
		WHERE `+sqlrow.UrgentPending+` ORDER BY id`)
	if err != nil || c.Full() {
		return c.IDs, err
	}
	err = walk(ctx, tx, &c, c.Next, `SELECT `+sqlrow.PendingColumns+` FROM outbox INDEXED BY outbox_pending
		WHERE status = 'pending' ORDER BY id`)
	return c.IDs, err
}

// walk reads query's rows into c with next until c is full.
func walk(ctx context.Context, tx querier, c *sqlrow.Claim, next func(sqlrow.Scanner) (int64, error), query string) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for !c.Full() && rows.Next() {
		if _, err := next(rows); err != nil {
			return err
		}
	}
	return rows.Err()
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

// common is the methods the SQL stores share (sqlrow.Store), DB's: writes
// through the committer, reads and the audit checks on the read pool.
type common = sqlrow.Store

func newCommon(db *DB) common {
	return common{Read: db.ro, Write: db.write, Sealer: db.sealer, Dialect: dialect, Log: db.log, Backend: "sqlite"}
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
	return sqlrow.CountByStatus(rows, err)
}
