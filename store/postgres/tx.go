package postgres

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
	"github.com/mamori-oss/mamori/store/sqlrow"
)

// tx is a mamori.Tx in one PostgreSQL transaction.
type tx struct {
	ctx    context.Context
	tx     *sql.Tx
	sealer *seal.Sealer
	write  bool // an Update: rows read to be changed are locked
}

var _ mamori.Tx = (*tx)(nil)

// forUpdate locks the rows a query reads in an Update, so a concurrent
// read-modify-write of the same row waits for this one (SQLite gets that
// from its single writer). A read-only View cannot lock.
func (t *tx) forUpdate() string {
	if t.write {
		return ` FOR UPDATE`
	}
	return ``
}

func (t *tx) Seen(key string, at time.Time) (bool, error) {
	res, err := t.tx.ExecContext(t.ctx, `INSERT INTO seen (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, sqlrow.Millis(at))
	if err != nil {
		return false, fmt.Errorf("seen: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("seen: %w", err)
	}
	return n == 1, nil
}

func (t *tx) Conversation(userKey string) (mamori.Conversation, error) {
	var sealed []byte
	err := t.tx.QueryRowContext(t.ctx, `SELECT sealed_state FROM conversations WHERE user_key = $1`+t.forUpdate(), userKey).Scan(&sealed)
	if err != nil {
		return mamori.Conversation{}, sqlrow.NotFound(err, "conversation")
	}
	var c mamori.Conversation
	if err := sqlrow.OpenJSON(t.sealer, sealed, sqlrow.ConvAAD(userKey), &c); err != nil {
		return mamori.Conversation{}, fmt.Errorf("conversation %s: %w", userKey, err)
	}
	return c, nil
}

func (t *tx) PutConversation(c mamori.Conversation) error {
	if c.User.ID == "" {
		return fmt.Errorf("put conversation: no user: %w", mamori.ErrInvalid)
	}
	key := c.User.Key()
	sealed, err := sqlrow.SealJSON(t.sealer, c, sqlrow.ConvAAD(key))
	if err != nil {
		return fmt.Errorf("put conversation: %w", err)
	}
	_, err = t.tx.ExecContext(t.ctx, `
		INSERT INTO conversations (user_key, sealed_state, updated) VALUES ($1, $2, $3)
		ON CONFLICT (user_key) DO UPDATE SET sealed_state = excluded.sealed_state, updated = excluded.updated`,
		key, sealed, sqlrow.Millis(c.Updated))
	if err != nil {
		return fmt.Errorf("put conversation: %w", err)
	}
	return nil
}

func (t *tx) DeleteConversation(userKey string) error {
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM conversations WHERE user_key = $1`, userKey); err != nil {
		return fmt.Errorf("delete conversation: %w", err)
	}
	return nil
}

// NextNumber is one upsert: concurrent callers wait on the row's lock and
// each gets its own number.
func (t *tx) NextNumber(kind string, year int) (int, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, `
		INSERT INTO case_numbers (kind, year, last_number) VALUES ($1, $2, 1)
		ON CONFLICT (kind, year) DO UPDATE SET last_number = case_numbers.last_number + 1
		RETURNING last_number`, kind, year).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("next number: %w", err)
	}
	return n, nil
}

func (t *tx) InsertCase(c mamori.Case) error {
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
	answers, err := sqlrow.SealJSON(t.sealer, c.Answers, sqlrow.CaseAAD(c.Number))
	if err != nil {
		return fmt.Errorf("insert case: %w", err)
	}
	// ON CONFLICT DO NOTHING rather than a unique violation, which would
	// abort the whole transaction in PostgreSQL (SQLite carries on).
	res, err := t.tx.ExecContext(t.ctx, `
		INSERT INTO cases (number, kind, reporter_key, reporter, department, route, channel,
			status, urgency, suggestion, crime, behaviours, created, sealed_answers)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (number) DO NOTHING`,
		c.Number, c.Kind, c.Reporter.Key(), string(reporter), c.Department, c.Route, c.Channel,
		c.Status, c.Urgency, c.Suggestion, c.Crime, string(behaviours), sqlrow.Millis(c.Created), answers)
	if isUnique(err) {
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

func (t *tx) UpdateCase(c mamori.Case) error {
	var decision []byte
	if c.Decision != nil {
		var err error
		if decision, err = sqlrow.SealJSON(t.sealer, c.Decision, sqlrow.DecisionAAD(c.Number)); err != nil {
			return fmt.Errorf("update case: %w", err)
		}
	}
	res, err := t.tx.ExecContext(t.ctx, `UPDATE cases SET status = $1, assignee = $2, sealed_decision = $3, updated = $4,
		checkins_stopped = $5, taken = $6, judged = $7 WHERE number = $8`, c.Status, c.Assignee, decision, sqlrow.Millis(c.Updated),
		c.CheckinsStopped, sqlrow.MillisOrZero(c.Taken), sqlrow.MillisOrZero(c.Judged), c.Number)
	if err != nil {
		return fmt.Errorf("update case %s: %w", c.Number, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update case %s: %w", c.Number, mamori.ErrNotFound)
	}
	return nil
}

func (t *tx) Case(number string) (mamori.Case, error) {
	row := t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrow.CaseColumns+` FROM cases WHERE number = $1`+t.forUpdate(), number)
	c, err := sqlrow.ScanCase(t.sealer, row)
	if err != nil {
		return mamori.Case{}, sqlrow.NotFound(err, "case "+number)
	}
	return c, nil
}

func (t *tx) Cases(f mamori.CaseFilter) ([]mamori.Case, error) {
	q := `SELECT ` + sqlrow.CaseColumns + ` FROM cases WHERE true`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if len(f.Departments) > 0 {
		q += ` AND department = ANY(` + arg(f.Departments) + `)`
	}
	if f.Open {
		q += ` AND status <> '` + mamori.StatusJudged + `'`
	}
	if !f.From.IsZero() {
		q += ` AND created >= ` + arg(sqlrow.Millis(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND created < ` + arg(sqlrow.Millis(f.To))
	}
	q += ` ORDER BY created, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	return t.queryCases("cases", q, args...)
}

func (t *tx) CasesOf(userKey string) ([]mamori.Case, error) {
	return t.queryCases("cases of", `SELECT `+sqlrow.CaseColumns+` FROM cases
		WHERE reporter_key = $1 ORDER BY created DESC, id DESC`, userKey)
}

// queryCases runs a query over sqlrow.CaseColumns and reads every case.
func (t *tx) queryCases(what, q string, args ...any) ([]mamori.Case, error) {
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var cases []mamori.Case
	for rows.Next() {
		c, err := sqlrow.ScanCase(t.sealer, rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		cases = append(cases, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return cases, nil
}

func (t *tx) Enqueue(m mamori.OutboxItem) error {
	if m.Key == "" {
		return fmt.Errorf("enqueue: no key: %w", mamori.ErrInvalid)
	}
	target, err := json.Marshal(m.Target)
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	msg, err := sqlrow.SealJSON(t.sealer, m.Message, sqlrow.OutboxAAD(m.Key))
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	// An item is due as soon as it is created.
	_, err = t.tx.ExecContext(t.ctx, `
		INSERT INTO outbox (key, target, ref, sealed_message, lang, status, next_at, created)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)
		ON CONFLICT (key) DO NOTHING`,
		m.Key, string(target), m.Message.Ref, msg, string(m.Lang), sqlrow.Millis(m.Created))
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	return nil
}

// OutboxPending looks through outbox_target (target, status, id): the
// items to one target, of which few are pending.
func (t *tx) OutboxPending(to mamori.Target, since time.Time) (bool, error) {
	target, err := json.Marshal(to)
	if err != nil {
		return false, fmt.Errorf("outbox pending: %w", err)
	}
	var pending bool
	err = t.tx.QueryRowContext(t.ctx, `SELECT EXISTS (SELECT 1 FROM outbox
		WHERE target = $1 AND status = 'pending' AND created >= $2)`, string(target), sqlrow.Millis(since)).Scan(&pending)
	if err != nil {
		return false, fmt.Errorf("outbox pending: %w", err)
	}
	return pending, nil
}

func (t *tx) Schedule(j mamori.Job) error {
	if j.Key == "" {
		return fmt.Errorf("schedule: no key: %w", mamori.ErrInvalid)
	}
	var payload []byte
	if len(j.Payload) > 0 {
		payload = t.sealer.Seal(j.Payload, sqlrow.JobAAD(j.Key))
	}
	// The partial unique index on pending keys turns a second pending job
	// with the same key into a no-op.
	_, err := t.tx.ExecContext(t.ctx, `
		INSERT INTO jobs (key, kind, due, sealed_payload, status) VALUES ($1, $2, $3, $4, 'pending')
		ON CONFLICT DO NOTHING`,
		j.Key, j.Kind, sqlrow.Millis(j.Due), payload)
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	return nil
}

func (t *tx) CancelJobs(key string) error {
	_, err := t.tx.ExecContext(t.ctx, `UPDATE jobs SET status = 'canceled', lease_until = NULL
		WHERE key = $1 AND status = 'pending'`, key)
	if err != nil {
		return fmt.Errorf("cancel jobs: %w", err)
	}
	return nil
}

// Audit appends to the chain. The table lock makes appenders follow one
// another, each reading the row the one before committed; it does not
// block readers, and is held only until this transaction ends.
func (t *tx) Audit(e mamori.AuditEntry) error {
	if _, err := t.tx.ExecContext(t.ctx, `LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	var (
		lastID int64
		prev   string
	)
	err := t.tx.QueryRowContext(t.ctx, `SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1`).Scan(&lastID, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: %w", err)
	}
	r := audit.Row{
		ID:      lastID + 1,
		At:      sqlrow.Millis(e.At),
		Actor:   e.Actor,
		Action:  e.Action,
		Subject: e.Subject,
		Detail:  e.Detail,
		Prev:    prev,
	}
	_, err = t.tx.ExecContext(t.ctx, `
		INSERT INTO audit (id, at, actor, action, subject, detail, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.ID, r.At, r.Actor, r.Action, r.Subject, r.Detail, r.Prev, r.Hash())
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
