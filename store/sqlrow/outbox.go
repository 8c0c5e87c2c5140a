package sqlrow

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/seal"
)

// The statements of the Outbox and Jobs methods that the SQL stores
// share, each run by the store in a transaction of its own (Write set) or,
// for reads, on its pool. Each store keeps its own outbox claim and lease
// renewal, which differ in how they walk and lock.

// QueryOutbox reads items selected with OutboxColumns, setting aside those
// that cannot be read (a damaged row, a blob sealed with another key) so
// that one bad row does not stop every other message.
func (t *Tx) QueryOutbox(log *slog.Logger, query string, args ...any) (items []mamori.OutboxItem, bad []int64, err error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := ScanOutbox(t.Sealer, rows)
		if err != nil {
			if m.ID == 0 {
				return nil, nil, err
			}
			log.Error("unreadable outbox item", "id", m.ID, "err", err)
			bad = append(bad, m.ID)
			continue
		}
		items = append(items, m)
	}
	return items, bad, rows.Err()
}

// FailUnreadable marks failed for good the items QueryOutbox set aside.
func (t *Tx) FailUnreadable(bad []int64) error {
	return t.execIDs(`UPDATE outbox SET status = 'failed', last_error = 'unreadable: damaged or sealed with another key'`, bad)
}

// execIDs runs stmt, an UPDATE with no WHERE, on the rows with those ids:
// in one statement where the dialect has arrays, else once a row.
func (t *Tx) execIDs(stmt string, ids []int64, args ...any) error {
	if len(ids) == 0 {
		return nil
	}
	if t.Dialect.Arrays {
		_, err := t.exec(stmt+` WHERE id = ANY(?)`, append(args, ids)...)
		return err
	}
	stmt += ` WHERE id = ?`
	for _, id := range ids {
		if _, err := t.exec(stmt, append(args, id)...); err != nil {
			return err
		}
	}
	return nil
}

// AnyDue reports whether any pending item is due at the time at and not
// leased, so that a claim looks no further when none is.
func (t *Tx) AnyDue(at int64) (bool, error) {
	var due bool
	err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending' AND next_at <= ?1
		AND (lease_until IS NULL OR lease_until <= ?1))`, at).Scan(&due)
	return due, err
}

// SentOutbox marks an item sent and, when its message has a Ref, records
// where it was posted.
func (t *Tx) SentOutbox(id int64, p mamori.Posted, now time.Time) error {
	var ref string
	if err := t.queryRow(`UPDATE outbox SET status = 'sent', sent_at = ?, lease_until = NULL WHERE id = ? RETURNING ref`,
		Millis(now), id).Scan(&ref); err != nil {
		return NotFound(err, fmt.Sprintf("outbox %d", id))
	}
	if ref == "" || p.TS == "" {
		return nil // (a tidy-up with nothing to tidy posts nothing)
	}
	_, err := t.exec(`INSERT INTO posted_refs (ref, channel, ts) VALUES (?, ?, ?)
		ON CONFLICT (ref) DO UPDATE SET channel = excluded.channel, ts = excluded.ts`, ref, p.Channel, p.TS)
	return err
}

// RetryOutbox releases an item's lease after a failed attempt, due again
// at next, or marks it failed for good with giveUp. A sent item stays sent.
func (t *Tx) RetryOutbox(id int64, next time.Time, errText string, giveUp bool) error {
	res, err := t.exec(`UPDATE outbox
		SET next_at = ?, last_error = ?, lease_until = NULL,
			status = CASE WHEN status = 'pending' AND CAST(? AS BOOLEAN) THEN 'failed' ELSE status END
		WHERE id = ?`, Millis(next), errText, giveUp, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("outbox %d: %w", id, mamori.ErrNotFound)
	}
	return nil
}

// PostedRef returns where the message with that Ref was last posted.
func (t *Tx) PostedRef(ref string) (mamori.Posted, error) {
	var p mamori.Posted
	if err := t.queryRow(`SELECT channel, ts FROM posted_refs WHERE ref = ?`, ref).Scan(&p.Channel, &p.TS); err != nil {
		return mamori.Posted{}, NotFound(err, "posted ref")
	}
	return p, nil
}

// ListOutbox lists up to limit items with that status, oldest first.
// A limit of 0 or less lists them all.
func (t *Tx) ListOutbox(log *slog.Logger, status string, limit int) ([]mamori.OutboxItem, error) {
	q := `SELECT ` + OutboxColumns + ` FROM outbox WHERE status = ? ORDER BY id`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	items, _, err := t.QueryOutbox(log, q, status)
	return items, err
}

// ClaimJobs leases up to limit pending jobs that are due at now and not
// leased by another worker, earliest due first, locking them with the
// dialect's ClaimLock.
func (t *Tx) ClaimJobs(now time.Time, lease time.Duration, limit int) ([]mamori.Job, error) {
	jobs, err := All(t, `SELECT id, key, kind, due, sealed_payload, attempts FROM jobs
		WHERE status = 'pending' AND due <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
		ORDER BY due, id LIMIT ?2`+t.Dialect.ClaimLock, []any{Millis(now), limit},
		func(row Scanner) (mamori.Job, error) { return scanJob(t.Sealer, row) })
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	ids := make([]int64, len(jobs))
	for i := range jobs {
		ids[i] = jobs[i].ID
		jobs[i].Attempts++
	}
	if err := t.execIDs(`UPDATE jobs SET lease_until = ?, attempts = attempts + 1`, ids, Millis(now.Add(lease))); err != nil {
		return nil, err
	}
	return jobs, nil
}

func scanJob(s *seal.Sealer, row Scanner) (mamori.Job, error) {
	var (
		j       mamori.Job
		due     int64
		payload []byte
	)
	if err := row.Scan(&j.ID, &j.Key, &j.Kind, &due, &payload, &j.Attempts); err != nil {
		return j, err
	}
	j.Due = FromMillis(due)
	if payload != nil {
		pt, err := s.Open(payload, JobAAD(j.Key))
		if err != nil {
			return j, fmt.Errorf("job %d payload: %w", j.ID, err)
		}
		j.Payload = json.RawMessage(pt)
	}
	return j, nil
}

// DoneJob marks a pending job done. A job already done or canceled stays
// as it is.
func (t *Tx) DoneJob(id int64, now time.Time) error {
	var status string
	if err := t.queryRow(`SELECT status FROM jobs WHERE id = ?`+t.forUpdate(), id).Scan(&status); err != nil {
		return NotFound(err, fmt.Sprintf("job %d", id))
	}
	if status != "pending" {
		return nil
	}
	_, err := t.exec(`UPDATE jobs SET status = 'done', done_at = ?, lease_until = NULL WHERE id = ?`, Millis(now), id)
	return err
}

// CountByStatus reads CountOutbox's rows (status, count), as
// QueryContext returned them.
func CountByStatus(rows *sql.Rows, err error) (map[string]int, error) {
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
