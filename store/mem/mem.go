// Package mem implements mamori.Store in memory, for fast tests of
// adapters and flows and for demos (MAMORI_DB=mem:). Everything is lost
// when the process exits.
//
// The committed state is an immutable snapshot. An Update works on a copy
// of it — each table is copied the first time the transaction writes it —
// and publishes the copy only when fn succeeds, so a failing or panicking
// fn changes nothing. Writers (Update and the Outbox and Jobs methods) are
// serialised by one mutex; View reads the latest snapshot and never waits
// for a writer, as SQLite's read pool does not.
//
// Values are kept as the SQL stores keep them: times as UTC milliseconds,
// confidential parts (answers, decisions, messages, notes) as JSON, which
// also keeps callers from sharing slices with the store. Nothing is
// encrypted, and the package logs nothing.
package mem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/store/audit"
)

// ErrAuditBroken is returned by VerifyAudit when the audit chain does not
// hold.
var ErrAuditBroken = audit.ErrBroken

var (
	errClosed   = errors.New("mem: store is closed")
	errReadOnly = errors.New("mem: write in a read-only transaction")
)

// DB is a Mamori store in memory.
type DB struct {
	mu     sync.Mutex // held by writers
	cur    atomic.Pointer[state]
	closed atomic.Bool
}

var _ mamori.Store = (*DB)(nil)

// New returns an empty store.
func New() *DB {
	db := &DB{}
	db.cur.Store(&state{
		seen:     map[string]int64{},
		convs:    map[string][]byte{},
		numbers:  map[numberKey]int{},
		cases:    map[string]caseRow{},
		outKeys:  map[string]int64{},
		posted:   map[string]mamori.Posted{},
		jobKeys:  map[string]int64{},
		care:     map[int64]careRow{},
		careOpen: map[string]int64{},
		refs:     map[string][]byte{},
		training: map[trainingKey]trainingRow{},
	})
	return db
}

// Close drops the data; later calls fail. It may be called more than once.
func (db *DB) Close() error {
	db.closed.Store(true)
	return nil
}

// Update runs fn on a copy of the state and publishes it if fn returns
// nil; fn's error is returned as it is. A panic in fn changes nothing and
// goes on panicking in the caller. fn must not call the store's other
// writing methods (it would wait for itself, as with SQLite).
func (db *DB) Update(ctx context.Context, fn func(mamori.Tx) error) error {
	return db.write(ctx, func(s *state) error {
		return fn(&tx{s: s})
	})
}

// View runs fn on the latest committed state. Writes inside fn fail.
func (db *DB) View(ctx context.Context, fn func(mamori.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.closed.Load() {
		return errClosed
	}
	return fn(&tx{s: db.cur.Load(), ro: true})
}

// write runs fn on a copy of the state under the writers' lock and
// publishes the copy when fn succeeds.
func (db *DB) write(ctx context.Context, fn func(*state) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed.Load() {
		return errClosed
	}
	next := db.cur.Load().begin()
	if err := fn(next); err != nil {
		return err
	}
	next.owned = 0
	db.cur.Store(next)
	return nil
}

// read returns the latest state for the Outbox methods that only read.
func (db *DB) read(ctx context.Context) (*state, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if db.closed.Load() {
		return nil, errClosed
	}
	return db.cur.Load(), nil
}

// Backup cannot copy an in-memory store: it says so.
func (db *DB) Backup(ctx context.Context, dest string) error {
	return errors.New("mem: an in-memory store (MAMORI_DB=mem:) has nothing on disk to back up; its data is lost at exit")
}

// VerifyAudit walks the audit chain from its first entry and returns how
// many entries hold (see audit.Row).
func (db *DB) VerifyAudit(ctx context.Context) (int, error) {
	s, err := db.read(ctx)
	if err != nil {
		return 0, err
	}
	prev := ""
	for i, r := range s.audit {
		switch {
		case r.ID != int64(i)+1:
			return i, fmt.Errorf("audit row %d: follows row %d: %w", r.ID, i, ErrAuditBroken)
		case r.Prev != prev:
			return i, fmt.Errorf("audit row %d: does not follow the row before: %w", r.ID, ErrAuditBroken)
		case r.Hash() != r.hash:
			return i, fmt.Errorf("audit row %d: altered: %w", r.ID, ErrAuditBroken)
		}
		prev = r.hash
	}
	return len(s.audit), nil
}

// AuditTrail returns the audit entries about subject, oldest first.
func (db *DB) AuditTrail(ctx context.Context, subject string) ([]mamori.AuditEntry, error) {
	s, err := db.read(ctx)
	if err != nil {
		return nil, err
	}
	var entries []mamori.AuditEntry
	for _, r := range s.audit {
		if r.Subject == subject {
			entries = append(entries, mamori.AuditEntry{At: fromMillis(r.At), Actor: r.Actor, Action: r.Action, Subject: r.Subject, Detail: r.Detail})
		}
	}
	return entries, nil
}

// state is one snapshot of everything. A published state is never
// changed; a transaction's copy owns (may change) the tables whose bit is
// set in owned.
type state struct {
	owned table

	seen    map[string]int64 // delivery id → at
	convs   map[string][]byte
	numbers map[numberKey]int
	cases   map[string]caseRow
	caseSeq int64

	outbox  vec[outRow]
	outKeys map[string]int64
	pending []int64 // pending outbox ids, in order
	urgent  []int64 // the pending ids with an urgent key (mamori.UrgentKey), in order
	posted  map[string]mamori.Posted

	jobs    vec[jobRow]
	jobKeys map[string]int64 // pending job key → id

	// audit only grows: a transaction appends past the end of the
	// published slice, which no reader looks at.
	audit []auditRow

	care     map[int64]careRow
	careOpen map[string]int64 // case:reason of a task not closed → id
	careSeq  int64

	refs     map[string][]byte
	training map[trainingKey]trainingRow

	cust customerTables // customers.go
}

// table names a state's tables, for copy on write.
type table uint16

const (
	tSeen table = 1 << iota
	tConvs
	tNumbers
	tCases
	tPending
	tOutKeys
	tPosted
	tJobs
	tCare
	tRefs
	tTraining
	tCustomers
)

// begin returns a transaction's copy of s, sharing every table.
func (s *state) begin() *state {
	next := *s
	next.owned = 0
	next.outbox, next.jobs = s.outbox.begin(), s.jobs.begin()
	return &next
}

// own copies the tables in t that the transaction does not own yet.
func (s *state) own(t table) {
	need := t &^ s.owned
	if need == 0 {
		return
	}
	if need&tSeen != 0 {
		s.seen = maps.Clone(s.seen)
	}
	if need&tConvs != 0 {
		s.convs = maps.Clone(s.convs)
	}
	if need&tNumbers != 0 {
		s.numbers = maps.Clone(s.numbers)
	}
	if need&tCases != 0 {
		s.cases = maps.Clone(s.cases)
	}
	if need&tPending != 0 {
		s.pending = slices.Clone(s.pending) // the rows are a vec
		s.urgent = slices.Clone(s.urgent)
	}
	if need&tOutKeys != 0 {
		s.outKeys = maps.Clone(s.outKeys)
	}
	if need&tPosted != 0 {
		s.posted = maps.Clone(s.posted)
	}
	if need&tJobs != 0 {
		s.jobKeys = maps.Clone(s.jobKeys) // the rows are a vec
	}
	if need&tCare != 0 {
		s.care, s.careOpen = maps.Clone(s.care), maps.Clone(s.careOpen)
	}
	if need&tRefs != 0 {
		s.refs = maps.Clone(s.refs)
	}
	if need&tTraining != 0 {
		s.training = maps.Clone(s.training)
	}
	if need&tCustomers != 0 {
		s.cust = s.cust.clone()
	}
	s.owned |= need
}

// Rows as stored. Their byte slices are never changed once stored.

type numberKey struct {
	kind string
	year int
}

type caseRow struct {
	seq                         int64
	number, kind, reporterKey   string
	reporter                    []byte
	department, route, channel  string
	status, urgency, suggestion string
	crime                       bool
	behaviours                  []byte
	created                     int64
	answers                     []byte
	assignee                    string
	decision                    []byte // nil: none
	updated                     int64  // 0: none
	checkinsStopped             bool
	taken, judged               int64 // 0: none
}

type outRow struct {
	id         int64
	key        string
	target     mamori.Target
	ref        string
	message    []byte
	lang       mamori.Lang
	status     string
	nextAt     int64
	created    int64
	attempts   int
	leased     bool
	leaseUntil int64
	lastErr    string
}

type jobRow struct {
	id         int64
	key, kind  string
	due        int64
	payload    []byte
	status     string // pending, done, canceled
	leased     bool
	leaseUntil int64
	attempts   int
}

type auditRow struct {
	audit.Row
	hash string
}

type careRow struct {
	id       int64
	number   string
	reporter []byte
	status   string
	assignee string
	due      int64
	created  int64
	updated  int64
	sealed   []byte // reason and notes, as the SQL stores seal them
}

type careSealed struct {
	Reason string            `json:"reason"`
	Words  string            `json:"words,omitempty"`
	Notes  []mamori.CareNote `json:"notes,omitempty"`
}

type trainingKey struct {
	programme, userKey string
	round              int
}

type trainingRow struct {
	programme, userKey string
	round              int
	user               []byte
	department         string
	assigned, due      int64
	done, nudged       int64 // 0: none
}

// Times are kept as UTC milliseconds, as the SQL stores keep them.

func millis(t time.Time) int64 { return t.UnixMilli() }

func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMillis(ms)
}

func mustJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("mem: %w", err)
	}
	return b, nil
}

// tx is a mamori.Tx on a transaction's copy of the state, or on a
// published state when ro.
type tx struct {
	s  *state
	ro bool
}

var _ mamori.Tx = (*tx)(nil)

// writable makes sure the transaction may write and owns tables t.
func (t *tx) writable(what string, tables table) error {
	if t.ro {
		return fmt.Errorf("%s: %w", what, errReadOnly)
	}
	t.s.own(tables)
	return nil
}

func (t *tx) Seen(key string, at time.Time) (bool, error) {
	if err := t.writable("seen", tSeen); err != nil {
		return false, err
	}
	if _, ok := t.s.seen[key]; ok {
		return false, nil
	}
	t.s.seen[key] = millis(at)
	return true, nil
}

func (t *tx) Conversation(userKey string) (mamori.Conversation, error) {
	b, ok := t.s.convs[userKey]
	if !ok {
		return mamori.Conversation{}, fmt.Errorf("conversation: %w", mamori.ErrNotFound)
	}
	var c mamori.Conversation
	if err := json.Unmarshal(b, &c); err != nil {
		return mamori.Conversation{}, fmt.Errorf("conversation %s: %w", userKey, err)
	}
	return c, nil
}

func (t *tx) PutConversation(c mamori.Conversation) error {
	if c.User.ID == "" {
		return fmt.Errorf("put conversation: no user: %w", mamori.ErrInvalid)
	}
	if err := t.writable("put conversation", tConvs); err != nil {
		return err
	}
	b, err := mustJSON(c)
	if err != nil {
		return fmt.Errorf("put conversation: %w", err)
	}
	t.s.convs[c.User.Key()] = b
	return nil
}

func (t *tx) DeleteConversation(userKey string) error {
	if err := t.writable("delete conversation", tConvs); err != nil {
		return err
	}
	delete(t.s.convs, userKey)
	return nil
}

func (t *tx) NextNumber(kind string, year int) (int, error) {
	if err := t.writable("next number", tNumbers); err != nil {
		return 0, err
	}
	k := numberKey{kind, year}
	t.s.numbers[k]++
	return t.s.numbers[k], nil
}

func (t *tx) InsertCase(c mamori.Case) error {
	if c.Number == "" {
		return fmt.Errorf("insert case: no number: %w", mamori.ErrInvalid)
	}
	if err := t.writable("insert case", tCases); err != nil {
		return err
	}
	if _, ok := t.s.cases[c.Number]; ok {
		return fmt.Errorf("insert case %s: %w", c.Number, mamori.ErrConflict)
	}
	reporter, err := mustJSON(c.Reporter)
	if err != nil {
		return fmt.Errorf("insert case: %w", err)
	}
	behaviours, err := mustJSON(c.Behaviours)
	if err != nil {
		return fmt.Errorf("insert case: %w", err)
	}
	answers, err := mustJSON(c.Answers)
	if err != nil {
		return fmt.Errorf("insert case: %w", err)
	}
	// As in the SQL stores, an insert keeps what a new case has; its
	// assignee, decision and times are UpdateCase's.
	t.s.caseSeq++
	t.s.cases[c.Number] = caseRow{
		seq: t.s.caseSeq, number: c.Number, kind: c.Kind, reporterKey: c.Reporter.Key(), reporter: reporter,
		department: c.Department, route: c.Route, channel: c.Channel, status: c.Status, urgency: c.Urgency,
		suggestion: c.Suggestion, crime: c.Crime, behaviours: behaviours, created: millis(c.Created), answers: answers,
	}
	return nil
}

func (t *tx) UpdateCase(c mamori.Case) error {
	if err := t.writable("update case", tCases); err != nil {
		return err
	}
	r, ok := t.s.cases[c.Number]
	if !ok {
		return fmt.Errorf("update case %s: %w", c.Number, mamori.ErrNotFound)
	}
	r.decision = nil
	if c.Decision != nil {
		d, err := mustJSON(c.Decision)
		if err != nil {
			return fmt.Errorf("update case: %w", err)
		}
		r.decision = d
	}
	r.status, r.assignee, r.updated = c.Status, c.Assignee, millisOrZero(c.Updated)
	r.checkinsStopped, r.taken, r.judged = c.CheckinsStopped, millisOrZero(c.Taken), millisOrZero(c.Judged)
	t.s.cases[c.Number] = r
	return nil
}

func (r caseRow) read() (mamori.Case, error) {
	c := mamori.Case{
		Number: r.number, Kind: r.kind, Department: r.department, Route: r.route, Channel: r.channel,
		Status: r.status, Urgency: r.urgency, Suggestion: r.suggestion, Crime: r.crime, Created: fromMillis(r.created),
		Assignee: r.assignee, Updated: timeOrZero(r.updated), CheckinsStopped: r.checkinsStopped,
		Taken: timeOrZero(r.taken), Judged: timeOrZero(r.judged),
	}
	if err := json.Unmarshal(r.reporter, &c.Reporter); err != nil {
		return c, fmt.Errorf("case %s reporter: %w", r.number, err)
	}
	if err := json.Unmarshal(r.behaviours, &c.Behaviours); err != nil {
		return c, fmt.Errorf("case %s behaviours: %w", r.number, err)
	}
	if err := json.Unmarshal(r.answers, &c.Answers); err != nil {
		return c, fmt.Errorf("case %s answers: %w", r.number, err)
	}
	if r.decision != nil {
		c.Decision = new(mamori.Decision)
		if err := json.Unmarshal(r.decision, c.Decision); err != nil {
			return c, fmt.Errorf("case %s decision: %w", r.number, err)
		}
	}
	return c, nil
}

func (t *tx) Case(number string) (mamori.Case, error) {
	r, ok := t.s.cases[number]
	if !ok {
		return mamori.Case{}, fmt.Errorf("case %s: %w", number, mamori.ErrNotFound)
	}
	return r.read()
}

// readCases reads the rows that match keep, in the order less gives.
func (t *tx) readCases(keep func(caseRow) bool, less func(a, b caseRow) bool, limit int) ([]mamori.Case, error) {
	var rows []caseRow
	for _, r := range t.s.cases {
		if keep(r) {
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return less(rows[i], rows[j]) })
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	var cases []mamori.Case
	for _, r := range rows {
		c, err := r.read()
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func (t *tx) Cases(f mamori.CaseFilter) ([]mamori.Case, error) {
	from, to := millis(f.From), millis(f.To)
	return t.readCases(func(r caseRow) bool {
		switch {
		case len(f.Departments) > 0 && !slices.Contains(f.Departments, r.department),
			f.Open && r.status == mamori.StatusJudged,
			!f.From.IsZero() && r.created < from,
			!f.To.IsZero() && r.created >= to:
			return false
		}
		return true
	}, func(a, b caseRow) bool {
		if a.created != b.created {
			return a.created < b.created
		}
		return a.seq < b.seq
	}, f.Limit)
}

func (t *tx) CasesOf(userKey string) ([]mamori.Case, error) {
	return t.readCases(func(r caseRow) bool { return r.reporterKey == userKey }, func(a, b caseRow) bool {
		if a.created != b.created {
			return a.created > b.created
		}
		return a.seq > b.seq
	}, 0)
}

func (t *tx) Enqueue(m mamori.OutboxItem) error {
	if m.Key == "" {
		return fmt.Errorf("enqueue: no key: %w", mamori.ErrInvalid)
	}
	if err := t.writable("enqueue", tPending|tOutKeys); err != nil {
		return err
	}
	if _, ok := t.s.outKeys[m.Key]; ok {
		return nil
	}
	msg, err := mustJSON(m.Message)
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	// An item is due as soon as it is created.
	id := t.s.outbox.n + 1
	t.s.outbox.add(outRow{id: id, key: m.Key, target: m.Target, ref: m.Message.Ref, message: msg, lang: m.Lang,
		status: mamori.OutboxPending, nextAt: millis(m.Created), created: millis(m.Created)})
	t.s.outKeys[m.Key] = id
	t.s.pending = append(t.s.pending, id)
	if strings.HasPrefix(m.Key, mamori.UrgentKey) {
		t.s.urgent = append(t.s.urgent, id)
	}
	return nil
}

// OutboxPending looks through the pending items alone.
func (t *tx) OutboxPending(to mamori.Target, since time.Time) (bool, error) {
	at := millis(since)
	for _, id := range t.s.pending {
		if r, _ := t.s.outbox.get(id); r.target == to && r.created >= at {
			return true, nil
		}
	}
	return false, nil
}

func (t *tx) Schedule(j mamori.Job) error {
	if j.Key == "" {
		return fmt.Errorf("schedule: no key: %w", mamori.ErrInvalid)
	}
	if err := t.writable("schedule", tJobs); err != nil {
		return err
	}
	if _, ok := t.s.jobKeys[j.Key]; ok {
		return nil
	}
	var payload []byte
	if len(j.Payload) > 0 {
		payload = slices.Clone([]byte(j.Payload))
	}
	id := t.s.jobs.add(jobRow{key: j.Key, kind: j.Kind, due: millis(j.Due), payload: payload, status: "pending"})
	r, _ := t.s.jobs.get(id)
	r.id = id
	t.s.jobs.set(id, r)
	t.s.jobKeys[j.Key] = id
	return nil
}

func (t *tx) CancelJobs(key string) error {
	if err := t.writable("cancel jobs", tJobs); err != nil {
		return err
	}
	if id, ok := t.s.jobKeys[key]; ok {
		r, _ := t.s.jobs.get(id)
		r.status, r.leased = "canceled", false
		t.s.jobs.set(id, r)
		delete(t.s.jobKeys, key)
	}
	return nil
}

func (t *tx) Audit(e mamori.AuditEntry) error {
	if t.ro {
		return fmt.Errorf("audit: %w", errReadOnly)
	}
	r := audit.Row{ID: int64(len(t.s.audit)) + 1, At: millis(e.At), Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: e.Detail}
	if n := len(t.s.audit); n > 0 {
		r.Prev = t.s.audit[n-1].hash
	}
	t.s.audit = append(t.s.audit, auditRow{Row: r, hash: r.Hash()})
	return nil
}

// openKey keeps one open task per case and reason.
func openKey(number, reason string) string { return number + ":" + reason }

func (t *tx) InsertCareTask(c mamori.CareTask) (int64, bool, error) {
	if c.Number == "" || c.Reason == "" {
		return 0, false, fmt.Errorf("insert care task: no case or reason: %w", mamori.ErrInvalid)
	}
	if err := t.writable("insert care task", tCare); err != nil {
		return 0, false, err
	}
	if c.Status == "" {
		c.Status = mamori.CareOpen
	}
	if id, ok := t.s.careOpen[openKey(c.Number, c.Reason)]; ok && c.Status != mamori.CareClosed {
		return id, false, nil
	}
	reporter, err := mustJSON(c.Reporter)
	if err != nil {
		return 0, false, fmt.Errorf("insert care task: %w", err)
	}
	t.s.careSeq++
	c.ID, c.Updated = t.s.careSeq, c.Created
	t.s.care[c.ID] = careRow{id: c.ID, number: c.Number, reporter: reporter, created: millis(c.Created)}
	return c.ID, true, t.UpdateCareTask(c)
}

func (t *tx) UpdateCareTask(c mamori.CareTask) error {
	if err := t.writable("update care task", tCare); err != nil {
		return err
	}
	r, ok := t.s.care[c.ID]
	if !ok {
		return fmt.Errorf("update care task %d: %w", c.ID, mamori.ErrNotFound)
	}
	sealed, err := mustJSON(careSealed{Reason: c.Reason, Words: c.Words, Notes: c.Notes})
	if err != nil {
		return fmt.Errorf("update care task: %w", err)
	}
	// The open key follows the stored reason, as the SQL stores' does.
	var old careSealed
	if r.sealed != nil {
		if err := json.Unmarshal(r.sealed, &old); err != nil {
			return fmt.Errorf("update care task %d: %w", c.ID, err)
		}
		if k := openKey(r.number, old.Reason); t.s.careOpen[k] == c.ID {
			delete(t.s.careOpen, k)
		}
	}
	if c.Status != mamori.CareClosed {
		k := openKey(r.number, c.Reason)
		if other, ok := t.s.careOpen[k]; ok && other != c.ID {
			return fmt.Errorf("update care task %d: another open task for %s: %w", c.ID, k, mamori.ErrConflict)
		}
		t.s.careOpen[k] = c.ID
	}
	r.status, r.assignee, r.due, r.updated, r.sealed = c.Status, c.Assignee, millis(c.Due), millis(c.Updated), sealed
	t.s.care[c.ID] = r
	return nil
}

func (r careRow) read() (mamori.CareTask, error) {
	c := mamori.CareTask{ID: r.id, Number: r.number, Status: r.status, Assignee: r.assignee,
		Due: fromMillis(r.due), Created: fromMillis(r.created), Updated: fromMillis(r.updated)}
	if err := json.Unmarshal(r.reporter, &c.Reporter); err != nil {
		return c, fmt.Errorf("care task %d reporter: %w", r.id, err)
	}
	var cs careSealed
	if err := json.Unmarshal(r.sealed, &cs); err != nil {
		return c, fmt.Errorf("care task %d: %w", r.id, err)
	}
	c.Reason, c.Words, c.Notes = cs.Reason, cs.Words, cs.Notes
	return c, nil
}

func (t *tx) CareTask(id int64) (mamori.CareTask, error) {
	r, ok := t.s.care[id]
	if !ok {
		return mamori.CareTask{}, fmt.Errorf("care task %d: %w", id, mamori.ErrNotFound)
	}
	return r.read()
}

func (t *tx) CareTasks(open bool) ([]mamori.CareTask, error) {
	var rows []careRow
	for _, r := range t.s.care {
		if !open || r.status != mamori.CareClosed {
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].created != rows[j].created {
			return rows[i].created < rows[j].created
		}
		return rows[i].id < rows[j].id
	})
	var tasks []mamori.CareTask
	for _, r := range rows {
		c, err := r.read()
		if err != nil {
			return nil, fmt.Errorf("care tasks: %w", err)
		}
		tasks = append(tasks, c)
	}
	return tasks, nil
}

func (t *tx) PutReference(key string, data []byte, at time.Time) error {
	if key == "" {
		return fmt.Errorf("put reference: no key: %w", mamori.ErrInvalid)
	}
	if err := t.writable("put reference", tRefs); err != nil {
		return err
	}
	t.s.refs[key] = slices.Clone(data)
	return nil
}

func (t *tx) Reference(key string) ([]byte, error) {
	b, ok := t.s.refs[key]
	if !ok {
		return nil, fmt.Errorf("reference: %w", mamori.ErrNotFound)
	}
	return slices.Clone(b), nil
}

func (t *tx) Assign(a mamori.Assignment) (bool, error) {
	if a.Programme == "" || a.User.ID == "" || a.Round < 1 {
		return false, fmt.Errorf("assign: no programme, user or round: %w", mamori.ErrInvalid)
	}
	if err := t.writable("assign", tTraining); err != nil {
		return false, err
	}
	k := trainingKey{a.Programme, a.User.Key(), a.Round}
	if _, ok := t.s.training[k]; ok {
		return false, nil
	}
	user, err := mustJSON(a.User)
	if err != nil {
		return false, fmt.Errorf("assign: %w", err)
	}
	t.s.training[k] = trainingRow{programme: a.Programme, userKey: k.userKey, round: a.Round, user: user,
		department: a.Department, assigned: millis(a.Assigned), due: millis(a.Due),
		done: millisOrZero(a.Done), nudged: millisOrZero(a.Nudged)}
	return true, nil
}

func (r trainingRow) read() (mamori.Assignment, error) {
	a := mamori.Assignment{Programme: r.programme, Round: r.round, Department: r.department,
		Assigned: fromMillis(r.assigned), Due: fromMillis(r.due), Done: timeOrZero(r.done), Nudged: timeOrZero(r.nudged)}
	if err := json.Unmarshal(r.user, &a.User); err != nil {
		return a, fmt.Errorf("assignment user: %w", err)
	}
	return a, nil
}

func (t *tx) Assignment(programme, userKey string, round int) (mamori.Assignment, error) {
	r, ok := t.s.training[trainingKey{programme, userKey, round}]
	if !ok {
		return mamori.Assignment{}, fmt.Errorf("assignment: %w", mamori.ErrNotFound)
	}
	return r.read()
}

func (t *tx) PutAssignment(a mamori.Assignment) error {
	if err := t.writable("put assignment", tTraining); err != nil {
		return err
	}
	k := trainingKey{a.Programme, a.User.Key(), a.Round}
	r, ok := t.s.training[k]
	if !ok {
		return fmt.Errorf("put assignment: %w", mamori.ErrNotFound)
	}
	r.done, r.nudged, r.due = millisOrZero(a.Done), millisOrZero(a.Nudged), millis(a.Due)
	t.s.training[k] = r
	return nil
}

func (t *tx) Assignments(f mamori.AssignmentFilter) ([]mamori.Assignment, error) {
	overdue := millis(f.OverdueAt)
	var rows []trainingRow
	for _, r := range t.s.training {
		switch {
		case f.Programme != "" && r.programme != f.Programme,
			f.Round > 0 && r.round != f.Round,
			len(f.Departments) > 0 && !slices.Contains(f.Departments, r.department),
			!f.OverdueAt.IsZero() && (r.done != 0 || r.due >= overdue):
			continue
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		switch {
		case a.due != b.due:
			return a.due < b.due
		case a.programme != b.programme:
			return a.programme < b.programme
		case a.userKey != b.userKey:
			return a.userKey < b.userKey
		}
		return a.round < b.round
	})
	if f.Limit > 0 && len(rows) > f.Limit {
		rows = rows[:f.Limit]
	}
	var list []mamori.Assignment
	for _, r := range rows {
		a, err := r.read()
		if err != nil {
			return nil, fmt.Errorf("assignments: %w", err)
		}
		list = append(list, a)
	}
	return list, nil
}

// The Outbox.

func (r outRow) read() (mamori.OutboxItem, error) {
	m := mamori.OutboxItem{ID: r.id, Key: r.key, Target: r.target, Lang: r.lang, Created: fromMillis(r.created),
		Attempts: r.attempts, Status: r.status, LastErr: r.lastErr}
	if err := json.Unmarshal(r.message, &m.Message); err != nil {
		return m, fmt.Errorf("outbox %d message: %w", r.id, err)
	}
	return m, nil
}

// ClaimOutbox leases up to limit pending items that are due at now and not
// leased by another worker: the urgent ones (mamori.UrgentKey) first, then
// the others, each oldest first, and returns them in that order. An item
// waits while an older pending item to its target is not yet due or is
// leased, so that a target gets its messages in order; an urgent item
// waits only for an older urgent one.
func (db *DB) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]mamori.OutboxItem, error) {
	if limit <= 0 {
		return nil, nil
	}
	var items []mamori.OutboxItem
	err := db.write(ctx, func(s *state) error {
		at, until := millis(now), millis(now.Add(lease))
		var (
			picked []int64
			urgent map[int64]bool // picked among the urgent items
		)
		// pick walks ids in order until the limit, picking the items that
		// may go, with waiting the targets of those that may not.
		pick := func(ids []int64, waiting map[mamori.Target]bool) {
			for _, id := range ids {
				if len(picked) >= limit {
					return
				}
				r, _ := s.outbox.get(id)
				switch {
				case urgent[id], waiting[r.target]:
				case r.nextAt > at || r.leased && r.leaseUntil > at:
					waiting[r.target] = true
				default:
					picked = append(picked, id)
				}
			}
		}
		pick(s.urgent, map[mamori.Target]bool{})
		if len(picked) > 0 {
			urgent = map[int64]bool{}
			for _, id := range picked {
				urgent[id] = true
			}
		}
		pick(s.pending, map[mamori.Target]bool{})
		if len(picked) == 0 {
			return nil
		}
		items = items[:0]
		for _, id := range picked {
			r, _ := s.outbox.get(id)
			r.leased, r.leaseUntil = true, until
			r.attempts++
			s.outbox.set(id, r)
			m, err := r.read()
			if err != nil {
				return err
			}
			items = append(items, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return items, nil
}

// RenewOutbox extends the leases of the items still held as claimed.
func (db *DB) RenewOutbox(ctx context.Context, items []mamori.OutboxItem, now, until time.Time) ([]int64, error) {
	if len(items) == 0 {
		return nil, nil
	}
	var kept []int64
	err := db.write(ctx, func(s *state) error {
		for _, it := range items {
			r, ok := s.outbox.get(it.ID)
			if !ok || r.attempts != it.Attempts || r.status != mamori.OutboxPending || !r.leased || r.leaseUntil <= millis(now) {
				continue
			}
			r.leaseUntil = millis(until)
			s.outbox.set(it.ID, r)
			kept = append(kept, it.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("renew outbox: %w", err)
	}
	return kept, nil
}

// settle records r and keeps the pending list in step with its status.
// Only a transaction's own pending list is changed in place (own).
func (s *state) settle(r outRow) {
	s.outbox.set(r.id, r)
	if r.status != mamori.OutboxPending {
		s.own(tPending)
		s.pending = slices.DeleteFunc(s.pending, func(id int64) bool { return id == r.id })
		s.urgent = slices.DeleteFunc(s.urgent, func(id int64) bool { return id == r.id })
	}
}

// SentOutbox marks an item sent and, when its message has a Ref, records
// where it was posted.
func (db *DB) SentOutbox(ctx context.Context, id int64, p mamori.Posted, now time.Time) error {
	err := db.write(ctx, func(s *state) error {
		r, ok := s.outbox.get(id)
		if !ok {
			return fmt.Errorf("outbox %d: %w", id, mamori.ErrNotFound)
		}
		s.own(tPosted)
		r.status, r.leased = mamori.OutboxSent, false
		s.settle(r)
		if r.ref != "" && p.TS != "" {
			s.posted[r.ref] = p
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sent outbox: %w", err)
	}
	return nil
}

// RetryOutbox releases an item's lease after a failed attempt, due again
// at next, or marks it failed for good with giveUp. A sent item stays sent.
func (db *DB) RetryOutbox(ctx context.Context, id int64, next time.Time, errText string, giveUp bool) error {
	err := db.write(ctx, func(s *state) error {
		r, ok := s.outbox.get(id)
		if !ok {
			return fmt.Errorf("outbox %d: %w", id, mamori.ErrNotFound)
		}
		r.nextAt, r.lastErr, r.leased = millis(next), errText, false
		if r.status == mamori.OutboxPending && giveUp {
			r.status = mamori.OutboxFailed
		}
		s.settle(r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("retry outbox: %w", err)
	}
	return nil
}

// PostedRef returns where the message with that Ref was last posted.
func (db *DB) PostedRef(ctx context.Context, ref string) (mamori.Posted, error) {
	s, err := db.read(ctx)
	if err != nil {
		return mamori.Posted{}, err
	}
	p, ok := s.posted[ref]
	if !ok {
		return mamori.Posted{}, fmt.Errorf("posted ref: %w", mamori.ErrNotFound)
	}
	return p, nil
}

// ListOutbox lists up to limit items with that status, oldest first.
// A limit of 0 or less lists them all.
func (db *DB) ListOutbox(ctx context.Context, status string, limit int) ([]mamori.OutboxItem, error) {
	s, err := db.read(ctx)
	if err != nil {
		return nil, err
	}
	var ids []int64
	if status == mamori.OutboxPending {
		ids = s.pending
	} else {
		s.outbox.all(func(id int64, r outRow) bool {
			if r.status == status {
				ids = append(ids, id)
			}
			return limit <= 0 || len(ids) < limit
		})
	}
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	var items []mamori.OutboxItem
	for _, id := range ids {
		r, _ := s.outbox.get(id)
		m, err := r.read()
		if err != nil {
			return nil, fmt.Errorf("list outbox: %w", err)
		}
		items = append(items, m)
	}
	return items, nil
}

// CountOutbox counts the items whose key starts with prefix, by status.
func (db *DB) CountOutbox(ctx context.Context, prefix string) (map[string]int, error) {
	s, err := db.read(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	s.outbox.all(func(_ int64, r outRow) bool {
		if strings.HasPrefix(r.key, prefix) {
			counts[r.status]++
		}
		return true
	})
	return counts, nil
}

// The Jobs.

// ClaimJobs leases up to limit pending jobs that are due at now and not
// leased by another worker, earliest due first.
func (db *DB) ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]mamori.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	var jobs []mamori.Job
	err := db.write(ctx, func(s *state) error {
		at := millis(now)
		var due []jobRow
		for _, id := range s.jobKeys {
			if r, _ := s.jobs.get(id); r.due <= at && (!r.leased || r.leaseUntil <= at) {
				due = append(due, r)
			}
		}
		sort.Slice(due, func(i, j int) bool {
			if due[i].due != due[j].due {
				return due[i].due < due[j].due
			}
			return due[i].id < due[j].id
		})
		if len(due) > limit {
			due = due[:limit]
		}
		if len(due) == 0 {
			return nil
		}
		jobs = jobs[:0]
		for _, r := range due {
			r.leased, r.leaseUntil = true, millis(now.Add(lease))
			r.attempts++
			s.jobs.set(r.id, r)
			j := mamori.Job{ID: r.id, Key: r.key, Kind: r.kind, Due: fromMillis(r.due), Attempts: r.attempts}
			if r.payload != nil {
				j.Payload = json.RawMessage(slices.Clone(r.payload))
			}
			jobs = append(jobs, j)
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
	err := db.write(ctx, func(s *state) error {
		r, ok := s.jobs.get(id)
		if !ok {
			return fmt.Errorf("job %d: %w", id, mamori.ErrNotFound)
		}
		if r.status != "pending" {
			return nil
		}
		s.own(tJobs)
		r.status, r.leased = "done", false
		s.jobs.set(id, r)
		delete(s.jobKeys, r.key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("done job: %w", err)
	}
	return nil
}
