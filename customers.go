package mamori

import "time"

// Repeat customers and the refusal-of-service register (issue 16).
//
// A report may name what identifies the customer in the company's own
// systems (Answers.CustomerIDs: a customer or contract number, a phone
// number, a name). Those words stay sealed with the answers; what the
// store indexes is a keyed blind index of each identifier once
// normalised (flows.CustomerKeys): the same customer typed differently
// (full-width digits, a phone number with or without hyphens, katakana or
// hiragana) gives the same keys, and the database holds no identifier in
// the clear. Cases that share a key are about the same customer; a
// supervisor or HR corrects a wrong match, or adds a missed one, by hand
// (CaseLink).
//
// The register lists the customers refused service after a カスハラ
// judgement: an entry holds their identifiers (sealed, with their keys in
// the blind index), the departments or sites it applies to, from when and
// until when, when it is reviewed, the cases it rests on and who decided.
// Front-line staff check a customer against it and learn only whether
// they may serve them.

// Customers is what a transaction keeps about the customers of reports
// and the refusal-of-service register. Keys are normalised identifiers
// (flows.CustomerKeys); a store keeps a keyed hash of each (SQL stores:
// an HMAC with a key derived from the encryption key), never the key.
type Customers interface {
	// IndexCustomer records that case number is about a customer with
	// these keys. Keys already indexed for it are left as they are.
	IndexCustomer(number string, keys []string) error
	// CustomerCases lists the numbers of the cases indexed under any of
	// keys, sorted, each once.
	CustomerCases(keys []string) ([]string, error)
	// UnindexCustomer forgets every key of case number (its content was
	// deleted under the retention rule).
	UnindexCustomer(number string) error

	// PutLink records a supervisor's or HR's decision that two cases are,
	// or are not, about the same customer. It replaces an earlier
	// decision on the same pair, in either order.
	PutLink(l CaseLink) error
	// Links lists the decisions that name case number, oldest first.
	Links(number string) ([]CaseLink, error)

	// InsertEntry adds a register entry, its identifiers indexed under
	// keys. ErrConflict if its number is taken.
	InsertEntry(e RegisterEntry, keys []string) error
	// UpdateEntry stores an entry's status, dates and sealed part. Keys
	// nil leaves its index as it is; an empty, non-nil list removes it.
	// ErrNotFound if there is no such entry.
	UpdateEntry(e RegisterEntry, keys []string) error
	Entry(number string) (RegisterEntry, error) // ErrNotFound if none
	// Entries lists the register's entries, oldest first; with active,
	// only those whose Status is RegisterActive.
	Entries(active bool) ([]RegisterEntry, error)
	// EntriesFor lists the entries indexed under any of keys, oldest
	// first, each once.
	EntriesFor(keys []string) ([]RegisterEntry, error)
}

// CaseLink is a decision by a supervisor or HR on whether cases A and B
// are about the same customer: Linked, or not (a wrong match of their
// identifiers, undone).
type CaseLink struct {
	A      string    `json:"a"`
	B      string    `json:"b"`
	Linked bool      `json:"linked"`
	By     string    `json:"by"` // user key
	At     time.Time `json:"at"`
}

// Other returns the case of l that is not number.
func (l CaseLink) Other(number string) string {
	if l.A == number {
		return l.B
	}
	return l.A
}

// RegisterEntry is one customer on the refusal-of-service register. Its
// identifiers, note and history are confidential: stores keep the entry
// sealed, with its number, status and dates beside it for the daily pass.
type RegisterEntry struct {
	Number string `json:"number"` // RF-2026-0001
	Status string `json:"status"` // RegisterActive, RegisterLifted, RegisterExpired
	// Departments are where it applies (departments or sites, by id);
	// none means the whole company.
	Departments []string  `json:"departments,omitempty"`
	From        time.Time `json:"from"`
	Until       time.Time `json:"until"`
	Review      time.Time `json:"review"`
	// Identifiers are the customer's identifiers as HR entered them; a
	// lifted or expired entry keeps none.
	Identifiers string `json:"identifiers,omitempty"`
	// Cases are the reports the refusal rests on.
	Cases []string `json:"cases,omitempty"`
	// DecidedBy is who recorded it (a user key).
	DecidedBy string         `json:"decided_by"`
	Note      string         `json:"note,omitempty"`
	History   []RegisterStep `json:"history,omitempty"`
	// Platform is where the HR channel it is posted to lives.
	Platform string `json:"platform,omitempty"`
	// Reminded is when HR was last told the entry is due for review or
	// about to end.
	Reminded time.Time `json:"reminded,omitzero"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// RegisterStep is one thing done to a register entry: added, extended,
// reviewed, lifted or expired, with the dates it left.
type RegisterStep struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"` // user key or "system"
	What   string    `json:"what"`
	Until  time.Time `json:"until,omitzero"`
	Review time.Time `json:"review,omitzero"`
	Note   string    `json:"note,omitempty"`
}

// Register entry statuses.
const (
	RegisterActive  = "active"
	RegisterLifted  = "lifted"
	RegisterExpired = "expired"
)

// Covers reports whether entry e applies, at t, to department dept (""
// for someone who belongs to none: only a company-wide entry applies).
func (e RegisterEntry) Covers(dept string, t time.Time) bool {
	if e.Status != RegisterActive || t.Before(e.From) || !t.Before(e.Until) {
		return false
	}
	if len(e.Departments) == 0 {
		return true
	}
	for _, d := range e.Departments {
		if d == dept && dept != "" {
			return true
		}
	}
	return false
}

// Actions of repeat customers and the register, as buttons' values
// ("<action>:<subject>"). CardLink and RegisterAdd name a case; the
// others a register entry.
const (
	// CardLink opens the form that links a report to others about the
	// same customer, or unlinks a wrong match.
	CardLink = "link"
	// RegisterAdd records a customer refused service on the register,
	// from a report judged カスハラ with the "refuse" response.
	RegisterAdd     = "register"
	RegisterExtend  = "register_extend"
	RegisterReview  = "register_review"
	RegisterLift    = "register_lift"
	RegisterDetails = "register_show"
)

// StartCheck asks for a customer to check against the register, at the
// front line: the answer says only whether to serve them.
const StartCheck = "check"
