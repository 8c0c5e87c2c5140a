package mamori

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Store keeps everything Mamori must not lose. Every change made for one
// platform request happens in one Update, and the request is acknowledged
// only after it commits.
type Store interface {
	// Update runs fn in one write transaction; fn's error rolls it back.
	// fn may be run more than once (a group commit runs it again when
	// another write of its group fails), and only its last run counts:
	// it must set, not add to, what it shares with its caller.
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
	// there is ignored (idempotency), except that a store need not look
	// for a Key beginning with FreshKey.
	Enqueue(m OutboxItem) error
	// OutboxPending reports whether an outbox item to t created at or
	// after since is still pending (not sent, not failed): a question
	// the person has not been shown yet. It runs on every typed message,
	// so it must be cheap even behind a long backlog.
	OutboxPending(t Target, since time.Time) (bool, error)
	// Schedule adds a job. A job whose Key is already there and not done
	// is left as it is.
	Schedule(j Job) error
	// CancelJobs marks pending jobs with that key done.
	CancelJobs(key string) error

	// Audit appends an entry to the audit trail.
	Audit(e AuditEntry) error

	// InsertCareTask stores a new care task and returns its id. A task
	// for the same case and Reason that is still open is returned instead.
	InsertCareTask(c CareTask) (id int64, fresh bool, err error)
	UpdateCareTask(c CareTask) error         // ErrNotFound if none
	CareTask(id int64) (CareTask, error)     // ErrNotFound if none
	CareTasks(open bool) ([]CareTask, error) // oldest first; open: not closed

	// PutReference stores how to reach a user or channel on a platform
	// later (a Bot Framework conversation reference), under key; the
	// adapter alone knows what data means. Replaces an earlier one.
	PutReference(key string, data []byte, at time.Time) error
	Reference(key string) ([]byte, error) // ErrNotFound if none

	// Assign records a training assignment; one that exists for the same
	// programme, user and round is left as it is and fresh is false.
	Assign(a Assignment) (fresh bool, err error)
	Assignment(programme, userKey string, round int) (Assignment, error) // ErrNotFound if none
	// PutAssignment stores an assignment's Done and Nudged.
	PutAssignment(a Assignment) error
	// Assignments lists the assignments that match f, oldest due first.
	Assignments(f AssignmentFilter) ([]Assignment, error)

	// PurgeCase keeps c, the tombstone of a case, in place of the case:
	// its answers, decision and reporter as given, under the reporter key
	// PurgedKey (CasesOf no longer finds it), with no assignee; its other
	// columns stay. The case's care tasks are purged (PurgeCareTask); the
	// outbox items that name the case or its care tasks, sent or failed
	// (a pending one goes out first), and where its messages were posted
	// (PostedRef) are deleted. ErrNotFound if there is no such case.
	PurgeCase(c Case) error
	// PurgeCareTask closes care task id and empties it: no reporter,
	// reason or notes. ErrNotFound if there is none.
	PurgeCareTask(id int64) error
	// Customers: the blind index of customers' identifiers, the links
	// between cases, the refusal-of-service register (customers.go).
	Customers

	// Prune deletes the rows kept only for a while that p names: past
	// the platforms' redelivery windows, what was sent, what was done.
	// The newest outbox item and job stay whatever their age, so that
	// their ids are never handed out again (keys such as "job:<id>" are
	// made of them).
	Prune(p Prune) (Pruned, error)
}

// CareTask is a follow-up HR owes a reporter: opened by a wish to talk
// at intake, or a check-in answer that is not fine. Reason and notes are
// health-related: stores keep them encrypted.
type CareTask struct {
	ID       int64  `json:"id"`
	Number   string `json:"number"` // the case
	Reporter User   `json:"reporter"`
	Reason   string `json:"reason"` // CareReason*
	// Words are the reporter's own, when they answered in a sentence
	// ("しばらく仕事を休みたいです"): HR's to read, sealed like Notes.
	Words    string     `json:"words,omitempty"`
	Status   string     `json:"status"` // CareOpen, CareAcked, CareClosed
	Assignee string     `json:"assignee,omitempty"`
	Due      time.Time  `json:"due"`
	Created  time.Time  `json:"created"`
	Updated  time.Time  `json:"updated"`
	Notes    []CareNote `json:"notes,omitempty"`
}

// CareNote records a contact HR made.
type CareNote struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"` // user key
	Text string    `json:"text"`
	// Words are the reporter's own with a later answer (Text its kind).
	Words string `json:"words,omitempty"`
}

// Care task statuses.
const (
	CareOpen   = "open"
	CareAcked  = "acknowledged"
	CareClosed = "closed"
)

// Care task reasons.
const (
	CareReasonTalk      = "intake_talk"      // asked to talk at intake
	CareReasonVeryHard  = "intake_very_hard" // very hard at intake
	CareReasonCheckHard = "checkin_hard"     // a check-in: a little hard
	CareReasonCheckTalk = "checkin_talk"     // a check-in: would like to talk
	CareReasonContact   = "consult_contact"  // a consultation: please contact me
)

// Assignment is one person's round of a training programme.
type Assignment struct {
	Programme  string    `json:"programme"`
	User       User      `json:"user"`
	Department string    `json:"department,omitempty"`
	Round      int       `json:"round"`
	Assigned   time.Time `json:"assigned"`
	Due        time.Time `json:"due"`
	Done       time.Time `json:"done,omitzero"`
	Nudged     time.Time `json:"nudged,omitzero"` // the last nudge
}

// AssignmentFilter selects assignments; zero fields select everything.
type AssignmentFilter struct {
	Programme   string
	Round       int
	Departments []string
	// OverdueAt selects assignments not done and due before it.
	OverdueAt time.Time
	Limit     int
}

// CaseFilter selects cases; zero fields select everything.
type CaseFilter struct {
	Departments []string  // any of these departments
	Open        bool      // only cases not yet decided (status other than judged)
	From, To    time.Time // created in [From, To)
	Limit       int
}

// FreshKey begins the outbox keys that are unique by construction: random,
// or made from a platform delivery that the same transaction recorded with
// Seen. A store need not look such a key up before adding its item, which
// spares every step an index entry at a random place.
const FreshKey = "in:"

// UrgentKey begins the outbox keys of messages that must go before any
// other (an SOS alert): a claim takes due urgent items first, ahead of
// older items, even to the same target.
const UrgentKey = "urgent:"

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
	// RenewOutbox extends to until the leases of the items still held as
	// claimed: pending, leased past now and claimed no more often than
	// their Attempts say (each claim counts one, so an item another
	// worker claimed since does not match). It returns the ids renewed;
	// an item missing from them is no longer the caller's to send.
	RenewOutbox(ctx context.Context, items []OutboxItem, now, until time.Time) ([]int64, error)
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
	// CountOutbox counts the items whose key starts with prefix, by
	// status: the progress of a campaign.
	CountOutbox(ctx context.Context, prefix string) (map[string]int, error)
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

// NamesCase reports whether an outbox key or a message Ref names case
// number as one of its colon-separated parts ("card:KH-2026-0001",
// "in:…:closed:SD-2026-0003:0"), not as the beginning of a longer number
// (KH-2026-1000 is not KH-2026-10000).
func NamesCase(key, number string) bool {
	for part := range strings.SplitSeq(key, ":") {
		if part == number {
			return true
		}
	}
	return false
}

// Mentions reports whether text holds case number, not followed by
// another digit.
func Mentions(text, number string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], number)
		if j < 0 {
			return false
		}
		end := i + j + len(number)
		if end == len(text) || text[end] < '0' || text[end] > '9' {
			return true
		}
		i = i + j + 1
	}
}
