package sqlrow

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/audit"
	"github.com/mamori-oss/mamori/store/seal"
)

// Tx is a mamori.Tx in one SQL transaction, the same for every SQL store:
// each backend opens, migrates and commits its own way and hands Tx its
// transaction and Dialect.
type Tx struct {
	Ctx     context.Context
	Q       Querier
	Sealer  *seal.Sealer
	Dialect *Dialect
	Write   bool // an Update, whose reads of rows to change lock them (Dialect.LockRows)
}

var _ mamori.Tx = (*Tx)(nil)

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	return t.Q.ExecContext(t.Ctx, t.Dialect.Q(query), args...)
}

// update runs an UPDATE of one row and says what (in its error) when it
// fails or finds no row: mamori.ErrNotFound.
func (t *Tx) update(what, query string, args ...any) error {
	res, err := t.exec(query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, mamori.ErrNotFound)
	}
	return nil
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	return t.Q.QueryContext(t.Ctx, t.Dialect.Q(query), args...)
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	return t.Q.QueryRowContext(t.Ctx, t.Dialect.Q(query), args...)
}

// forUpdate locks the rows a query reads in an Update, where the dialect
// locks rows. A read-only View cannot lock.
func (t *Tx) forUpdate() string {
	if t.Write && t.Dialect.LockRows {
		return ` FOR UPDATE`
	}
	return ``
}

func (t *Tx) Seen(key string, at time.Time) (bool, error) {
	res, err := t.exec(`INSERT INTO seen (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, Millis(at))
	if err != nil {
		return false, fmt.Errorf("seen: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("seen: %w", err)
	}
	return n == 1, nil
}

func (t *Tx) Conversation(userKey string) (mamori.Conversation, error) {
	var sealed []byte
	err := t.queryRow(`SELECT sealed_state FROM conversations WHERE user_key = ?`+t.forUpdate(), userKey).Scan(&sealed)
	if err != nil {
		return mamori.Conversation{}, NotFound(err, "conversation")
	}
	var c mamori.Conversation
	if err := OpenJSON(t.Sealer, sealed, ConvAAD(userKey), &c); err != nil {
		return mamori.Conversation{}, fmt.Errorf("conversation %s: %w", userKey, err)
	}
	return c, nil
}

func (t *Tx) PutConversation(c mamori.Conversation) error {
	if c.User.ID == "" {
		return fmt.Errorf("put conversation: no user: %w", mamori.ErrInvalid)
	}
	key := c.User.Key()
	sealed, err := SealJSON(t.Sealer, c, ConvAAD(key))
	if err != nil {
		return fmt.Errorf("put conversation: %w", err)
	}
	_, err = t.exec(`
		INSERT INTO conversations (user_key, sealed_state, updated) VALUES (?, ?, ?)
		ON CONFLICT (user_key) DO UPDATE SET sealed_state = excluded.sealed_state, updated = excluded.updated`,
		key, sealed, Millis(c.Updated))
	if err != nil {
		return fmt.Errorf("put conversation: %w", err)
	}
	return nil
}

func (t *Tx) DeleteConversation(userKey string) error {
	if _, err := t.exec(`DELETE FROM conversations WHERE user_key = ?`, userKey); err != nil {
		return fmt.Errorf("delete conversation: %w", err)
	}
	return nil
}

// NextNumber is one upsert: concurrent callers wait on the row's lock and
// each gets its own number.
func (t *Tx) NextNumber(kind string, year int) (int, error) {
	var n int
	err := t.queryRow(`
		INSERT INTO case_numbers (kind, year, last_number) VALUES (?, ?, 1)
		ON CONFLICT (kind, year) DO UPDATE SET last_number = case_numbers.last_number + 1
		RETURNING last_number`, kind, year).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("next number: %w", err)
	}
	return n, nil
}

func (t *Tx) InsertCase(c mamori.Case) error {
	if c.Number == "" {
		return fmt.Errorf("insert case: no number: %w", mamori.ErrInvalid)
	}
	reporter, err := json.Marshal(c.Reporter)
	if err != nil {
		return fmt.Errorf("insert case: %w", err)
	}
	behaviours, err := json.Marshal(c.Behaviours)
	if err != nil {
		return fmt.Errorf("insert case: %w", err)
	}
	answers, err := SealJSON(t.Sealer, c.Answers, CaseAAD(c.Number))
	if err != nil {
		return fmt.Errorf("insert case: %w", err)
	}
	// ON CONFLICT DO NOTHING rather than a unique violation, which would
	// abort the whole transaction in PostgreSQL (SQLite carries on).
	res, err := t.exec(`
		INSERT INTO cases (number, kind, reporter_key, reporter, department, route, channel,
			status, urgency, suggestion, crime, behaviours, created, sealed_answers)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (number) DO NOTHING`,
		c.Number, c.Kind, c.Reporter.Key(), string(reporter), c.Department, c.Route, c.Channel,
		c.Status, c.Urgency, c.Suggestion, c.Crime, string(behaviours), Millis(c.Created), answers)
	if err != nil && t.Dialect.IsUnique(err) {
		return fmt.Errorf("insert case %s: %w", c.Number, mamori.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert case %s: %w", c.Number, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("insert case %s: %w", c.Number, err)
	} else if n == 0 {
		return fmt.Errorf("insert case %s: %w", c.Number, mamori.ErrConflict)
	}
	return nil
}

func (t *Tx) UpdateCase(c mamori.Case) error {
	var decision []byte
	if c.Decision != nil {
		var err error
		if decision, err = SealJSON(t.Sealer, c.Decision, DecisionAAD(c.Number)); err != nil {
			return fmt.Errorf("update case: %w", err)
		}
	}
	return t.update("update case "+c.Number, `UPDATE cases SET status = ?, assignee = ?, sealed_decision = ?, updated = ?,
		checkins_stopped = ?, taken = ?, judged = ? WHERE number = ?`, c.Status, c.Assignee, decision, Millis(c.Updated),
		c.CheckinsStopped, MillisOrZero(c.Taken), MillisOrZero(c.Judged), c.Number)
}

func (t *Tx) Case(number string) (mamori.Case, error) {
	c, err := ScanCase(t.Sealer, t.queryRow(`SELECT `+CaseColumns+` FROM cases WHERE number = ?`+t.forUpdate(), number))
	if err != nil {
		return mamori.Case{}, NotFound(err, "case "+number)
	}
	return c, nil
}

func (t *Tx) Cases(f mamori.CaseFilter) ([]mamori.Case, error) {
	q := `SELECT ` + CaseColumns + ` FROM cases WHERE true`
	var args []any
	if len(f.Departments) > 0 {
		var in string
		in, args = t.Dialect.In(`department`, f.Departments, args)
		q += ` AND ` + in
	}
	if f.Open {
		q += ` AND status <> '` + mamori.StatusJudged + `'`
	}
	if !f.From.IsZero() {
		q += ` AND created >= ?`
		args = append(args, Millis(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND created < ?`
		args = append(args, Millis(f.To))
	}
	q += ` ORDER BY created, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	return t.queryCases("cases", q, args...)
}

func (t *Tx) CasesOf(userKey string) ([]mamori.Case, error) {
	return t.queryCases("cases of", `SELECT `+CaseColumns+` FROM cases
		WHERE reporter_key = ? ORDER BY created DESC, id DESC`, userKey)
}

// queryCases runs a query over CaseColumns and reads every case.
func (t *Tx) queryCases(what, q string, args ...any) ([]mamori.Case, error) {
	cases, err := All(t, q, args, func(row Scanner) (mamori.Case, error) { return ScanCase(t.Sealer, row) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return cases, nil
}

// One scans a row of one column, for All.
func One[T any](row Scanner) (v T, err error) { return v, row.Scan(&v) }

// All runs a query in t and reads every row with scan.
func All[T any](t *Tx, q string, args []any, scan func(Scanner) (T, error)) ([]T, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rows.Err()
}

func (t *Tx) Enqueue(m mamori.OutboxItem) error {
	if m.Key == "" {
		return fmt.Errorf("enqueue: no key: %w", mamori.ErrInvalid)
	}
	target, err := json.Marshal(m.Target)
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	msg, err := SealJSON(t.Sealer, m.Message, OutboxAAD(m.Key))
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	// An item is due as soon as it is created. No conflict target: SQLite
	// keeps only some keys in a (partial) unique index.
	_, err = t.exec(`
		INSERT INTO outbox (key, target, ref, sealed_message, lang, status, next_at, created)
		VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)
		ON CONFLICT DO NOTHING`,
		m.Key, string(target), m.Message.Ref, msg, string(m.Lang), Millis(m.Created), Millis(m.Created))
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	return nil
}

// OutboxPending looks through an index of the outbox by target (SQLite's
// outbox_pending_target holds the pending items alone; PostgreSQL's
// outbox_target all, of which few are pending).
func (t *Tx) OutboxPending(to mamori.Target, since time.Time) (bool, error) {
	target, err := json.Marshal(to)
	if err != nil {
		return false, fmt.Errorf("outbox pending: %w", err)
	}
	var pending bool
	err = t.queryRow(`SELECT EXISTS (SELECT 1 FROM outbox
		WHERE target = ? AND status = 'pending' AND created >= ?)`, string(target), Millis(since)).Scan(&pending)
	if err != nil {
		return false, fmt.Errorf("outbox pending: %w", err)
	}
	return pending, nil
}

func (t *Tx) Schedule(j mamori.Job) error {
	if j.Key == "" {
		return fmt.Errorf("schedule: no key: %w", mamori.ErrInvalid)
	}
	// A job already pending under the key is left as it is: looked up
	// first, as it mostly is (a report's reminder, scheduled at each
	// start), which costs a read instead of a write that does nothing.
	var pending bool
	if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM jobs WHERE key = ? AND status = 'pending')`, j.Key).Scan(&pending); err != nil {
		return fmt.Errorf("schedule: %w", err)
	} else if pending {
		return nil
	}
	var payload []byte
	if len(j.Payload) > 0 {
		payload = t.Sealer.Seal(j.Payload, JobAAD(j.Key))
	}
	// The partial unique index on pending keys makes sure of it (another
	// replica's job, just committed).
	_, err := t.exec(`
		INSERT INTO jobs (key, kind, due, sealed_payload, status) VALUES (?, ?, ?, ?, 'pending')
		ON CONFLICT DO NOTHING`,
		j.Key, j.Kind, Millis(j.Due), payload)
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	return nil
}

func (t *Tx) CancelJobs(key string) error {
	_, err := t.exec(`UPDATE jobs SET status = 'canceled', lease_until = NULL
		WHERE key = ? AND status = 'pending'`, key)
	if err != nil {
		return fmt.Errorf("cancel jobs: %w", err)
	}
	return nil
}

// Audit appends to the chain, after the dialect's AuditLock if any. The
// row's hash is keyed with a key derived from the Sealer's (audit.Key).
func (t *Tx) Audit(e mamori.AuditEntry) error {
	if t.Dialect.AuditLock != "" {
		if _, err := t.exec(t.Dialect.AuditLock); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	var (
		lastID int64
		prev   string
	)
	err := t.queryRow(`SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&lastID, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: %w", err)
	}
	r := audit.Row{
		ID:      lastID + 1,
		At:      Millis(e.At),
		Actor:   e.Actor,
		Action:  e.Action,
		Subject: e.Subject,
		Detail:  e.Detail,
		Prev:    prev,
	}
	_, err = t.exec(`
		INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.At, r.Actor, r.Action, r.Subject, r.Detail, r.Prev, r.MAC(audit.Key(t.Sealer)))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
