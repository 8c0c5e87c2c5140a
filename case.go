package mamori

import "time"

// Conversation is one user's guided conversation, stored after every
// answer so it can be resumed anywhere, also after a restart. It holds
// confidential answers: stores keep it encrypted.
type Conversation struct {
	User    User     `json:"user"`
	Flow    string   `json:"flow"` // FlowReport, FlowConsult or "" (menu)
	Step    string   `json:"step"`
	History []string `json:"history,omitempty"` // steps behind, for "back"
	// Editing is set when a step was reached from the summary's edit
	// menu: answering returns to the summary.
	Editing bool    `json:"editing,omitempty"`
	Answers Answers `json:"answers"`
	// Reply is the case number whose question the user is answering: the
	// next text they send goes to that case's thread.
	Reply string `json:"reply,omitempty"`
	// ReplyTo is the question (1, 2…) of that case whose "Answer" was
	// pressed; 0 for the oldest one still open.
	ReplyTo int `json:"reply_to,omitempty"`
	// Witness is the case number whose witness statement the user is
	// giving: the next text they send is it.
	Witness string `json:"witness,omitempty"`
	// Paused is set by "continue later": the next message resumes.
	Paused bool `json:"paused,omitempty"`
	// Draft is text sent after a long silence, kept until the person
	// says it answers the question shown again (or sends another).
	Draft string `json:"draft,omitempty"`
	// DraftLog is each message added to Draft at the menu, with its time
	// (the last few hours): an SOS raised soon after passes on only those
	// of the last quarter of an hour, and those of danger of the last
	// hours — not a worry kept from before, perhaps for HR alone.
	DraftLog []Note `json:"draft_log,omitempty"`
	// ReplyDraft is text typed at the menu while a question of case
	// ReplyDraftFor waits for their answer: kept apart from Draft (what
	// they wrote before, perhaps for HR alone), and offered as the answer
	// to that case only.
	ReplyDraft    string `json:"reply_draft,omitempty"`
	ReplyDraftFor string `json:"reply_draft_for,omitempty"`
	// ReplyDraftInFlow: ReplyDraft was typed in the report under way (it
	// goes if the report is stopped and deleted).
	ReplyDraftInFlow bool `json:"reply_draft_in_flow,omitempty"`
	AlertSent        bool `json:"alert_sent,omitempty"`
	// AccountKept is set while the account holds words kept with it
	// before its question was answered (typed at the menu or at a
	// question of buttons): what is typed there adds to them.
	AccountKept bool `json:"account_kept,omitempty"`
	// SOS is the number of the person's SOS still open; SOSPlace is set
	// while its one question (where are you?) waits for an answer.
	SOS      string `json:"sos,omitempty"`
	SOSPlace bool   `json:"sos_place,omitempty"`
	// SOSOffered is when the menu last offered the SOS for words of
	// danger: a 「はい」 soon after is a yes to it.
	SOSOffered time.Time `json:"sos_offered,omitzero"`
	// Check is set while the one question of a front-line check (which
	// customer?) waits for its answer.
	Check bool `json:"check,omitempty"`
	// Checkin is the case whose care check-in ("how are you doing?") was
	// sent to the person at CheckinAt and not answered yet: the words of
	// one of its buttons typed at the menu answer it.
	Checkin   string    `json:"checkin,omitempty"`
	CheckinAt time.Time `json:"checkin_at,omitzero"`
	// CheckinWords are words typed in answer to it that read as none of
	// its buttons ("ok i guess"): they go to HR with the button pressed
	// next, never into a report.
	CheckinWords string `json:"checkin_words,omitempty"`
	// Asked is the case whose question reached the person at AskedAt
	// while they were writing a report: what they type next may answer
	// either.
	Asked   string    `json:"asked,omitempty"`
	AskedAt time.Time `json:"asked_at,omitzero"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
}

// Flows a conversation can be in.
const (
	FlowReport  = "report"
	FlowConsult = "consult"
)

// Answers are what the reporter said. Narrative, customer and health
// answers are confidential.
type Answers struct {
	Safety     string   `json:"safety,omitempty"`   // safe, danger, injured
	ForWhom    string   `json:"for_whom,omitempty"` // self, colleague
	Colleague  string   `json:"colleague,omitempty"`
	Department string   `json:"department,omitempty"`
	When       string   `json:"when,omitempty"`
	Channel    string   `json:"channel,omitempty"` // contact channel id
	Place      string   `json:"place,omitempty"`
	Customer   string   `json:"customer,omitempty"`
	Demand     string   `json:"demand,omitempty"`
	Fault      string   `json:"fault,omitempty"` // yes, no, unsure
	Behaviours []string `json:"behaviours,omitempty"`
	Narrative  string   `json:"narrative,omitempty"`
	Words      string   `json:"words,omitempty"`
	Duration   string   `json:"duration,omitempty"`
	Repeat     string   `json:"repeat,omitempty"`
	Witnesses  string   `json:"witnesses,omitempty"`
	Evidence   string   `json:"evidence,omitempty"`
	Files      []File   `json:"files,omitempty"`
	Wellbeing  string   `json:"wellbeing,omitempty"` // ok, hard, very_hard
	Talk       string   `json:"talk,omitempty"`      // yes, no
	// Feelings are words typed at the wellbeing or talk question (which
	// its buttons answer): kept, like those answers, for HR alone.
	Feelings string `json:"feelings,omitempty"`
	Route    string `json:"route,omitempty"` // RouteDepartment or RouteHR
	// Consultation fields.
	Worry   string `json:"worry,omitempty"`
	Contact string `json:"contact,omitempty"` // yes, no: HR may contact me
	// FromConsultation is the number of the consultation a report grew from.
	FromConsultation string `json:"from_consultation,omitempty"`
	// AboutCase is the number of the reporter's own report a consultation
	// is about (asked from its outcome).
	AboutCase string `json:"about_case,omitempty"`
	// FromSOS is the number of the SOS a report grew from.
	FromSOS string `json:"from_sos,omitempty"`
	// CustomerIDs is what identifies the customer in the company's own
	// systems (customer or contract number, phone number, name), as
	// typed. Confidential, like the customer descriptor.
	CustomerIDs string `json:"customer_ids,omitempty"`
}

// File is evidence the reporter sent (a photo, a recording).
type File struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Routes a case can take.
const (
	RouteDepartment = "department"
	RouteHR         = "hr"
)

// Case kinds and their number prefixes.
const (
	KindReport  = "report"  // KH-2026-0042
	KindConsult = "consult" // SD-2026-0007
	KindSOS     = "sos"     // SOS-2026-0003: an employee in danger now
)

// Urgency levels.
const (
	UrgencyUrgent = "urgent"
	UrgencyHigh   = "high"
	UrgencyNormal = "normal"
)

// Suggestions from the policy for the judgement.
const (
	SuggestKasuhara = "kasuhara"   // a behaviour unacceptable regardless
	SuggestDepends  = "depends"    // follows the demand's validity
	SuggestUnclear  = "unclear"    // nothing listed; judge on the facts
	SuggestLegit    = "legitimate" // likely a legitimate complaint
)

// Case statuses.
const (
	StatusNew      = "new"
	StatusOpen     = "open"  // consultations
	StatusTaken    = "taken" // a supervisor is on it
	StatusMoreInfo = "more_info"
	StatusJudged   = "judged"
	StatusReopened = "reopened"
	StatusClosed   = "closed" // a consultation HR has closed
)

// Decision is the supervisors' confidential record of a report: the
// questions put to the reporter and their answers and, once judged, the
// judgement on the policy's two criteria. Outcome is empty until a
// judgement is recorded. Stores keep it encrypted.
type Decision struct {
	Facts    string   `json:"facts,omitempty"`   // facts confirmed
	Validity string   `json:"validity"`          // ① valid, partly, invalid, unclear
	Means    string   `json:"means"`             // ② acceptable, unacceptable
	Fault    string   `json:"fault,omitempty"`   // yes, no, unsure
	Outcome  string   `json:"outcome"`           // Outcome*
	Actions  []string `json:"actions,omitempty"` // policy action ids
	// Reason says why the outcome goes against the criteria as chosen
	// (flows.Contradicts) or against the policy's suggestion for the case
	// (flows.AgainstSuggestion); required then.
	Reason string    `json:"reason,omitempty"`
	Note   string    `json:"note,omitempty"`
	By     string    `json:"by"` // user key
	At     time.Time `json:"at"`
	// Questions are what supervisors or HR asked the reporter, with the
	// answers, oldest first. Only those who may see the case read them.
	Questions []Question `json:"questions,omitempty"`
	// History are the earlier judgements of a reopened case, oldest
	// first, each with why it was reopened.
	History []PastDecision `json:"history,omitempty"`
	// Consultation is what HR did with a consultation: ConsultResolved
	// or ConsultConverted once closed.
	Consultation string `json:"consultation,omitempty"`
	// Witnesses are the colleagues asked for a statement, with what they
	// said. Only those who may see the case read them; a reopening keeps
	// them.
	Witnesses []Witness `json:"witnesses,omitempty"`
	// Emergency is the life of an SOS (KindSOS): where the employee is,
	// what they sent, when the alert went out and how far it escalated.
	Emergency *Emergency `json:"emergency,omitempty"`
	// Hold is HR's legal hold: the retention rule leaves the case alone
	// until it is released.
	Hold *Hold `json:"hold,omitempty"`
	// EraseAsked is when the reporter asked for their closed
	// consultation to be deleted early, until HR decides.
	EraseAsked time.Time `json:"erase_asked,omitzero"`
	// Noticed is when HR was told the case is soon due for deletion.
	Noticed time.Time `json:"noticed,omitzero"`
	// Purged is when the case's content was deleted under the retention
	// rule (or early, on the reporter's request): the case is a
	// tombstone since.
	Purged time.Time `json:"purged,omitzero"`
}

// Emergency is an SOS's record. Who acknowledged it and when are the
// case's Assignee and Taken; "safe now" closes the case.
type Emergency struct {
	Place string `json:"place,omitempty"`
	// Notes are what the employee typed during the SOS, for those who
	// may see the case.
	Notes []Note `json:"notes,omitempty"`
	// Files are what the employee sent during the SOS (a voice memo, a
	// photo): evidence for the report that may follow.
	Files []File `json:"files,omitempty"`
	// Posted is when the first alert reached a platform.
	Posted time.Time `json:"posted,omitzero"`
	// Rounds is how many times it escalated for want of an
	// acknowledgement; Refs are the alert messages posted so far (their
	// Message.Ref), all updated when it is acknowledged or closed.
	Rounds int      `json:"rounds,omitempty"`
	Refs   []string `json:"refs,omitempty"`
	// Version counts the updates of the alert cards.
	Version int       `json:"version,omitempty"`
	Safe    time.Time `json:"safe,omitzero"`
	// SafeBy is the responder who closed it (a user key); empty when the
	// employee said they were safe.
	SafeBy string `json:"safe_by,omitempty"`
	// Report is the report the employee made from it.
	Report string `json:"report,omitempty"`
}

// Note is a line someone typed, and when.
type Note struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// Witness is a colleague asked by a supervisor or HR for a statement on
// a case, and the statement once given. Like the reporter, a witness is
// protected from unfair treatment for speaking.
type Witness struct {
	User      User      `json:"user"`
	By        string    `json:"by"` // user key of who asked
	Asked     time.Time `json:"asked"`
	Question  string    `json:"question,omitempty"`
	Statement string    `json:"statement,omitempty"`
	Given     time.Time `json:"given,omitzero"`
}

// Witness returns the index of the statement asked of user key, or -1.
func (d *Decision) Witness(key string) int {
	if d == nil {
		return -1
	}
	for i, w := range d.Witnesses {
		if w.User.Key() == key {
			return i
		}
	}
	return -1
}

// PastDecision is a judgement that was reopened, and why.
type PastDecision struct {
	Outcome string   `json:"outcome"`
	Actions []string `json:"actions,omitempty"`
	// What the judgement rested on, kept with it (since 2026-12): the
	// facts written, ① and ②, the employee's part, the reason.
	Facts      string    `json:"facts,omitempty"`
	Validity   string    `json:"validity,omitempty"`
	Means      string    `json:"means,omitempty"`
	Fault      string    `json:"fault,omitempty"`
	Why        string    `json:"why,omitempty"` // the judgement's own reason (Decision.Reason)
	By         string    `json:"by"`
	At         time.Time `json:"at"`
	Reopened   time.Time `json:"reopened"`
	ReopenedBy string    `json:"reopened_by"`
	Reason     string    `json:"reason"`
}

// Recommended reports whether an earlier judgement of the case, since
// reopened, already had outcome o (and so already led to what o leads
// to, such as HR's training recommendation).
func (d *Decision) Recommended(o string) bool {
	if d == nil {
		return false
	}
	for _, p := range d.History {
		if p.Outcome == o {
			return true
		}
	}
	return false
}

// Past is d's history (none for nil).
func (d *Decision) Past() []PastDecision {
	if d == nil {
		return nil
	}
	return d.History
}

// Waiting reports whether the last question put to the reporter is
// still unanswered.
func (d *Decision) Waiting() bool {
	return d != nil && len(d.Questions) > 0 && d.Questions[len(d.Questions)-1].Answer == ""
}

// What HR did when closing a consultation.
const (
	ConsultResolved  = "resolved"
	ConsultConverted = "converted" // the employee was invited to make it a report
)

// Decided reports whether d holds a judgement, not only questions.
func (d *Decision) Decided() bool { return d != nil && d.Outcome != "" }

// Question is one question to the reporter and its answer.
type Question struct {
	By       string    `json:"by"` // user key of who asked
	Text     string    `json:"text"`
	At       time.Time `json:"at"`
	Answer   string    `json:"answer,omitempty"`
	Answered time.Time `json:"answered,omitzero"`
}

// Outcomes of a judgement.
const (
	OutcomeKasuhara   = "kasuhara"
	OutcomeLegitimate = "legitimate" // normal complaint handling
	OutcomeMoreInfo   = "more_info"
	OutcomeMedical    = "medical" // the policy's illness exception
)

// Outcomes are every judgement outcome, in the order a judge form offers
// them; flows leaves out the ones a policy does not have (the medical
// exception). A new outcome is a constant here, a place in this list and
// its texts (decision.<id>, outcome.<id>).
func Outcomes() []string {
	return []string{OutcomeKasuhara, OutcomeLegitimate, OutcomeMoreInfo, OutcomeMedical}
}

// Case is a submitted report or consultation. Answers are confidential;
// stores keep them encrypted and only the reporter, the department's
// supervisors and HR see them.
type Case struct {
	Number     string    `json:"number"`
	Kind       string    `json:"kind"`
	Reporter   User      `json:"reporter"`
	Department string    `json:"department,omitempty"`
	Route      string    `json:"route"`
	Channel    string    `json:"channel"` // where the card went
	Status     string    `json:"status"`
	Urgency    string    `json:"urgency"`
	Suggestion string    `json:"suggestion"`
	Crime      bool      `json:"crime,omitempty"`
	Behaviours []string  `json:"behaviours,omitempty"`
	Created    time.Time `json:"created"`
	Answers    Answers   `json:"answers"`
	// Assignee is the user key of whoever took the case.
	Assignee string    `json:"assignee,omitempty"`
	Decision *Decision `json:"decision,omitempty"`
	Updated  time.Time `json:"updated,omitempty"`
	// CheckinsStopped is set when the reporter asked for no more care
	// check-ins.
	CheckinsStopped bool `json:"checkins_stopped,omitempty"`
	// Taken and Judged are when the case was first taken and last judged,
	// for the statistics (time to first response, to judgement).
	Taken  time.Time `json:"taken,omitzero"`
	Judged time.Time `json:"judged,omitzero"`
}
