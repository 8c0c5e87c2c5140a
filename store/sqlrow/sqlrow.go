// Package sqlrow turns SQL rows into Mamori's domain values and back, the
// same way for every SQL store: times as UTC unix milliseconds, JSON
// columns, and confidential columns sealed and bound to their row.
package sqlrow

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/seal"
)

// Scanner is a *sql.Row or *sql.Rows.
type Scanner interface{ Scan(...any) error }

// Associated data that binds each sealed blob to its row.
func ConvAAD(userKey string) []byte    { return []byte("conv:" + userKey) }
func CaseAAD(number string) []byte     { return []byte("case:" + number) }
func DecisionAAD(number string) []byte { return []byte("decision:" + number) }
func OutboxAAD(key string) []byte      { return []byte("outbox:" + key) }
func JobAAD(key string) []byte         { return []byte("job:" + key) }
func CareAAD(id int64) []byte          { return fmt.Appendf(nil, "care:%d", id) }

// SealJSON marshals v and seals it.
func SealJSON(s *seal.Sealer, v any, aad []byte) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.Seal(b, aad), nil
}

// OpenJSON opens a sealed blob into v.
func OpenJSON(s *seal.Sealer, sealed []byte, aad []byte, v any) error {
	b, err := s.Open(sealed, aad)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Millis is how times are stored: UTC unix milliseconds, which sort and
// compare as numbers.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// FromMillis reads a stored time.
func FromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// MillisOrZero stores the zero time as 0, for columns that may be unset.
func MillisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return Millis(t)
}

// TimeOrZero reads a column MillisOrZero wrote.
func TimeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return FromMillis(ms)
}

// NotFound maps sql.ErrNoRows to mamori.ErrNotFound.
func NotFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, mamori.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CaseColumns are the columns ScanCase reads, in order.
const CaseColumns = `number, kind, reporter, department, route, channel, status,
	urgency, suggestion, crime, behaviours, created, sealed_answers, assignee, sealed_decision, updated, checkins_stopped, taken, judged`

// ScanCase reads a case selected with CaseColumns.
func ScanCase(s *seal.Sealer, row Scanner) (mamori.Case, error) {
	var (
		c                    mamori.Case
		reporter, behaviours string
		created, updated     int64
		taken, judged        int64
		answers, decision    []byte
	)
	err := row.Scan(&c.Number, &c.Kind, &reporter, &c.Department, &c.Route, &c.Channel, &c.Status,
		&c.Urgency, &c.Suggestion, &c.Crime, &behaviours, &created, &answers, &c.Assignee, &decision, &updated, &c.CheckinsStopped,
		&taken, &judged)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(reporter), &c.Reporter); err != nil {
		return c, fmt.Errorf("case %s reporter: %w", c.Number, err)
	}
	if err := json.Unmarshal([]byte(behaviours), &c.Behaviours); err != nil {
		return c, fmt.Errorf("case %s behaviours: %w", c.Number, err)
	}
	c.Created = FromMillis(created)
	if err := OpenJSON(s, answers, CaseAAD(c.Number), &c.Answers); err != nil {
		return c, fmt.Errorf("case %s answers: %w", c.Number, err)
	}
	if decision != nil {
		c.Decision = new(mamori.Decision)
		if err := OpenJSON(s, decision, DecisionAAD(c.Number), c.Decision); err != nil {
			return c, fmt.Errorf("case %s decision: %w", c.Number, err)
		}
	}
	c.Updated, c.Taken, c.Judged = TimeOrZero(updated), TimeOrZero(taken), TimeOrZero(judged)
	return c, nil
}

// OutboxColumns are the columns ScanOutbox reads, in order.
const OutboxColumns = `id, key, target, sealed_message, lang, created, attempts, status, last_error`

// ScanOutbox reads an outbox item selected with OutboxColumns.
func ScanOutbox(s *seal.Sealer, row Scanner) (mamori.OutboxItem, error) {
	var (
		m       mamori.OutboxItem
		target  string
		msg     []byte
		created int64
	)
	if err := row.Scan(&m.ID, &m.Key, &target, &msg, &m.Lang, &created, &m.Attempts, &m.Status, &m.LastErr); err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(target), &m.Target); err != nil {
		return m, fmt.Errorf("outbox %d target: %w", m.ID, err)
	}
	if err := OpenJSON(s, msg, OutboxAAD(m.Key), &m.Message); err != nil {
		return m, fmt.Errorf("outbox %d message: %w", m.ID, err)
	}
	m.Created = FromMillis(created)
	return m, nil
}

// CareSealed is the confidential part of a care task.
type CareSealed struct {
	Reason string            `json:"reason"`
	Words  string            `json:"words,omitempty"`
	Notes  []mamori.CareNote `json:"notes,omitempty"`
}

// CareColumns are the columns ScanCareTask reads, in order.
const CareColumns = `id, number, reporter, status, assignee, due, created, updated, sealed_care`

// ScanCareTask reads a care task selected with CareColumns.
func ScanCareTask(s *seal.Sealer, row Scanner) (mamori.CareTask, error) {
	var (
		c                     mamori.CareTask
		reporter              string
		due, created, updated int64
		sealed                []byte
	)
	if err := row.Scan(&c.ID, &c.Number, &reporter, &c.Status, &c.Assignee, &due, &created, &updated, &sealed); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(reporter), &c.Reporter); err != nil {
		return c, fmt.Errorf("care task %d reporter: %w", c.ID, err)
	}
	var cs CareSealed
	if err := OpenJSON(s, sealed, CareAAD(c.ID), &cs); err != nil {
		return c, fmt.Errorf("care task %d: %w", c.ID, err)
	}
	c.Reason, c.Words, c.Notes = cs.Reason, cs.Words, cs.Notes
	c.Due, c.Created, c.Updated = FromMillis(due), FromMillis(created), FromMillis(updated)
	return c, nil
}

// ScanAssignment reads an assignment selected with the columns
// programme, round, user, department, assigned, due, done, nudged.
func ScanAssignment(row Scanner) (mamori.Assignment, error) {
	var (
		a                           mamori.Assignment
		user                        string
		assigned, due, done, nudged int64
	)
	if err := row.Scan(&a.Programme, &a.Round, &user, &a.Department, &assigned, &due, &done, &nudged); err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(user), &a.User); err != nil {
		return a, fmt.Errorf("assignment user: %w", err)
	}
	a.Assigned, a.Due, a.Done, a.Nudged = FromMillis(assigned), FromMillis(due), TimeOrZero(done), TimeOrZero(nudged)
	return a, nil
}

// PendingColumns are the columns a Claim reads of each pending outbox item.
const PendingColumns = `id, target, next_at, lease_until`

// UrgentPending selects the pending items whose key begins with
// mamori.UrgentKey: the keys from "urgent:" up to "urgent;", the next
// string of that length in byte order. Both SQL stores have a partial index
// on outbox (id) with this condition word for word (outbox_urgent): a
// planner uses a partial index only for a query that repeats its
// condition, literals included, so the claim walks the few urgent items
// and not the backlog.
const UrgentPending = `status = 'pending' AND key >= 'urgent:' AND key < 'urgent;'`

// UrgentEnd is the first key past those beginning with mamori.UrgentKey.
const UrgentEnd = "urgent;"

// Claim picks the outbox items a claim at At may take, from the pending
// items read in outbox order: due, not leased, and with no older pending
// item to the same target that is not (a target gets its messages in
// order). The store reads the urgent items (UrgentPending) with Urgent
// first, then every pending item with Next, until Full: an urgent item
// goes ahead of older ones, even to its own target.
type Claim struct {
	At    int64 // unix milliseconds
	Limit int
	IDs   []int64 // picked: the urgent ones, then the others, each in outbox order

	waiting       map[string]bool // targets with an older item not yet sendable
	urgentWaiting map[string]bool // the same among the urgent items
	urgent        map[int64]bool  // urgent items picked, passed over by Next
}

// Urgent reads one pending urgent item, selected with PendingColumns, and
// returns its id. Only an older urgent item to its target holds it back.
func (c *Claim) Urgent(row Scanner) (int64, error) {
	id, ok, err := c.read(row, &c.urgentWaiting)
	if ok {
		if c.urgent == nil {
			c.urgent = map[int64]bool{}
		}
		c.urgent[id] = true
	}
	return id, err
}

// Next reads one pending item, selected with PendingColumns, and returns
// its id. An urgent item Urgent picked is passed over.
func (c *Claim) Next(row Scanner) (int64, error) {
	id, _, err := c.read(row, &c.waiting)
	return id, err
}

// read reads one item and picks it unless it or an older item to its
// target (in waiting) is not yet sendable.
func (c *Claim) read(row Scanner, waiting *map[string]bool) (id int64, picked bool, err error) {
	var (
		target string
		next   int64
		until  sql.NullInt64
	)
	if err := row.Scan(&id, &target, &next, &until); err != nil {
		return 0, false, err
	}
	switch {
	case c.urgent[id]:
	case (*waiting)[target]:
	case next > c.At || until.Valid && until.Int64 > c.At:
		if *waiting == nil {
			*waiting = map[string]bool{}
		}
		(*waiting)[target] = true
	default:
		c.IDs = append(c.IDs, id)
		return id, true, nil
	}
	return id, false, nil
}

// Full reports whether Limit items are picked.
func (c *Claim) Full() bool { return len(c.IDs) >= c.Limit }

// UrgentFirst puts the urgent items of a claim (read in outbox order)
// ahead of the others, each kept in outbox order: the order the Claim
// picked them, in which a worker sends them.
func UrgentFirst(items []mamori.OutboxItem) {
	slices.SortStableFunc(items, func(a, b mamori.OutboxItem) int {
		return cmpBool(strings.HasPrefix(b.Key, mamori.UrgentKey), strings.HasPrefix(a.Key, mamori.UrgentKey))
	})
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
