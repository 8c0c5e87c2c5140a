package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/sqlrow"
)

// tx is a sqlrow.Tx on q, for the statements the SQL stores share; write
// for one in a write transaction, whose reads of rows to change lock them.
func (db *DB) tx(ctx context.Context, q sqlrow.Querier, write bool) *sqlrow.Tx {
	return &sqlrow.Tx{Ctx: ctx, Q: q, Sealer: db.sealer, Dialect: dialect, Write: write}
}

// ClaimOutbox leases up to limit pending items that are due at now and not
// leased by another worker: the urgent ones (mamori.UrgentKey) first, then
// the others, each oldest first, and returns them in that order (see
// sqlrow.Claim).
//
// The rows are locked FOR UPDATE SKIP LOCKED, so replicas claiming at once
// take different rows without waiting for each other. A replica skipping
// a row another one is claiming must not take a newer item to the same
// target, or that target would get its messages out of order; so, once
// the rows are locked, an item is let go when an older pending item to
// its target is not among them (for an urgent item, an older urgent one).
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
		t := db.tx(ctx, tx, true)
		at := sqlrow.Millis(now)
		if due, err := t.AnyDue(at); err != nil || !due {
			return err
		}
		cands, err := claimable(ctx, tx, at, limit)
		if err != nil || len(cands) == 0 {
			return err
		}
		// Another replica may have leased some of them meanwhile: they are
		// checked again once locked.
		items, bad, err = t.QueryOutbox(db.log, `SELECT `+sqlrow.OutboxColumns+` FROM outbox
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
		if err := t.FailUnreadable(bad); err != nil {
			return err
		}
		behind, err := sqlrow.All(t, `SELECT x.id FROM outbox x WHERE x.id = ANY($1) AND EXISTS (
			SELECT 1 FROM outbox o WHERE o.target = x.target AND o.status = 'pending' AND o.id < x.id AND o.id <> ALL($1)
				AND (`+urgent("o")+` OR NOT `+urgent("x")+`))`, []any{held}, sqlrow.One[int64])
		if err != nil {
			return err
		}
		items = slices.DeleteFunc(items, func(m mamori.OutboxItem) bool { return slices.Contains(behind, m.ID) })
		sqlrow.UrgentFirst(items)
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

// urgent is the condition that the item aliased as table is urgent.
func urgent(table string) string {
	return fmt.Sprintf(`(%[1]s.key >= '%[2]s' AND %[1]s.key < '%[3]s')`, table, mamori.UrgentKey, sqlrow.UrgentEnd)
}

// claimable returns the ids of up to limit pending items that may be sent
// at the time at (see sqlrow.Claim): the urgent items (through
// outbox_urgent), then every pending item (outbox_pending), each read in
// order, a page at a time, until the limit, so a claim costs the items
// ahead of the ones it takes, not the whole backlog.
func claimable(ctx context.Context, q sqlrow.Querier, at int64, limit int) ([]int64, error) {
	c := sqlrow.Claim{At: at, Limit: limit}
	if err := walk(ctx, q, &c, c.Urgent, sqlrow.UrgentPending); err != nil || c.Full() {
		return c.IDs, err
	}
	err := walk(ctx, q, &c, c.Next, `status = 'pending'`)
	return c.IDs, err
}

// walk reads the pending items that match cond into c with next, in
// order, a page at a time, until c is full.
func walk(ctx context.Context, q sqlrow.Querier, c *sqlrow.Claim, next func(sqlrow.Scanner) (int64, error), cond string) error {
	const page = 500
	var after int64
	for {
		rows, err := q.QueryContext(ctx, `SELECT `+sqlrow.PendingColumns+` FROM outbox
			WHERE `+cond+` AND id > $1 ORDER BY id LIMIT $2`, after, page)
		if err != nil {
			return err
		}
		n := 0
		for !c.Full() && rows.Next() {
			if after, err = next(rows); err != nil {
				rows.Close()
				return err
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if c.Full() || n < page {
			return nil
		}
	}
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
	kept, err := sqlrow.All(db.tx(ctx, db.db, false), `UPDATE outbox o SET lease_until = $1
		FROM unnest($2::bigint[], $3::bigint[]) AS c (id, attempts)
		WHERE o.id = c.id AND o.attempts = c.attempts AND o.status = 'pending' AND o.lease_until > $4
		RETURNING o.id`, []any{sqlrow.Millis(until), ids, attempts, sqlrow.Millis(now)}, sqlrow.One[int64])
	if err != nil {
		return nil, fmt.Errorf("renew outbox: %w", err)
	}
	slices.Sort(kept)
	return kept, nil
}

// common is the methods the SQL stores share (sqlrow.Store), DB's: writes in
// a transaction of their own, locking the rows they change (ClaimJobs
// skips those another replica holds); reads, RetryOutbox's one statement
// and the audit checks, in REPEATABLE READ snapshots, on the pool.
type common = sqlrow.Store

func newCommon(db *DB) common {
	return common{Read: db.db, Snapshot: &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, Lone: true,
		Sealer: db.sealer, Dialect: dialect, Log: db.log, Backend: "postgres",
		Write: func(ctx context.Context, fn func(context.Context, sqlrow.Querier) error) error {
			return db.write(ctx, func(tx *sql.Tx) error { return fn(ctx, tx) })
		}}
}

// CountOutbox counts the items whose key starts with prefix, by status.
func (db *DB) CountOutbox(ctx context.Context, prefix string) (map[string]int, error) {
	// The key is COLLATE "C": key >= prefix AND key < prefix+U+10FFFF
	// compares bytes and uses the key's index.
	rows, err := db.db.QueryContext(ctx, `SELECT status, count(*) FROM outbox WHERE key >= $1 AND key < $2 GROUP BY status`,
		prefix, prefix+"\U0010FFFF")
	return sqlrow.CountByStatus(rows, err)
}
