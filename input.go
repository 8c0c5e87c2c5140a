package mamori

import (
	"fmt"
	"time"
)

// Input is one thing a user did, translated from a platform event.
type Input struct {
	Kind InputKind `json:"kind"`
	User User      `json:"user"`
	// Step is the conversation step the clicked message belonged to
	// (Message.Step); a click from an older step is stale.
	Step   string   `json:"step,omitempty"`
	Value  string   `json:"value,omitempty"`  // a clicked Choice.Value
	Values []string `json:"values,omitempty"` // a submitted Multi
	Text   string   `json:"text,omitempty"`   // typed text
	Files  []File   `json:"files,omitempty"`  // files sent in the DM
	// Delivery is the platform's id for this delivery (event id, action
	// id); a second Input with the same Delivery is ignored.
	Delivery string `json:"delivery,omitempty"`
	// Respond is the platform's short-lived handle for answering this
	// input where it was made (Slack's response_url); empty if none.
	// Handle passes it on to the replies to this input (Message.Respond).
	Respond string `json:"respond,omitempty"`
}

// InputKind says what the user did.
type InputKind string

// Input kinds.
const (
	// InputStart opens the menu (slash command, App Home button). Value may
	// name where to go straight away: StartReport, StartConsult, StartPolicy.
	InputStart  InputKind = "start"
	InputText   InputKind = "text"
	InputChoice InputKind = "choice"
	InputMulti  InputKind = "multi"
	InputFile   InputKind = "file"
)

// Start values.
const (
	StartReport  = "report"
	StartConsult = "consult"
	StartPolicy  = "policy"
	// StartSOS raises an SOS: the employee is in danger now.
	StartSOS = "sos"
	// StartOnsite shows the policy's on-site response guidance.
	StartOnsite = "onsite"
)

// StepCard is the Step of actions on a case card in a channel. Their
// values are "<action>:<case number>", e.g. "details:KH-2026-0001".
const StepCard = "card"

// Card actions.
const (
	CardDetails = "details"
	CardTake    = "take"
	CardJudge   = "judge"
	CardReopen  = "reopen"
	CardAsk     = "ask"
	// CardWitness asks a colleague for a witness statement: the form
	// names them; they get a button in their DM whose value is
	// "witness:<case number>".
	CardWitness = "witness"
)

// RetryAfterError is returned by a sender that was rate limited, or that
// held a message back itself to keep within a rate limit (Paced).
type RetryAfterError struct {
	After time.Duration
	Paced bool // held back by the sender; nothing failed
}

func (e *RetryAfterError) Error() string { return fmt.Sprintf("rate limited: retry after %s", e.After) }

// PermanentError wraps a send failure that retrying cannot mend
// (channel_not_found, not_in_channel, invalid_auth).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Care task and training card actions. Their values are
// "<action>:<task id>" and "<action>:<case number>".
const (
	CareAck        = "care_ack"
	CareNoteAction = "care_note"
	CareCloseTask  = "care_close"
	CardTrain      = "train" // assign the recommended training
)

// SOS actions. "sos_ack:<number>" is the responders' "I'm on it" on an
// alert card; the others are the employee's buttons in their DM.
const (
	SOSAck    = "sos_ack"
	SOSClose  = "sos_close" // a responder: the employee is safe, close it
	SOSSafe   = "sos_safe"
	SOSSkip   = "sos_skip"
	SOSReport = "sos_report"
)

// Consultation card actions, for HR. Their values are
// "<action>:<consultation number>".
const (
	ConsultTake  = "consult_take"
	ConsultReply = "consult_reply"
	ConsultClose = "consult_close"
)
