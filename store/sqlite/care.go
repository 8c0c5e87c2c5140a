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

// openKey keeps one open task per case and reason.
func openKey(c mamori.CareTask) any {
	if c.Status == mamori.CareClosed {
		return nil
	}
	return c.Number + ":" + c.Reason
}

func (t *tx) InsertCareTask(c mamori.CareTask) (int64, bool, error) {
	if c.Number == "" || c.Reason == "" {
		return 0, false, fmt.Errorf("insert care task: no case or reason: %w", mamori.ErrInvalid)
	}
	if c.Status == "" {
		c.Status = mamori.CareOpen
	}
	var id int64
	err := t.tx.QueryRowContext(t.ctx, `SELECT id FROM care_tasks WHERE open_key = ?`, openKey(c)).Scan(&id)
	if err == nil {
		return id, false, nil
	} else if err != sql.ErrNoRows {
		return 0, false, fmt.Errorf("insert care task: %w", err)
	}
	reporter, err := json.Marshal(c.Reporter)
	if err != nil {
		return 0, false, fmt.Errorf("insert care task: %w", err)
	}
	// The id is in the seal's associated data, so the row is made first
	// with an empty blob and sealed once the id is known.
	err = t.tx.QueryRowContext(t.ctx, `INSERT INTO care_tasks (number, reporter, status, assignee, due, created, updated, open_key, sealed_care)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, x'') RETURNING id`, c.Number, string(reporter), c.Status, c.Assignee,
		sqlrow.Millis(c.Due), sqlrow.Millis(c.Created), sqlrow.Millis(c.Created), openKey(c)).Scan(&id)
	if err != nil {
		return 0, false, fmt.Errorf("insert care task: %w", err)
	}
	c.ID, c.Updated = id, c.Created
	return id, true, t.UpdateCareTask(c)
}

func (t *tx) UpdateCareTask(c mamori.CareTask) error {
	sealed, err := sqlrow.SealJSON(t.sealer, sqlrow.CareSealed{Reason: c.Reason, Notes: c.Notes}, sqlrow.CareAAD(c.ID))
	if err != nil {
		return fmt.Errorf("update care task: %w", err)
	}
	res, err := t.tx.ExecContext(t.ctx, `UPDATE care_tasks SET status = ?, assignee = ?, due = ?, updated = ?, open_key = ?, sealed_care = ?
		WHERE id = ?`, c.Status, c.Assignee, sqlrow.Millis(c.Due), sqlrow.Millis(c.Updated), openKey(c), sealed, c.ID)
	if err != nil {
		return fmt.Errorf("update care task %d: %w", c.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update care task %d: %w", c.ID, mamori.ErrNotFound)
	}
	return nil
}

func (t *tx) CareTask(id int64) (mamori.CareTask, error) {
	c, err := sqlrow.ScanCareTask(t.sealer, t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrow.CareColumns+` FROM care_tasks WHERE id = ?`, id))
	if err != nil {
		return mamori.CareTask{}, sqlrow.NotFound(err, fmt.Sprintf("care task %d", id))
	}
	return c, nil
}

func (t *tx) CareTasks(open bool) ([]mamori.CareTask, error) {
	q := `SELECT ` + sqlrow.CareColumns + ` FROM care_tasks`
	if open {
		q += ` WHERE status <> '` + mamori.CareClosed + `'`
	}
	rows, err := t.tx.QueryContext(t.ctx, q+` ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("care tasks: %w", err)
	}
	defer rows.Close()
	var tasks []mamori.CareTask
	for rows.Next() {
		c, err := sqlrow.ScanCareTask(t.sealer, rows)
		if err != nil {
			return nil, fmt.Errorf("care tasks: %w", err)
		}
		tasks = append(tasks, c)
	}
	return tasks, rows.Err()
}

func (t *tx) Assign(a mamori.Assignment) (bool, error) {
	if a.Programme == "" || a.User.ID == "" || a.Round < 1 {
		return false, fmt.Errorf("assign: no programme, user or round: %w", mamori.ErrInvalid)
	}
	user, err := json.Marshal(a.User)
	if err != nil {
		return false, fmt.Errorf("assign: %w", err)
	}
	res, err := t.tx.ExecContext(t.ctx, `INSERT INTO training (programme, user_key, round, user, department, assigned, due, done, nudged)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, a.Programme, a.User.Key(), a.Round, string(user), a.Department,
		sqlrow.Millis(a.Assigned), sqlrow.Millis(a.Due), sqlrow.MillisOrZero(a.Done), sqlrow.MillisOrZero(a.Nudged))
	if err != nil {
		return false, fmt.Errorf("assign: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const trainingColumns = `programme, round, user, department, assigned, due, done, nudged`

func (t *tx) Assignment(programme, userKey string, round int) (mamori.Assignment, error) {
	a, err := sqlrow.ScanAssignment(t.tx.QueryRowContext(t.ctx, `SELECT `+trainingColumns+` FROM training
		WHERE programme = ? AND user_key = ? AND round = ?`, programme, userKey, round))
	if err != nil {
		return mamori.Assignment{}, sqlrow.NotFound(err, "assignment")
	}
	return a, nil
}

func (t *tx) PutAssignment(a mamori.Assignment) error {
	res, err := t.tx.ExecContext(t.ctx, `UPDATE training SET done = ?, nudged = ?, due = ?
		WHERE programme = ? AND user_key = ? AND round = ?`, sqlrow.MillisOrZero(a.Done), sqlrow.MillisOrZero(a.Nudged), sqlrow.Millis(a.Due),
		a.Programme, a.User.Key(), a.Round)
	if err != nil {
		return fmt.Errorf("put assignment: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("put assignment: %w", mamori.ErrNotFound)
	}
	return nil
}

func (t *tx) Assignments(f mamori.AssignmentFilter) ([]mamori.Assignment, error) {
	q := `SELECT ` + trainingColumns + ` FROM training WHERE 1 = 1`
	var args []any
	if f.Programme != "" {
		q += ` AND programme = ?`
		args = append(args, f.Programme)
	}
	if f.Round > 0 {
		q += ` AND round = ?`
		args = append(args, f.Round)
	}
	if len(f.Departments) > 0 {
		q += ` AND department IN (?` + strings.Repeat(`, ?`, len(f.Departments)-1) + `)`
		for _, d := range f.Departments {
			args = append(args, d)
		}
	}
	if !f.OverdueAt.IsZero() {
		q += ` AND done = 0 AND due < ?`
		args = append(args, sqlrow.Millis(f.OverdueAt))
	}
	q += ` ORDER BY due, programme, user_key`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	defer rows.Close()
	var list []mamori.Assignment
	for rows.Next() {
		a, err := sqlrow.ScanAssignment(rows)
		if err != nil {
			return nil, fmt.Errorf("assignments: %w", err)
		}
		list = append(list, a)
	}
	return list, rows.Err()
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

func (t *tx) PutReference(key string, data []byte, at time.Time) error {
	if key == "" {
		return fmt.Errorf("put reference: no key: %w", mamori.ErrInvalid)
	}
	_, err := t.tx.ExecContext(t.ctx, `INSERT INTO refs (key, data, updated) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated = excluded.updated`, key, data, sqlrow.Millis(at))
	if err != nil {
		return fmt.Errorf("put reference: %w", err)
	}
	return nil
}

func (t *tx) Reference(key string) ([]byte, error) {
	var data []byte
	if err := t.tx.QueryRowContext(t.ctx, `SELECT data FROM refs WHERE key = ?`, key).Scan(&data); err != nil {
		return nil, sqlrow.NotFound(err, "reference")
	}
	return data, nil
}
