package sqlrow

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mamori-oss/mamori"
)

// openKey keeps one open task per case and reason.
func openKey(c mamori.CareTask) any {
	if c.Status == mamori.CareClosed {
		return nil
	}
	return c.Number + ":" + c.Reason
}

func (t *Tx) InsertCareTask(c mamori.CareTask) (int64, bool, error) {
	if c.Number == "" || c.Reason == "" {
		return 0, false, fmt.Errorf("insert care task: no case or reason: %w", mamori.ErrInvalid)
	}
	if c.Status == "" {
		c.Status = mamori.CareOpen
	}
	reporter, err := json.Marshal(c.Reporter)
	if err != nil {
		return 0, false, fmt.Errorf("insert care task: %w", err)
	}
	// The id is in the seal's associated data, so the row is made first
	// with an empty blob and sealed once the id is known. An open task
	// for the same case and reason (another replica's, just committed
	// included) makes the insert do nothing; that task is returned.
	var id int64
	err = t.queryRow(`INSERT INTO care_tasks (number, reporter, status, assignee, due, created, updated, open_key, sealed_care)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (open_key) DO NOTHING RETURNING id`, c.Number, string(reporter), c.Status, c.Assignee,
		Millis(c.Due), Millis(c.Created), Millis(c.Created), openKey(c), []byte{}).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if err := t.queryRow(`SELECT id FROM care_tasks WHERE open_key = ?`, openKey(c)).Scan(&id); err != nil {
			return 0, false, fmt.Errorf("insert care task: %w", err)
		}
		return id, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("insert care task: %w", err)
	}
	c.ID, c.Updated = id, c.Created
	return id, true, t.UpdateCareTask(c)
}

func (t *Tx) UpdateCareTask(c mamori.CareTask) error {
	sealed, err := SealJSON(t.Sealer, CareSealed{Reason: c.Reason, Words: c.Words, Notes: c.Notes}, CareAAD(c.ID))
	if err != nil {
		return fmt.Errorf("update care task: %w", err)
	}
	return t.update(fmt.Sprintf("update care task %d", c.ID), `UPDATE care_tasks SET status = ?, assignee = ?, due = ?, updated = ?,
		open_key = ?, sealed_care = ? WHERE id = ?`, c.Status, c.Assignee, Millis(c.Due), Millis(c.Updated), openKey(c), sealed, c.ID)
}

func (t *Tx) CareTask(id int64) (mamori.CareTask, error) {
	c, err := ScanCareTask(t.Sealer, t.queryRow(`SELECT `+CareColumns+` FROM care_tasks WHERE id = ?`+t.forUpdate(), id))
	if err != nil {
		return mamori.CareTask{}, NotFound(err, fmt.Sprintf("care task %d", id))
	}
	return c, nil
}

func (t *Tx) CareTasks(open bool) ([]mamori.CareTask, error) {
	q := `SELECT ` + CareColumns + ` FROM care_tasks`
	if open {
		q += ` WHERE status <> '` + mamori.CareClosed + `'`
	}
	tasks, err := All(t, q+` ORDER BY created, id`, nil, func(row Scanner) (mamori.CareTask, error) { return ScanCareTask(t.Sealer, row) })
	if err != nil {
		return nil, fmt.Errorf("care tasks: %w", err)
	}
	return tasks, nil
}

func (t *Tx) Assign(a mamori.Assignment) (bool, error) {
	if a.Programme == "" || a.User.ID == "" || a.Round < 1 {
		return false, fmt.Errorf("assign: no programme, user or round: %w", mamori.ErrInvalid)
	}
	user, err := json.Marshal(a.User)
	if err != nil {
		return false, fmt.Errorf("assign: %w", err)
	}
	res, err := t.exec(`INSERT INTO training (programme, user_key, round, "user", department, assigned, due, done, nudged)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, a.Programme, a.User.Key(), a.Round, string(user), a.Department,
		Millis(a.Assigned), Millis(a.Due), MillisOrZero(a.Done), MillisOrZero(a.Nudged))
	if err != nil {
		return false, fmt.Errorf("assign: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// trainingColumns are the columns ScanAssignment reads; "user" is quoted
// for PostgreSQL, where it is a keyword.
const trainingColumns = `programme, round, "user", department, assigned, due, done, nudged`

func (t *Tx) Assignment(programme, userKey string, round int) (mamori.Assignment, error) {
	a, err := ScanAssignment(t.queryRow(`SELECT `+trainingColumns+` FROM training
		WHERE programme = ? AND user_key = ? AND round = ?`+t.forUpdate(), programme, userKey, round))
	if err != nil {
		return mamori.Assignment{}, NotFound(err, "assignment")
	}
	return a, nil
}

func (t *Tx) PutAssignment(a mamori.Assignment) error {
	return t.update("put assignment", `UPDATE training SET done = ?, nudged = ?, due = ?
		WHERE programme = ? AND user_key = ? AND round = ?`, MillisOrZero(a.Done), MillisOrZero(a.Nudged), Millis(a.Due),
		a.Programme, a.User.Key(), a.Round)
}

func (t *Tx) Assignments(f mamori.AssignmentFilter) ([]mamori.Assignment, error) {
	q := `SELECT ` + trainingColumns + ` FROM training WHERE true`
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
		var in string
		in, args = t.Dialect.In(`department`, f.Departments, args)
		q += ` AND ` + in
	}
	if !f.OverdueAt.IsZero() {
		q += ` AND done = 0 AND due < ?`
		args = append(args, Millis(f.OverdueAt))
	}
	q += ` ORDER BY due, programme, user_key`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	list, err := All(t, q, args, ScanAssignment)
	if err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	return list, nil
}

func (t *Tx) PutReference(key string, data []byte, at time.Time) error {
	if key == "" {
		return fmt.Errorf("put reference: no key: %w", mamori.ErrInvalid)
	}
	_, err := t.exec(`INSERT INTO refs (key, data, updated) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated = excluded.updated`, key, data, Millis(at))
	if err != nil {
		return fmt.Errorf("put reference: %w", err)
	}
	return nil
}

func (t *Tx) Reference(key string) ([]byte, error) {
	var data []byte
	if err := t.queryRow(`SELECT data FROM refs WHERE key = ?`, key).Scan(&data); err != nil {
		return nil, NotFound(err, "reference")
	}
	return data, nil
}
