package mamori

import "time"

// Retention (issue 15). A case is kept for its rule's period after it
// closes; then its content is deleted and what remains is a tombstone:
// its number, dates, kind, outcome and department, so that statistics
// and the audit trail stay whole. A case is never deleted as a row.

// Hold is a legal hold HR put on a case: while it is there, the retention
// rule does not delete the case. Its reason is confidential, like the
// rest of the decision.
type Hold struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"` // user key
	At     time.Time `json:"at"`
}

// Legal hold and early deletion actions. Their values are
// "<action>:<case number>".
const (
	CardHold    = "hold"    // HR: keep the case past its retention (a form asks why)
	CardRelease = "release" // HR: end the hold
	// EraseAsk is the employee's button on a consultation they closed:
	// please delete it before its retention ends. HR approves or declines.
	EraseAsk     = "erase"
	EraseApprove = "erase_approve"
	EraseDecline = "erase_decline"
)

// PurgedKey is the reporter key a purged case is kept under: no user's,
// so that CasesOf no longer finds it.
func PurgedKey(number string) string { return "purged:" + number }

// Purged reports whether case k's content was deleted (see PurgeCase).
func (k Case) Purged() bool { return k.Decision != nil && !k.Decision.Purged.IsZero() }

// Held reports whether d holds a legal hold.
func (d *Decision) Held() bool { return d != nil && d.Hold != nil }

// Prune says which of the rows kept only for a while to delete: delivery
// ids recorded before Seen, outbox items sent before Sent, items that
// failed for good and were last tried before Failed (HR was told of each
// at the time), jobs done or canceled before Jobs (a zero time deletes
// none of them), at most Limit rows of each table in one call. Pending
// outbox items and pending jobs are never pruned.
type Prune struct {
	Seen, Sent, Failed, Jobs time.Time
	Limit                    int
}

// Pruned counts the rows a Prune deleted, by table.
type Pruned struct {
	Seen, Outbox, Jobs int
}

// Add adds o to p.
func (p *Pruned) Add(o Pruned) {
	p.Seen, p.Outbox, p.Jobs = p.Seen+o.Seen, p.Outbox+o.Outbox, p.Jobs+o.Jobs
}
