package mamori

import (
	"context"
	"encoding/json"
	"time"
)

// Store keeps everything Mamori must not lose. Every change made for one
// platform request happens in one Update, and the request is acknowledged
// only after it commits.
type Store interface {
	// Update runs fn in one write transaction; fn's error rolls it back.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	Outbox
	Jobs
	Close() error
}

// Tx is what flows read and write inside one transaction.
type Tx interface {
	// Seen records a platform delivery id (event id, interaction id) and
	// reports whether it is new; a retried delivery reports false.
	Seen(key string, at time.Time) (fresh bool, err error)

	Conversation(userKey string) (Conversation, error) // ErrNotFound if none
	PutConversation(c Conversation) error
	DeleteConversation(userKey string) error

	// NextNumber returns the next sequence number of kind in year, from 1.
	NextNumber(kind string, year int) (int, error)
	InsertCase(c Case) error
	// UpdateCase stores a case's status, assignee, decision, update time
	// and check-in choice; its number, reporter and answers never change.
	UpdateCase(c Case) error          // ErrNotFound if none
	Case(number string) (Case, error) // ErrNotFound if none
	// CasesOf lists the cases a user reported, newest first.
	CasesOf(userKey string) ([]Case, error)
	// Cases lists the cases that match f, oldest first.
	Cases(f CaseFilter) ([]Case, error)

	// Enqueue adds a message to the outbox. An item whose Key is already
	// there is ignored (idempotency).
	Enqueue(m OutboxItem) error
	// Schedule adds a job. A job whose Key is already there and not done
	// is left as it is.
	Schedule(j Job) error
	// CancelJobs marks pending jobs with that key done.
	CancelJobs(key string) error

	// Audit appends an entry to the audit trail.
	Audit(e AuditEntry) error
}

// CaseFilter selects cases; zero fields select everything.
type CaseFilter struct {
	Departments []string  // any of these departments
	Open        bool      // only cases not yet decided (status other than judged)
	From, To    time.Time // created in [From, To)
	Limit       int
}

// OutboxItem is a message waiting to be sent.
type OutboxItem struct {
	ID       int64     `json:"id"`
	Key      string    `json:"key"` // idempotency key
	Target   Target    `json:"target"`
	Message  Message   `json:"message"`
	Lang     Lang      `json:"lang"`
	Created  time.Time `json:"created"`
	Attempts int       `json:"attempts"`
	Status   string    `json:"status"`
	LastErr  string    `json:"last_error,omitempty"`
	// InThread is where the Target.Thread message landed; the worker sets
	// it before sending.
	InThread *Posted `json:"-"`
}

// Outbox statuses.
const (
	OutboxPending = "pending"
	OutboxSent    = "sent"
	OutboxFailed  = "failed"
)

// Posted says where a sent message landed, for updates in place.
type Posted struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Outbox is the durable queue of messages to send.
type Outbox interface {
	// ClaimOutbox leases up to limit due pending items until now+lease.
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxItem, error)
	// SentOutbox marks an item sent and remembers where it landed, under
	// the message's Ref when it has one.
	SentOutbox(ctx context.Context, id int64, p Posted, now time.Time) error
	// RetryOutbox records a failed attempt; the item is due again at next.
	// With giveUp it is marked failed for good.
	RetryOutbox(ctx context.Context, id int64, next time.Time, errText string, giveUp bool) error
	// PostedRef returns where the message with that Ref was posted.
	PostedRef(ctx context.Context, ref string) (Posted, error) // ErrNotFound if none
	// ListOutbox lists items with that status, oldest first.
	ListOutbox(ctx context.Context, status string, limit int) ([]OutboxItem, error)
}

// Job is work due later: a reminder, a check-in.
type Job struct {
	ID       int64           `json:"id"`
	Key      string          `json:"key"`
	Kind     string          `json:"kind"`
	Due      time.Time       `json:"due"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	Attempts int             `json:"attempts"`
}

// Jobs is the durable schedule.
type Jobs interface {
	// ClaimJobs leases up to limit jobs due at now until now+lease.
	ClaimJobs(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Job, error)
	// DoneJob marks a job done.
	DoneJob(ctx context.Context, id int64, now time.Time) error
}

// AuditEntry is one line of the append-only audit trail. It never holds
// confidential text.
type AuditEntry struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`   // user key or "system"
	Action  string    `json:"action"`  // e.g. "case.submitted"
	Subject string    `json:"subject"` // case number or user key
	Detail  string    `json:"detail,omitempty"`
}
