package flows

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mamori-oss/mamori"
)

// Steps of the conversations. They are stored: never rename one.
const (
	stepMenu    = "menu"
	stepResume  = "resume"
	stepCancel  = "cancel"
	stepDone    = "done"
	stepSummary = "summary"
	stepEdit    = "edit"

	stepSafety     = "safety"
	stepForWhom    = "for_whom"
	stepColleague  = "colleague"
	stepDepartment = "department"
	stepWhen       = "when"
	stepChannel    = "channel"
	stepPlace      = "place"
	stepCustomer   = "customer"
	stepCustomerID = "customer_id"
	stepDemand     = "demand"
	stepFault      = "fault"
	stepBehaviours = "behaviours"
	stepNarrative  = "narrative"
	stepWords      = "words"
	stepDuration   = "duration"
	stepRepeat     = "repeat"
	stepWitnesses  = "witnesses"
	stepEvidence   = "evidence"
	stepWellbeing  = "wellbeing"
	stepTalk       = "talk"
	stepRoute      = "route"

	stepWorry     = "c_worry"
	stepContact   = "c_contact"
	stepCSummary  = "c_summary"
	stepCancelled = "cancelled"
)

// Navigation values, valid at every question.
const (
	navBack   = "nav:back"
	navLater  = "nav:later"
	navCancel = "nav:cancel"
	navSkip   = "nav:skip"
	navKeep   = "nav:keep"
	navDraft  = "nav:draft" // the text sent after a silence is the answer
	// navReplace and navAppend: a short text typed to change a long
	// account replaces it, or is added to it (asked first).
	navReplace = "nav:replace"
	navAppend  = "nav:append"
	// toConsult: a report becomes a question to HR, its account kept.
	toConsult = "to_consult"
)

// IdleAfter is how long a conversation may rest before typed text is no
// longer taken straight as the answer to the question shown back then:
// the person is asked first, so a "hello" after a night is not filed as
// what happened.
const IdleAfter = time.Hour

// MaxText is the longest free-text answer kept. Longer text is refused
// with a clear message, never cut silently.
const MaxText = 4000

// Env is what a step may consult besides the state: all of it read-only.
type Env struct {
	Policy *mamori.Policy
	Org    *mamori.Org
	Now    time.Time
	// Consultation is the consultation a "turn into a report" click names,
	// loaded by the host; nil otherwise.
	Consultation *mamori.Case
	// Location is the organisation's time zone: "today" is stored as
	// its date. Nil means Now's.
	Location *time.Location
	// Unshown is set by the host when the question the user is at has
	// not reached them yet (it is still in the outbox): typed text then
	// cannot be an answer to it.
	Unshown bool
	// Awaiting is set by the host, for text typed at the menu, to the
	// person's case with the newest question to them still unanswered
	// (a supervisor's question, HR's reply to a consultation): what they
	// typed can be sent as the answer with one click.
	Awaiting string
	// AwaitingAt is when that question was asked.
	AwaitingAt time.Time
	// TalkBy says, in the user's language, by when HR gets in touch with
	// someone who asks to talk now (a check-in answer); "" if unknown.
	TalkBy string
}

// Out is what a step asks the host to do besides storing the new state.
type Out struct {
	Replies []mamori.Message
	// SOS asks the host to raise an SOS or act on the open one.
	SOS *SOSOut
	// Submit asks the host to file the conversation as a case
	// (mamori.KindReport or mamori.KindConsult) and to end it.
	Submit string
	// End asks the host to delete the conversation.
	End bool
	// Paused asks for a reminder to continue later.
	Paused bool
	// Audit names what happened, for the audit trail ("" for nothing).
	Audit string
	// Stale is set when the input was a click on an earlier question: it
	// changed nothing.
	Stale bool
	// Reply carries the reporter's answer to a supervisor's question.
	Reply *Reply
	// Witness carries a colleague's witness statement.
	Witness *Reply
	// Checkin carries the answer to a care check-in.
	Checkin *Checkin
	// Check asks the host to check the customer typed against the
	// refusal-of-service register (check.go).
	Check *string
}

// Reply is a reporter's answer to a question about case Number.
type Reply struct {
	Number, Text string
	Question     int // 1, 2…: the question answered; 0 for the oldest open
}

type kind int

const (
	kChoice kind = iota // buttons
	kText               // free text
	kBoth               // buttons or free text
	kMulti              // checkboxes
)

// question is one step of the report or the consultation.
type question struct {
	step     string
	kind     kind
	optional bool
	flow     string
	// options lists the choices; nil for free text.
	options func(env Env, l mamori.Lang) []mamori.Choice
	// answer points at where the answer is kept.
	answer func(a *mamori.Answers) *string
	// asked reports whether the question applies; nil means always.
	asked func(env Env, c mamori.Conversation) bool
}

func fixed(step string, values ...string) func(Env, mamori.Lang) []mamori.Choice {
	return func(env Env, l mamori.Lang) []mamori.Choice {
		cs := make([]mamori.Choice, len(values))
		for i, v := range values {
			cs[i] = mamori.Choice{Value: v, Label: env.Policy.T(l, "a."+step+"."+v)}
		}
		return cs
	}
}

var questions = []question{
	{step: stepSafety, kind: kChoice, flow: mamori.FlowReport,
		options: fixed(stepSafety, "safe", "danger", "injured"),
		answer:  func(a *mamori.Answers) *string { return &a.Safety },
		// A report from an SOS knows: they said so there.
		asked: func(_ Env, c mamori.Conversation) bool { return c.Answers.FromSOS == "" || c.Answers.Safety == "" }},
	{step: stepForWhom, kind: kChoice, flow: mamori.FlowReport,
		options: fixed(stepForWhom, "self", "colleague"),
		answer:  func(a *mamori.Answers) *string { return &a.ForWhom }},
	{step: stepColleague, kind: kText, flow: mamori.FlowReport, optional: true,
		answer: func(a *mamori.Answers) *string { return &a.Colleague },
		asked:  func(_ Env, c mamori.Conversation) bool { return c.Answers.ForWhom == "colleague" }},
	{step: stepDepartment, kind: kChoice, flow: mamori.FlowReport,
		options: func(env Env, l mamori.Lang) []mamori.Choice {
			var cs []mamori.Choice
			for _, d := range env.Org.Departments {
				cs = append(cs, mamori.Choice{Value: d.ID, Label: d.Name.In(l)})
			}
			return append(cs, mamori.Choice{Value: "unknown", Label: env.Policy.T(l, "a.department.unknown")})
		},
		answer: func(a *mamori.Answers) *string { return &a.Department },
		asked: func(env Env, c mamori.Conversation) bool {
			_, known := env.Org.DepartmentOf(c.User)
			return !known && len(env.Org.Departments) > 0
		}},
	{step: stepWhen, kind: kBoth, flow: mamori.FlowReport,
		options: fixed(stepWhen, whenToday, whenYesterday, whenEarlier),
		answer:  func(a *mamori.Answers) *string { return &a.When }},
	{step: stepNarrative, kind: kText, flow: mamori.FlowReport,
		answer: func(a *mamori.Answers) *string { return &a.Narrative }},
	{step: stepChannel, kind: kChoice, flow: mamori.FlowReport,
		options: func(env Env, l mamori.Lang) []mamori.Choice {
			cs := make([]mamori.Choice, len(env.Policy.Channels))
			for i, o := range env.Policy.Channels {
				cs[i] = mamori.Choice{Value: o.ID, Label: o.Label.In(l)}
			}
			return cs
		},
		answer: func(a *mamori.Answers) *string { return &a.Channel }},
	{step: stepPlace, kind: kText, flow: mamori.FlowReport, optional: true,
		answer: func(a *mamori.Answers) *string { return &a.Place }},
	{step: stepCustomer, kind: kText, flow: mamori.FlowReport, optional: true,
		answer: func(a *mamori.Answers) *string { return &a.Customer }},
	// What identifies the customer in the company's systems: it links
	// reports about the same customer (customers.go).
	{step: stepCustomerID, kind: kText, flow: mamori.FlowReport, optional: true,
		answer: func(a *mamori.Answers) *string { return &a.CustomerIDs }},
	{step: stepDemand, kind: kText, flow: mamori.FlowReport, optional: true,
		answer: func(a *mamori.Answers) *string { return &a.Demand }},
	{step: stepBehaviours, kind: kMulti, flow: mamori.FlowReport,
		options: func(env Env, l mamori.Lang) []mamori.Choice {
			cs := make([]mamori.Choice, len(env.Policy.Behaviours))
			for i, b := range env.Policy.Behaviours {
				cs[i] = mamori.Choice{Value: b.ID, Label: b.Label.In(l)}
			}
			return cs
		}},
	{step: stepWords, kind: kText, flow: mamori.FlowReport, optional: true,
		answer: func(a *mamori.Answers) *string { return &a.Words }},
	{step: stepDuration, kind: kBoth, flow: mamori.FlowReport, optional: true,
		options: fixed(stepDuration, "under10", "under30", "under60", "over60"),
		answer:  func(a *mamori.Answers) *string { return &a.Duration }},
	{step: stepRepeat, kind: kChoice, flow: mamori.FlowReport,
		options: fixed(stepRepeat, "first", "before", "unsure"),
		answer:  func(a *mamori.Answers) *string { return &a.Repeat }},
	{step: stepWitnesses, kind: kBoth, flow: mamori.FlowReport, optional: true,
		options: fixed(stepWitnesses, "nobody"),
		answer:  func(a *mamori.Answers) *string { return &a.Witnesses }},
	{step: stepEvidence, kind: kBoth, flow: mamori.FlowReport, optional: true,
		options: fixed(stepEvidence, "none", "recording", "photo", "cctv", "messages"),
		answer:  func(a *mamori.Answers) *string { return &a.Evidence }},
	{step: stepFault, kind: kChoice, flow: mamori.FlowReport,
		options: fixed(stepFault, "yes", "no", "unsure"),
		answer:  func(a *mamori.Answers) *string { return &a.Fault }},
	{step: stepWellbeing, kind: kChoice, flow: mamori.FlowReport,
		options: fixed(stepWellbeing, "ok", "hard", "very_hard"),
		answer:  func(a *mamori.Answers) *string { return &a.Wellbeing }},
	{step: stepTalk, kind: kChoice, flow: mamori.FlowReport,
		options: fixed(stepTalk, "yes", "no"),
		answer:  func(a *mamori.Answers) *string { return &a.Talk }},
	{step: stepRoute, kind: kChoice, flow: mamori.FlowReport,
		options: fixed(stepRoute, mamori.RouteDepartment, mamori.RouteHR),
		answer:  func(a *mamori.Answers) *string { return &a.Route },
		asked: func(env Env, c mamori.Conversation) bool {
			d, ok := department(env, c)
			return ok && d.SupervisorChannel != "" && len(d.Supervisors) > 0 && !onlySupervisor(d, c.User)
		}},

	{step: stepWorry, kind: kText, flow: mamori.FlowConsult,
		answer: func(a *mamori.Answers) *string { return &a.Worry }},
	{step: stepContact, kind: kChoice, flow: mamori.FlowConsult,
		options: fixed(stepContact, "yes", "no"),
		answer:  func(a *mamori.Answers) *string { return &a.Contact }},
}

// The "when" choices. Today and yesterday are stored as the date they
// name in the organisation's time zone ("2026-12-05"), so the record
// does not change meaning as days pass; "earlier" asks for the date.
const (
	whenToday     = "today"
	whenYesterday = "yesterday"
	whenEarlier   = "earlier"
	dateLayout    = "2006-01-02"
	// askDate is what record returns for "earlier": not a problem, a
	// request to type the date.
	askDate = "\x00date"
	// keptAside: the answer is kept, and more typed with it was added to
	// the account (nav.kept_aside).
	keptAside = "\x00aside"
	// askReplace: a short text typed to change a long account; replace
	// it, or add to it? (nav.replace_or_add)
	askReplace = "\x00replace"
)

func lookup(step string) (question, bool) {
	for _, q := range questions {
		if q.step == step {
			return q, true
		}
	}
	return question{}, false
}

// department returns the reporter's department: from the directory, else
// what they picked.
func department(env Env, c mamori.Conversation) (mamori.Department, bool) {
	if d, ok := env.Org.DepartmentOf(c.User); ok {
		return d, true
	}
	return env.Org.Department(c.Answers.Department)
}

// next returns the step after from in c's flow: the next question that
// applies, or the flow's summary.
func next(env Env, c mamori.Conversation, from string) string {
	passed := from == ""
	for _, q := range questions {
		if q.flow != c.Flow {
			continue
		}
		if !passed {
			passed = q.step == from
			continue
		}
		if q.asked == nil || q.asked(env, c) {
			return q.step
		}
	}
	// A required question that applies and has no answer comes before the
	// summary, wherever it stands: a report begun before the questions
	// were reordered may have passed it.
	for _, q := range questions {
		if q.flow == c.Flow && !q.optional && q.answer != nil && q.step != from &&
			(q.asked == nil || q.asked(env, c)) && *q.answer(&c.Answers) == "" {
			return q.step
		}
	}
	if c.Flow == mamori.FlowConsult {
		return stepCSummary
	}
	return stepSummary
}

// Step moves conversation c by one input and says what to do. It is pure:
// the same state and input give the same result; the host stores the
// returned state and carries out Out in one transaction.
func Step(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out) {
	nc, out := step(env, c, in)
	// Words of danger now, read once, and only when asked.
	var dangerRead, dangerIs bool
	danger := func() bool {
		if !dangerRead {
			dangerRead, dangerIs = true, in.Kind == mamori.InputText && dangerNow(in.Text)
		}
		return dangerIs
	}
	if out.SOS == nil && (alsoForSOS(env, c, in) && !answeredAt(c, nc) && nc.Draft == c.Draft ||
		// 「まだ店の前にいます、怖い」 as the account during an open SOS:
		// the account, and news too (how they are is HR's alone).
		c.SOS != "" && nc.SOS == c.SOS && c.Flow == mamori.FlowReport && answeredAt(c, nc) &&
			c.Step != stepWellbeing && c.Step != stepTalk && c.Step != stepRoute && danger()) {
		// Read by the report as without an SOS, and passed on too. (Words
		// kept to offer as an answer, on coming back, are the report's,
		// not news.)
		out.SOS = &SOSOut{Number: c.SOS, Note: strings.TrimSpace(in.Text)}
		out.Replies = append([]mamori.Message{sosKept(env, c.SOS, "sos.note.kept", nc.User.Lang)}, out.Replies...)
	}
	if inFlow(c) && in.Kind == mamori.InputText && out.SOS == nil && len(out.Replies) > 0 &&
		(holdsAny(in.Text, "どうすればいい", "どうしたらいい") || onsiteAskEN.MatchString(in.Text)) && danger() {
		// "hes calling again right now, what do i do" in the middle of a
		// report: what to do on the spot first, then the question (found
		// by a trial: only "choose a button").
		out.Replies = append([]mamori.Message{OnsiteMessage(env, nc.User.Lang)}, out.Replies...)
	}
	if out.SOS == nil && c.SOS == "" && nc.SOS == "" && inFlow(c) && c.Step != stepSafety && danger() {
		// "まだお客様が外で待っていて怖い", "包丁を持っています": kept as the
		// report reads it, and the SOS one press away, on the question.
		offerSOS(env, &out, nc.User.Lang)
		nc.SOSOffered = env.Now
	}
	return nc, out
}

// dangerNow reports whether words typed during a report or a
// consultation may speak of a danger now: a call for help, a weapon, or
// fear or danger with "now" or "still" ("まだ外で待っていて怖い"). An
// account may quote such words: the SOS is offered, never raised.
func dangerNow(typed string) bool { return callsForHelp(typed) || dangerSaid(typed) }

// dangerSaid is dangerNow but for a call for help: a weapon held, fear
// or a threat now, the customer back.
func dangerSaid(typed string) bool { return fearful(typed) && nowSaid(typed) || dangerAct(typed) }

// nowSaid reports words of now or still (「今も」, 「まだ」, "still").
func nowSaid(typed string) bool {
	return holdsAny(typed, "今も", "今は", "今、", "今まだ", "今でも", "いまも", "いまは", "いま、", "いままだ", "いまでも", "まだ", "外で待", "待ち伏せ") ||
		presentEN.MatchString(typed)
}

// dangerAct is dangerSaid but for fear itself: what someone does or
// holds now. 「まだ少し怖い」 answering a check-in is how they are.
func dangerAct(typed string) bool {
	now := nowSaid(typed)
	return weapon(typed) && (now || holdsAny(typed, "ている", "ています", "てる", "いる", "います") || holdingEN.MatchString(typed)) ||
		backAgain(typed) || presentEN.MatchString(typed) && threatEN.MatchString(typed) ||
		// Still there, still at it (「まだ外にいます」, 「まだ怒鳴っています」,
		// "he's still here") — not 「まだ店で働いています」.
		stillJA.MatchString(typed) || stillHere.MatchString(typed) ||
		threatToCome(typed)
}

// threatToCome reports a threat of harm still to come, said to the
// person (「お前の家は知ってる」, 「今から行くからな」, 「殺すぞ」, "he knows
// where i live", "said he'd wait for me after my shift"): the SOS is
// offered, and what to do to be safe going home.
func threatToCome(typed string) bool {
	return holdsAny(typed, "家は知って", "家を知って", "家知って", "今から行く", "いまから行く", "待ってる", "待ってるからな", "待ち伏せ", "殺す", "ころす", "覚えてろ", "覚えとけ", "覚えたからな", "顔は覚えた", "顔を覚えた", "顔覚えた",
		"つけられ", "後をつけ") || threatEN.MatchString(typed) && presentEN.MatchString(typed) || comingEN.MatchString(typed)
}

// comingEN is a threat of coming for the person ("knows where i live",
// "wait for me after my shift", "find me", "i'll kill you").
var comingEN = enRegexp{regexp.MustCompile(`(?i)knows? where (i|you) live|wait(ing)? for (me|you) after|come (back )?(to [a-z ]+ )?(and )?find (me|you)|(i'?ll|i will|he'?ll|he will|she'?ll|gonna|going to|would|said he'?d) (kill|hurt|get) (me|you)\b|follow(ed|ing)? me home`)}

// pastWords place what is typed in the past: a call for help beside them
// is told, not made ("yesterday a guy pulled a knife on me, pls help me")
// — not 「目の前に」, nor "Chicago".
var pastWords = regexp.MustCompile(`(?i)昨日|きのう|先週|先月|前にも|以前|\byesterday\b|\blast (week|month|time|night)\b|\bago\b|\bearlier today\b`)

// presentNow is someone there now (「外で待っていて」, 「店の前にいて」,
// "waiting outside").
var presentNow = regexp.MustCompile(`(?i)(外|前|店|近く|入口|駐車場)(で|に)(待|い[るてま]|居)|今(、|お店|店|外)|いま(、|外|店)|\b(waiting|outside|right now|is here|he'?s here)\b`)

// stillJA is the customer still there, or still at it, now.
var stillJA = regexp.MustCompile(`まだ(店内|店の前|店の外|店|外|近く|入口|そこ|前|駐車場)(に|で)(いる|います|いて|居る|居ます|待)|(お客様|お客さん|客|あの人|男|女)[^、。]{0,6}まだ(いる|います|居る|居ます)|(今も|まだ)怒鳴って|帰ってくれない|帰ろうとしない`)

// cameBefore places "came again" in the past (「先週また来た」) — not
// 「昨日の客がまた来た」, yesterday's customer back now.
var cameBefore = regexp.MustCompile(`(前にも|以前|先週|先月|昨日|きのう)([^の]|$)`)

// enRegexp is a regular expression of English words: text with no Latin
// letter (most typed text is Japanese) is not run through it.
type enRegexp struct{ *regexp.Regexp }

func (r enRegexp) MatchString(s string) bool { return hasLatin(s) && r.Regexp.MatchString(s) }

// hasLatin reports whether s holds a Latin letter.
func hasLatin(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}

// stillHere is the customer still there ("he's still here", "won't
// leave").
var stillHere = enRegexp{regexp.MustCompile(`(?i)\bstill (here|outside|there|in the (store|shop|lobby))\b|\bwon'?t (leave|go away)\b|\b(calling|ringing|phoning) (me )?again (right )?now\b`)}

// backNow is "he's back" said of now ("hes back", "they are back
// again"), not "he came back last week"; threatEN, what a customer may be
// doing now ("threatening me right now", "still yelling").
var (
	backNow  = enRegexp{regexp.MustCompile(`(?i)\b(he'?s|hes|he is|she'?s|shes|she is|they'?re|theyre|they are|the customer is|the guy is) (back|here again|coming back)\b`)}
	threatEN = enRegexp{regexp.MustCompile(`(?i)\b(threaten\w*|yell\w*|shout\w*|scream\w*|hitting|grabb\w*|attack\w*|won'?t (leave|let me))\b`)}
)

// helpDenied reports whether typed says no help is needed ("don't need
// help", 「SOSじゃないです」, 「助けはいらない」) — not 「助けて、動けない」.
func helpDenied(typed string) bool {
	t := strings.ReplaceAll(strings.ToLower(typed), "’", "'")
	// The "no" about the help itself, or safe said beside it ("help? i'm
	// ok") — not 「助けて 動けない」, "sos not safe".
	return helpNo.MatchString(t) || safeWordIn.MatchString(t)
}

var safeWordIn = regexp.MustCompile(`\b(i'?m|i am) (safe|ok|okay|fine)\b|安全です|大丈夫です`)

var helpNo = regexp.MustCompile(`(don'?t|do not|doesn'?t|no|not) (really )?need (any |a )?help|no help needed|sos\s*(じゃ|では)(ない|ありません)|助け(は|も)?(いらない|要らない|必要ない|不要)|助けて(ほしい|欲しい)?(わけ|とは|なんて)[^、。]*(ない|ません)|助けて(とか|って)(じゃ|では)ない|\b(no|not|don'?t need( an?)?) sos\b|sos\s*(は)?(いらない|要らない|不要|じゃなく|not needed)`)

// weapon reports whether typed names a weapon.
func weapon(typed string) bool {
	return holdsAny(typed, "刃物", "ナイフ", "包丁", "凶器", "knife", "weapon", "gun")
}

// presentEN and holdingEN are the English of a danger now ("he is still
// here", "has a knife"), whole words ("now" is not in "know").
var (
	presentEN = enRegexp{regexp.MustCompile(`(?i)\b(now|still|outside|waiting|right now)\b`)}
	holdingEN = enRegexp{regexp.MustCompile(`(?i)\b(has|have|is|are|holding|got|with|there'?s|theres)\b`)}
)

// offerSOS puts the SOS button, and a word on it, on the question out
// asks (a message of its own when it asks none), once.
func offerSOS(env Env, out *Out, l mamori.Lang) {
	sos := mamori.Choice{Value: mamori.StartSOS, Label: env.Policy.T(l, "menu.sos"), Style: mamori.StyleDanger}
	for _, m := range out.Replies {
		if slices.ContainsFunc(append(m.Choices, m.Controls...), func(ch mamori.Choice) bool { return ch.Value == mamori.StartSOS }) {
			return
		}
	}
	if n := len(out.Replies); n > 0 && out.Replies[n-1].Step != "" {
		m := &out.Replies[n-1]
		m.Note = strings.TrimSpace(env.Policy.T(l, "sos.offer") + "\n" + m.Note)
		m.Controls = append([]mamori.Choice{sos}, m.Controls...)
		return
	}
	out.Replies = append(out.Replies, mamori.Message{Step: mamori.StepCard, Text: env.Policy.T(l, "sos.offer"), Choices: []mamori.Choice{sos}})
}

// step is Step but for what is passed on to an open SOS as well.
func step(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out) {
	l := in.User.Lang
	if l == "" {
		l = mamori.JA
	}
	c.User = in.User
	c.User.Lang = l
	if c.Started.IsZero() {
		c.Started = env.Now
	}
	before := c // as it was before this step: when their last step and the last question were
	idle := env.Now.Sub(c.Updated) >= IdleAfter && !c.Updated.IsZero()
	// A question to them came after their last step: what they type now
	// may answer either.
	asked := c.Asked
	if !c.AskedAt.After(c.Updated) {
		asked = ""
	}
	c.Asked, c.AskedAt = "", time.Time{} // once: the next message is after it
	c.Updated = env.Now
	var out Out

	// The menu's report and consult buttons (also on App Home) inside a
	// flow offer to resume it, like the slash command.
	if in.Kind == mamori.InputChoice && in.Step == stepMenu && c.Flow != "" && c.Step != stepDone &&
		(in.Value == mamori.StartReport || in.Value == mamori.StartConsult) {
		in = mamori.Input{Kind: mamori.InputStart, User: in.User}
	}

	// A check-in answer works from anywhere, and does not disturb a report
	// in progress.
	if number, answer, ok := checkinClick(in); ok {
		k := env.Consultation
		if k == nil || k.Reporter.Key() != c.User.Key() || k.Number != number {
			return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "details.not_found"))}}
		}
		words := strings.TrimSpace(in.Text)
		if c.Checkin == number {
			// Words typed at the menu since the check-in came, then its
			// button pressed: they were its answer — HR's, with it, not a
			// report's (found by a review).
			var kept []mamori.Note
			for _, n := range c.DraftLog {
				if n.At.Before(c.CheckinAt) {
					kept = append(kept, n)
					continue
				}
				if joined, fits := appendText(c.CheckinWords, n.Text); fits {
					c.CheckinWords = joined
				}
				c.Draft = removeLine(c.Draft, n.Text)
			}
			c.DraftLog = kept
			if joined, fits := appendText(c.CheckinWords, words); fits && words != "" {
				words = joined // typed before, in answer to it, then this
			} else if words == "" {
				words = c.CheckinWords
			}
			c.Checkin, c.CheckinAt, c.CheckinWords = "", time.Time{}, ""
		}
		c.SOSOffered = time.Time{}
		thanks := env.Policy.T(l, "checkin.thanks."+answer)
		if answer == checkinTalk && env.TalkBy != "" {
			thanks = fmt.Sprintf(env.Policy.T(l, "checkin.thanks.talk_by"), env.TalkBy)
		}
		// A sentence read as a button ("しばらく仕事を休みたいです") goes
		// to HR in their words too (found by a trial: HR read a label).
		out := Out{Checkin: &Checkin{Number: number, Answer: answer, Words: words}, Replies: []mamori.Message{text(thanks)}}
		if answer == checkinHard || answer == checkinTalk {
			out.Replies = append(out.Replies, CareMessage(env, l))
		}
		if c.Flow != "" && c.Step != stepDone {
			o := ask(env, c, "")
			out.Replies = append(out.Replies, o.Replies...)
		}
		return c, out
	}

	// An SOS works from anywhere, at once; so do its buttons, and what is
	// sent while it is open is kept with it.
	nc, out, ok := sosStep(env, c, in)
	if ok {
		return nc, out
	}
	c = nc // a click on the report's buttons: the SOS's place question is behind them

	// A front-line check of a customer works from anywhere too, and
	// does not disturb a report in progress.
	if nc, out, ok := checkStep(env, c, in); ok {
		return nc, out
	}

	// The words of a waiting check-in's button ("少しつらい", "I'm fine"):
	// as pressed — the answer goes to HR alone, as the check-in says, even
	// with "Answer" pressed on a supervisor's question before it came. In
	// a report, only a button's own words: "大丈夫" may answer its question.
	if c.Checkin != "" && env.Now.Sub(c.CheckinAt) >= checkinFresh {
		c.Checkin, c.CheckinAt, c.CheckinWords = "", time.Time{}, "" // its buttons still work
	}
	if in.Kind == mamori.InputText && c.Checkin != "" {
		if a, exact := checkinWord(env.Policy, in.Text); a != "" && (exact || !inFlow(c) || c.CheckinAt.After(before.Updated)) {
			return Step(env, c, mamori.Input{Kind: mamori.InputChoice, User: in.User, Value: "checkin:" + c.Checkin + ":" + a})
		}
		if typed := strings.TrimSpace(in.Text); checkinSentence(env, before, typed) {
			// A short sentence in answer to "how are you?" ("まだ夜あまり
			// 眠れないです"): as the button it reads as. Anything else —
			// a new incident, words of danger, an answer to a question of
			// the case — goes on as it would without the check-in.
			return Step(env, c, mamori.Input{Kind: mamori.InputChoice, User: in.User, Value: "checkin:" + c.Checkin + ":" + checkinSense(typed), Text: typed})
		}
		if typed := strings.TrimSpace(in.Text); inFlow(c) && c.CheckinAt.After(before.Updated) && shrug(typed) {
			// "ok i guess" after the check-in came, a report put down
			// before it: the check-in's, asked which is closest.
			if words, fits := appendText(c.CheckinWords, typed); fits {
				c.CheckinWords = words
			}
			return c, Out{Replies: []mamori.Message{checkinAgain(env, c.Checkin, l)}}
		}
	}

	// Answering a supervisor's question works from anywhere, and does not
	// disturb a report in progress.
	if number, q, ok := replyClick(in); ok {
		k := env.Consultation
		if k == nil || k.Reporter.Key() != c.User.Key() || k.Number != number {
			return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "details.not_found"))}}
		}
		c.Reply, c.ReplyTo = k.Number, q
		m := text(fmt.Sprintf(env.Policy.T(l, "reply.prompt"), k.Number))
		if k.Decision != nil && q > 0 && q <= len(k.Decision.Questions) {
			// Which question: the one whose button was pressed.
			m.Text = clip(k.Decision.Questions[q-1].Text, 300) + "\n\n" + m.Text
		}
		if d := replyDraft(c, k.Number); d != "" {
			// Typed before pressing "Answer": send that (shown, so that
			// they see what would go).
			m.Step = "reply"
			m.Choices = []mamori.Choice{{Value: navDraft, Label: env.Policy.T(l, "reply.draft"), Style: mamori.StylePrimary}}
			m.Note = fmt.Sprintf(env.Policy.T(l, "current"), clip(d, 200))
		}
		return c, Out{Replies: []mamori.Message{m}}
	}
	if in.Kind == mamori.InputChoice && strings.HasPrefix(in.Value, replyDraftPrefix) {
		// What they typed at the menu, sent as their answer in one click.
		k := env.Consultation
		if k == nil || k.Reporter.Key() != c.User.Key() || replyDraftPrefix+k.Number != in.Value {
			return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "details.not_found"))}}
		}
		if c.ReplyDraftFor != k.Number || c.ReplyDraft == "" {
			return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "menu.kept.reply.none"))}}
		}
		// As "Answer" pressed, then "send what I wrote".
		c.Reply = k.Number
		in = mamori.Input{Kind: mamori.InputChoice, User: in.User, Value: navDraft}
	}
	if in.Kind == mamori.InputChoice && strings.HasPrefix(in.Value, witnessPrefix) {
		return witnessClick(env, c, in)
	}
	if c.Witness != "" {
		if nc, out, ok := witnessText(env, c, in); ok {
			return nc, out
		} else {
			c = nc
		}
	}
	if c.Reply != "" {
		number, question := c.Reply, c.ReplyTo
		c.Reply, c.ReplyTo = "", 0
		if in.Kind == mamori.InputChoice && in.Value == navDraft && c.ReplyDraftFor == number && c.ReplyDraft != "" {
			in = mamori.Input{Kind: mamori.InputText, User: in.User, Text: c.ReplyDraft}
			if c.Draft == c.ReplyDraft {
				c.Draft = "" // offered for the report too: sent, not twice
			}
			c.ReplyDraft, c.ReplyDraftFor = "", ""
		}
		if in.Kind == mamori.InputText && strings.TrimSpace(in.Text) != "" {
			typed := strings.TrimSpace(in.Text)
			if utf8.RuneCountInString(typed) > MaxText {
				c.Reply, c.ReplyTo = number, question
				return c, Out{Replies: []mamori.Message{text(fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText))}}
			}
			out := Out{Reply: &Reply{Number: number, Text: typed, Question: question},
				Replies: []mamori.Message{text(fmt.Sprintf(env.Policy.T(l, "reply.sent"), number))}}
			if c.Flow != "" && c.Step != stepDone {
				o := ask(env, c, "")
				out.Replies = append(out.Replies, o.Replies...)
			}
			return c, out
		}
		// Anything else: they moved on; the question can be answered later.
	}

	// A click that turns a consultation into a report works from anywhere;
	// so does asking HR about one's own report.
	if in.Kind == mamori.InputChoice && strings.HasPrefix(in.Value, "from:") {
		return fromConsultation(env, c, in)
	}
	if in.Kind == mamori.InputChoice && strings.HasPrefix(in.Value, aboutPrefix) {
		return aboutCase(env, c, in)
	}

	// "I feel in danger" or "I was injured" pressed on the first question
	// long after it was answered (found by a user trial: it was a stale
	// click): a danger button always raises the alarm — paused, at the menu
	// or after the report too.
	if in.Kind == mamori.InputChoice && in.Step == stepSafety && c.Step != stepSafety && (in.Value == "danger" || in.Value == "injured") &&
		c.SOS == "" && !c.AlertSent {
		o := &SOSOut{Raise: true, Safety: in.Value}
		if inFlow(c) {
			c.Answers.Safety, c.AlertSent, c.Paused, o.InReport = in.Value, true, false, true
		}
		return c, Out{SOS: o, Audit: "safety.alert"}
	}

	switch {
	case in.Kind == mamori.InputStart:
		if c.Flow != "" && c.Step != stepDone {
			// Coming back: the question that was waiting, at once.
			return comeBack(env, c, "resume."+c.Flow)
		}
		switch in.Value {
		case mamori.StartReport, mamori.StartConsult:
			return begin(env, c, in.Value)
		case mamori.StartPolicy:
			return c, Out{Replies: []mamori.Message{policyMessage(env, l), menu(env, l, false)}}
		case mamori.StartOnsite:
			return c, Out{Replies: []mamori.Message{OnsiteMessage(env, l), menu(env, l, false)}}
		}
		// The menu starts afresh, but an open SOS stays open: what they
		// send is still kept with it (its one question is behind them);
		// and what they typed at the menu is still kept for their report.
		draft, log := c.Draft, c.DraftLog
		c = fresh(env, c)
		c.Step, c.Draft, c.DraftLog = stepMenu, draft, log
		return c, Out{Replies: []mamori.Message{menu(env, l, true)}}

	case c.Paused && in.Kind == mamori.InputFile:
		// Files are evidence whenever they come: kept, then the question.
		c, files := keepFiles(env, c, in)
		c, out = comeBack(env, c, "nav.welcome_back")
		out.Replies = append(files.Replies, out.Replies...)
		return c, out

	case c.Paused && !((in.Kind == mamori.InputChoice || in.Kind == mamori.InputMulti) && in.Step == c.Step) &&
		!(in.Kind == mamori.InputText && typedCommand(strings.TrimSpace(in.Text)) != ""):
		// Back after "continue later": whatever they sent (a greeting, a
		// click on an older message) brings the waiting question back; it
		// is never taken as the answer to a question they cannot see. A
		// click on that question's own buttons, or a typed "back" or
		// "cancel", goes on below. Words worth keeping are kept, offered
		// as the answer (nothing typed is lost).
		if typed := strings.TrimSpace(in.Text); in.Kind == mamori.InputText && worthKeeping(typed) {
			offerAsAnswer(&c, typed, asked)
		}
		return comeBack(env, c, "nav.welcome_back")

	case c.Step == "" || c.Step == stepMenu || c.Step == stepDone:
		if in.Kind == mamori.InputChoice && in.Step == stepMenu {
			switch in.Value {
			case mamori.StartReport, mamori.StartConsult:
				return begin(env, c, in.Value)
			case mamori.StartPolicy:
				return c, Out{Replies: []mamori.Message{policyMessage(env, l), menu(env, l, false)}}
			case mamori.StartOnsite:
				return c, Out{Replies: []mamori.Message{OnsiteMessage(env, l), menu(env, l, false)}}
			case startCare:
				return c, Out{Replies: []mamori.Message{CareMessage(env, l), menu(env, l, false)}}
			}
		}
		c.Step = stepMenu
		if in.Kind == mamori.InputFile {
			return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "files.outside")), menu(env, l, false)}}
		}
		typed := strings.TrimSpace(in.Text)
		if in.Kind == mamori.InputText {
			// A menu button's words typed ("出来事を報告する", "report"):
			// as pressed.
			v, ok := matchOption(typed, menu(env, l, false).Choices)
			if !ok {
				v, ok = menuWords[spoken(typed)]
			}
			if !ok && env.Awaiting == "" {
				// "I want to report something", 「客に殴られたので報告します」:
				// what it asks for starts, and the words are kept with it
				// as typed at the menu are; "方針を見せて" shows it.
				if v, ok = asksFor(typed); ok && (v == mamori.StartReport || v == mamori.StartConsult) &&
					worthKeeping(typed) && utf8.RuneCountInString(squash(typed)) > 12 && (tellsWhatHappened(typed) || utf8.RuneCountInString(typed) > 30) {
					if draft, fits := appendText(c.Draft, typed); fits {
						c.Draft, c.DraftLog = draft, logDraft(env, c.DraftLog, typed)
					}
				}
			}
			if ok {
				return Step(env, c, mamori.Input{Kind: mamori.InputChoice, User: in.User, Step: stepMenu, Value: v, Respond: in.Respond})
			}
		}
		if in.Kind == mamori.InputText && c.Checkin != "" && typed != "" && typedCommand(typed) == "" && !greeting(typed) && shrug(typed) &&
			(env.Awaiting == "" || c.CheckinAt.After(env.AwaitingAt)) { // a check-in newer than a case's question takes it
			// Words in answer to "how are you?" that read as no button of
			// it ("ok i guess"): kept with the check-in, for HR with the
			// button pressed next — not for a report (found by a review) —
			// and its buttons asked.
			if words, fits := appendText(c.CheckinWords, typed); fits {
				c.CheckinWords = words
			}
			return c, Out{Replies: []mamori.Message{checkinAgain(env, c.Checkin, l)}}
		}
		if in.Kind == mamori.InputText && worthKeeping(typed) && !safeWord(env.Policy, typed, false) && env.Awaiting != "" {
			// A question of a case waits: what they type now is kept
			// apart, as the answer to offer for that case — never with
			// what they wrote before it (which may be for HR alone).
			if c.ReplyDraftFor != env.Awaiting {
				c.ReplyDraft = ""
			}
			draft, ok := appendText(c.ReplyDraft, typed)
			if !ok {
				return c, Out{Replies: []mamori.Message{text(fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText))}}
			}
			kept := text(env.Policy.T(l, "menu.kept.for_reply"))
			c.ReplyDraft, c.ReplyDraftFor, c.ReplyDraftInFlow = draft, env.Awaiting, false
			kept.Text += "\n" + fmt.Sprintf(env.Policy.T(l, "menu.kept.reply"), env.Awaiting)
			kept.Step = "reply"
			kept.Choices = []mamori.Choice{{Value: replyDraftPrefix + env.Awaiting, Label: env.Policy.T(l, "menu.kept.reply.button"), Style: mamori.StylePrimary}}
			// One thing to do, most likely: the menu is a word away.
			return c, Out{Replies: []mamori.Message{kept}}
		}
		if in.Kind == mamori.InputText && worthKeeping(typed) && !safeWord(env.Policy, typed, false) {
			// What happened, typed before anything was asked: kept (each
			// message after the last, nothing replaced), and filled in
			// when they start a report or ask for advice.
			draft, ok := appendText(c.Draft, typed)
			if !ok {
				return c, Out{Replies: []mamori.Message{text(fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText))}}
			}
			c.Draft, c.DraftLog = draft, logDraft(env, c.DraftLog, typed)
			m := menu(env, l, false)
			kept := text(env.Policy.T(l, "menu.kept"))
			if draft != typed {
				kept = text(env.Policy.T(l, "menu.kept.more"))
			}
			danger := fearful(typed) || dangerNow(typed) // (a call for help among them)
			if danger {
				// The offer first, what was kept under it (found by a
				// trial: "kept for 30 days" came before the SOS).
				m.Text, m.Note = env.Policy.T(l, "sos.offer"), env.Policy.T(l, "menu.kept.short")
				c.SOSOffered = env.Now
			}
			if holdsAny(typed, "どうすればいい", "どうしたらいい") || onsiteAskEN.MatchString(typed) {
				// "what do i do, a customer is yelling at me right now":
				// kept, and what to do on the spot.
				return c, Out{Replies: []mamori.Message{kept, OnsiteMessage(env, l), m}}
			}
			if danger {
				return c, Out{Replies: []mamori.Message{m}}
			}
			if c.Checkin != "" && !tellsWhatHappened(typed) {
				// Words that may answer "how are you?" as none of its
				// buttons, or may be the start of a report: kept as at
				// the menu, and the check-in's buttons asked too.
				return c, Out{Replies: []mamori.Message{kept, m, checkinAgain(env, c.Checkin, l)}}
			}
			return c, Out{Replies: []mamori.Message{kept, m}}
		}
		if in.Kind == mamori.InputText && (fearful(typed) || dangerNow(typed)) {
			// "怖い", "殴られた", 「また来た」: too short to keep, never a
			// greeting.
			m := menu(env, l, false)
			m.Text = env.Policy.T(l, "sos.offer")
			c.SOSOffered = env.Now
			return c, Out{Replies: []mamori.Message{m}}
		}
		return c, Out{Replies: []mamori.Message{menu(env, l, true)}}
	}

	// Inside a flow.
	c.Paused = false

	// At the reminder's "continue / delete" message, anything but its
	// buttons brings the waiting question back; nothing is taken as an
	// answer to a question not on screen.
	if c.Step == stepResume && in.Kind != mamori.InputChoice {
		var files Out
		if in.Kind == mamori.InputFile {
			c, files = keepFiles(env, c, in)
		}
		if typed := strings.TrimSpace(in.Text); in.Kind == mamori.InputText && worthKeeping(typed) {
			offerAsAnswer(&c, typed, asked)
		}
		c, out = comeBack(env, c, "nav.welcome_back")
		out.Replies = append(files.Replies, out.Replies...)
		return c, out
	}

	// The question they are at has not reached them yet (a replica died
	// while posting it, or the platform is slow): typed text cannot be
	// its answer. The question arrives on its own; files are kept.
	if env.Unshown && in.Kind == mamori.InputFile {
		c, out = keepFiles(env, c, in)
		return c, out
	}
	if env.Unshown && in.Kind == mamori.InputText && typedCommand(strings.TrimSpace(in.Text)) == "" {
		if note, ok := moreOfLast(env, &c, strings.TrimSpace(in.Text), l); ok {
			return c, Out{Replies: []mamori.Message{text(note)}}
		}
		return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "nav.in_flight"))}}
	}

	// Files are evidence whenever they come: kept, and the question
	// shown again (or answered by the text sent with them).
	if in.Kind == mamori.InputFile {
		c, out = keepFiles(env, c, in)
		if strings.TrimSpace(in.Text) == "" {
			o := ask(env, c, "")
			out.Replies = append(out.Replies, o.Replies...)
			return c, out
		}
		in.Kind = mamori.InputText
	}

	// A click on a message of an earlier step is stale: say so and ask the
	// current question again. Nothing is changed.
	if (in.Kind == mamori.InputChoice || in.Kind == mamori.InputMulti) && in.Step != c.Step {
		out.Stale = true
		out.Replies = append(out.Replies, text(env.Policy.T(l, "nav.stale")))
		o := ask(env, c, "")
		out.Replies = append(out.Replies, o.Replies...)
		return c, out
	}

	value := in.Value
	if in.Kind == mamori.InputText && helpWord(in.Text) && c.Step != stepSummary && c.Step != stepCSummary {
		// "ヘルプ" at a question: how to answer it, and what else they can
		// do; never an answer. "HELP!" may be a call for help: the SOS is
		// one press away.
		out := ask(env, c, env.Policy.T(l, "nav.help"))
		if c.SOS == "" {
			offerSOS(env, &out, l)
		}
		return c, out
	}
	if in.Kind == mamori.InputText {
		value = typedCommand(strings.TrimSpace(in.Text))
		if q, ok := lookup(c.Step); ok && value == "" && q.optional && q.kind == kText &&
			(unsureWord(in.Text) || c.Step == stepCustomerID && unknownWord(in.Text)) { // 「なし」 at "what did they demand?" is its answer
			// 「わからない」 at "the customer's number?" is no number: left
			// empty, as skipped (found by a re-trial: it was kept, and
			// could link unrelated reports).
			value = navSkip
		}
		pause := pauseWish(in.Text)
		switch c.Step {
		case stepWellbeing, stepTalk:
			// "not right now", 「今はちょっと」: how they are, or no (found
			// by a review: they paused the report).
			pause = false
		case stepWords, stepDemand, stepNarrative:
			// 「ふざけるな、あとで」 may be the words said: a pause only
			// when all the text says is that (「ちょっと今は無理です、あとで」).
			pause = pause && onlyPause(in.Text)
		}
		stop := stopWish(in.Text) && c.Step != stepWellbeing && c.Step != stepTalk && c.Step != stepWorry
		if value == "" && c.Flow == mamori.FlowReport && consultWish(in.Text) &&
			c.Step != stepCancel && c.Step != stepNarrative && c.Step != stepWords && c.Step != stepWellbeing && c.Step != stepTalk {
			// 「やっぱり報告じゃなくて相談にしたいです」: asked, with the
			// way to make it a question to HR.
			value = navCancel
		}
		if value == "" && (pause || stop) && typedChoice(env, c, in.Text) == "" {
			// "I need a break": their answers kept for later. 「もうやめたい」
			// alone: asked whether to stop — except where it may be how
			// they feel. A button's own words ("Not now") are the button.
			value = navCancel
			if pause {
				value = navLater
			}
		}
	}
	// Words offered as the answer, and more sent: added to them (a
	// greeting offered is dropped for the answer that follows it).
	drafting := worthKeeping(c.Draft) && worthKeeping(strings.TrimSpace(in.Text))
	if value == "" && in.Kind == mamori.InputText && (idle || asked != "" || drafting) {
		if q, ok := lookup(c.Step); ok && takesText(env, q, in.Text, l) {
			// Back after a long silence, or a question of the case's in
			// between: show the question again and ask whether what they
			// sent answers it. Nothing is lost either way; what they send
			// next is added to it (「商品も投げつけられました」).
			draft := strings.TrimSpace(in.Text)
			if drafting {
				if more, fits := appendText(c.Draft, draft); fits {
					draft = more
				}
			}
			offerAsAnswer(&c, draft, asked)
			out := ask(env, c, "")
			m := &out.Replies[len(out.Replies)-1]
			intro, choices := env.Policy.T(l, "nav.draft"), []mamori.Choice{{Value: navDraft, Label: env.Policy.T(l, "nav.draft_keep"), Style: mamori.StylePrimary}}
			if asked != "" {
				intro = fmt.Sprintf(env.Policy.T(l, "nav.draft.asked"), asked)
				choices = append([]mamori.Choice{{Value: replyDraftPrefix + asked, Label: env.Policy.T(l, "menu.kept.reply.button")}}, choices...)
			}
			m.Text = intro + "\n\n" + m.Text
			m.Choices = append(choices, m.Choices...)
			return c, out
		}
	}
	if value == navDraft {
		if c.Draft == "" {
			return c, ask(env, c, "")
		}
		in = mamori.Input{Kind: mamori.InputText, User: in.User, Text: c.Draft}
		value = ""
		if c.ReplyDraft == c.Draft {
			c.ReplyDraft, c.ReplyDraftFor = "", "" // used for the report instead
		}
	}
	if (value == navReplace || value == navAppend) && c.Step == stepNarrative {
		if c.Draft == "" {
			return c, ask(env, c, "")
		}
		account := c.Draft
		if value == navAppend {
			var fits bool
			if account, fits = appendText(c.Answers.Narrative, c.Draft); !fits {
				return c, ask(env, c, fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText))
			}
		}
		c.Answers.Narrative, c.AccountKept = account, false
		value = navKeep // as it now is
	}
	c.Draft = ""
	switch value {
	case navBack:
		return back(env, c)
	case navLater:
		if c.Step == stepCancel {
			c.Step = pop(&c) // "continue later" instead of stopping: back at the question
		}
		if typed := strings.TrimSpace(in.Text); in.Kind == mamori.InputText && (utf8.RuneCountInString(squash(typed)) > 25 || saidBeforePause(typed)) {
			// "sorry someone needs me at the counter, can i finish this
			// later", 「録音があります、あとで」: paused, and the words
			// offered when they come back.
			c.Draft = typed
		}
		c.Paused = true
		return c, Out{Paused: true, Replies: []mamori.Message{text(env.Policy.T(l, "nav.saved"))}}
	case navCancel:
		if c.Step == stepCancel {
			break
		}
		c.History = append(c.History, c.Step)
		c.Step = stepCancel
		return c, ask(env, c, "")
	}

	if in.Kind == mamori.InputText {
		// The buttons' words, typed, on a question that takes only
		// buttons (cancel? send? edit what?): as if pressed.
		switch c.Step {
		case stepResume, stepCancel, stepSummary, stepCSummary, stepEdit:
			in.Value = typedChoice(env, c, in.Text)
		}
	}
	switch c.Step {
	case stepResume:
		switch in.Value {
		case "continue":
			c.Step = pop(&c)
			return c, ask(env, c, "")
		case "restart":
			return begin(env, fresh(env, c), c.Flow)
		case "delete":
			// Delete asks first, as cancel does; "no" goes back to the
			// question that was waiting.
			if c.Step = pop(&c); c.Step == "" {
				c.Step = next(env, c, "")
			}
			c.History = append(c.History, c.Step)
			c.Step = stepCancel
			return c, ask(env, c, "")
		}
		return c, ask(env, c, env.Policy.T(l, "nav.use_buttons"))
	case stepCancel:
		if typed := strings.TrimSpace(in.Text); in.Kind == mamori.InputText && in.Value == "" {
			// 「いいえ、続けます」: keep going. Deleting needs its own words
			// ("削除", "delete"): a bare 「はい」 may be to anything.
			switch {
			case yesNo[spoken(typed)] == "no" || holdsAny(strings.ToLower(typed), "続け", "つづけ", "keep going", "continue", "carry on", "go on") && !negates(noFirst.ReplaceAllString(typed, "")):
				in.Value = "no"
			case holdsAny(strings.ToLower(typed), "削除", "消して", "delete") && !negates(typed):
				in.Value = "yes"
			}
		}
		switch in.Value {
		case toConsult:
			// The account goes with the question (nothing to retype); the
			// report's other answers are not HR's to read.
			if c.Flow != mamori.FlowReport {
				break
			}
			nc := fresh(env, c)
			nc.Draft = c.Answers.Narrative
			nc, out := begin(env, nc, mamori.FlowConsult)
			out.Audit = "conversation.to_consult"
			out.Replies = append([]mamori.Message{text(env.Policy.T(l, "cancel.consult.done"))}, out.Replies...)
			return nc, out
		case "yes":
			nc := fresh(env, c)
			if c.ReplyDraftInFlow {
				nc.ReplyDraft, nc.ReplyDraftFor, nc.ReplyDraftInFlow = "", "", false // typed in what they stopped and deleted
			}
			return nc, Out{End: true, Audit: "conversation.cancelled",
				Replies: []mamori.Message{text(env.Policy.T(l, "nav.cancelled")), menu(env, l, false)}}
		case "no":
			c.Step = pop(&c)
			return c, ask(env, c, "")
		}
		return c, ask(env, c, env.Policy.T(l, "nav.use_buttons"))
	case stepSummary, stepCSummary:
		typed := strings.TrimSpace(in.Text)
		if in.Kind == mamori.InputText && in.Value == "" && worthKeeping(typed) && (utf8.RuneCountInString(typed) > 20 ||
			!holdsAny(typed, "送信", "送って", "送る", "送りま", "報告しま", "報告する", "相談しま", "修正", "直し", "合って", "問題な", "大丈夫", "これで",
				"send", "submit", "edit", "looks", "right", "correct", "good", "fine")) {
			// Something more, typed at the summary: added where it belongs,
			// and the summary shown again with it.
			ok := true
			if c.Flow == mamori.FlowReport {
				ok = addToAccount(&c, typed)
			} else if worry, fits := appendText(c.Answers.Worry, typed); fits {
				c.Answers.Worry = worry
			} else {
				ok = false
			}
			if !ok {
				return c, ask(env, c, fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText))
			}
			out := ask(env, c, "")
			out.Replies = append([]mamori.Message{text(env.Policy.T(l, "summary.added."+c.Flow))}, out.Replies...)
			return c, out
		}
		switch in.Value {
		case "submit":
			c.Step = stepDone
			return c, Out{Submit: c.Flow}
		case "edit":
			c.History = append(c.History, c.Step)
			c.Step = stepEdit
			return c, ask(env, c, "")
		}
		return c, ask(env, c, env.Policy.T(l, "nav.use_buttons"))
	case stepEdit:
		if q, ok := lookup(in.Value); ok && q.flow == c.Flow {
			c.History = append(c.History, c.Step)
			c.Step = q.step
			c.Editing = true
			return c, ask(env, c, "")
		}
		if in.Value == "summary" {
			c.Step = summaryStep(c)
			return c, ask(env, c, "")
		}
		return c, ask(env, c, env.Policy.T(l, "nav.use_buttons"))
	}

	q, ok := lookup(c.Step)
	if !ok {
		// A step this version does not know (stored by another version):
		// go back to the menu rather than guess.
		c.Step = stepMenu
		return c, Out{Replies: []mamori.Message{menu(env, l, true)}}
	}
	if problem := record(env, &c, q, in, value); problem == askDate {
		// "Earlier": no buttons this time, just the date to type.
		out := ask(env, c, "")
		m := &out.Replies[len(out.Replies)-1]
		m.Text, m.Choices, m.Prompt = env.Policy.T(l, "when.type_date"), nil, env.Policy.T(l, "prompt.text")
		return c, out
	} else if problem == keptAside {
		out.Replies = append(out.Replies, text(env.Policy.T(l, "nav.kept_aside")))
	} else if problem == askReplace {
		// Nothing lost by a slip: the account stays until they choose.
		c.Draft = strings.TrimSpace(in.Text)
		out := ask(env, c, "")
		m := &out.Replies[len(out.Replies)-1]
		m.Text = env.Policy.T(l, "nav.replace_or_add") + "\n\n" + m.Text
		m.Choices = []mamori.Choice{{Value: navReplace, Label: env.Policy.T(l, "nav.replace")},
			{Value: navAppend, Label: env.Policy.T(l, "nav.append"), Style: mamori.StylePrimary},
			{Value: navKeep, Label: env.Policy.T(l, "nav.keep")}}
		m.Note = strings.TrimSpace(fmt.Sprintf(env.Policy.T(l, "nav.draft.sent"), clip(c.Draft, 200)) + "\n" + m.Note)
		return c, out
	} else if problem != "" {
		return c, ask(env, c, problem)
	}
	if c.Step == stepSafety && (c.Answers.Safety == "danger" || c.Answers.Safety == "injured") && !c.AlertSent {
		// In danger or injured: the same path as an SOS, and the report
		// goes on under its messages.
		c.AlertSent = true
		out.Audit = "safety.alert"
		if c.SOS == "" {
			out.SOS = &SOSOut{Raise: true, Safety: c.Answers.Safety, InReport: true}
		}
	}
	if c.Step == stepSafety && c.Answers.Safety == "safe" && c.SOS != "" && out.SOS == nil {
		// "Are you safe now?" — "yes", with an SOS open: it is over, and
		// those responding are told (found by a trial: it kept
		// escalating).
		out.SOS = &SOSOut{Number: c.SOS, Safe: true}
		c.SOS, c.SOSPlace = "", false
	}
	if c.Step == stepPlace && c.SOS != "" && c.Answers.Place != "" && out.SOS == nil {
		// The SOS raised from this report learns where they are.
		out.SOS = &SOSOut{Number: c.SOS, Place: c.Answers.Place, FromReport: true}
	}
	c.History = append(c.History, c.Step)
	switch f := followUp(env, c); {
	case c.Editing && f != "":
		c.Step = f
	case c.Editing:
		c.Editing = false
		c.Step = summaryStep(c)
	default:
		c.Step = next(env, c, c.Step)
	}
	o := ask(env, c, "")
	if out.SOS == nil || !out.SOS.Raise {
		// An SOS raised here asks where they are first; this question
		// comes once that is answered or skipped, so that an answer meant
		// for one is not taken for the other.
		out.Replies = append(out.Replies, o.Replies...)
	}
	return c, out
}

// typedChoice returns the value of the button of the question c is at
// that typed names (as matchOption reads it; at the summary, a plain send
// or edit too), or "".
func typedChoice(env Env, c mamori.Conversation, typed string) string {
	o := ask(env, c, "")
	if len(o.Replies) == 0 {
		return ""
	}
	choices := o.Replies[len(o.Replies)-1].Choices
	if c.Step == stepSummary || c.Step == stepCSummary {
		// A button's own words, or a plain word for it; not a number:
		// a report is not sent by a slip.
		for _, ch := range choices {
			if plain(typed) == plain(ch.Label) {
				return ch.Value
			}
		}
		return summaryWords[plain(typed)]
	}
	v, _ := matchOption(typed, choices)
	return v
}

// menuWords are plain ways of asking for the menu's first buttons.
var menuWords = map[string]string{
	"報告": mamori.StartReport, "報告する": mamori.StartReport, "報告したい": mamori.StartReport, "報告します": mamori.StartReport,
	"相談": mamori.StartConsult, "相談する": mamori.StartConsult, "相談したい": mamori.StartConsult, "相談します": mamori.StartConsult,
	"迷っている": mamori.StartConsult, "i want to report": mamori.StartReport, "i'd like to report": mamori.StartReport,
	"advice": mamori.StartConsult, "ask for advice": mamori.StartConsult, "i need advice": mamori.StartConsult,
}

// asksFor reads a short request at the menu that names a report or a
// consultation, not both ("I want to report something 報告",
// 「報告したいことがあります」): what it asks for. A longer message is an
// account, kept for the one they choose.
func asksFor(typed string) (string, bool) {
	if utf8.RuneCountInString(typed) > 60 {
		return "", false
	}
	// Fear in it ("i'm scared he will come back") is more than a request:
	// kept, and the SOS offered.
	scared := holdsAny(typed, "怖い", "こわい", "怖くて", "怖す", "scared", "afraid", "frightened") &&
		!holdsAny(typed, "怖かった", "こわかった", "was scared", "were scared", "was afraid") || dangerNow(typed)
	short := (utf8.RuneCountInString(typed) <= 30 || !tellsWhatHappened(typed)) && !scared
	report := short && holdsAny(typed, "報告したい", "報告します", "報告する", "報告があ", "want to report", "need to report", "report something", "make a report", "file a report", "report a customer")
	consult := short && holdsAny(typed, "相談したい", "相談します", "相談する", "相談があ", "want to ask", "need advice", "want advice", "ask for advice", "want to consult")
	switch {
	case report && !consult:
		return mamori.StartReport, true
	case consult && !report:
		return mamori.StartConsult, true
	}
	// "方針を見せて", "where can I get support?": what they ask to see.
	if sense := checkinSense(typed); fearful(typed) || callsForHelp(typed) || tellsWhatHappened(typed) || sense == checkinHard || sense == checkinTalk {
		// "I already feel scared", 「客に土下座しろと言われました。どうすれば
		// いいですか」, "who can i talk to? i cant sleep": more than a
		// request to read (kept, and acted on as such).
		return "", false
	}
	see := holdsAny(typed, "見せて", "教えて", "見たい", "知りたい", "読みたい", "どこ", "ありますか") || seeEN.MatchString(typed)
	switch {
	case see && (holdsAny(typed, "方針", "ポリシー", "規程", "ルール") || policyEN.MatchString(typed)):
		return mamori.StartPolicy, true
	case see && (holdsAny(typed, "相談先", "相談窓口", "ケア", "産業医", "カウンセ") || careEN.MatchString(typed)):
		return startCare, true
	case see && (holdsAny(typed, "その場での対応", "対応の仕方", "どう対応") || onsiteEN.MatchString(typed)) ||
		utf8.RuneCountInString(squash(typed)) <= 20 && (holdsAny(typed, "どうすればいい", "どうしたらいい") || onsiteAskEN.MatchString(typed)):
		return mamori.StartOnsite, true
	}
	return "", false
}

// seeEN asks to see something, in whole words.
var seeEN = regexp.MustCompile(`(?i)\b(show|see|read|where|who|what is|what's|tell me)\b`)

// What is asked for at the menu, in English whole words.
var (
	policyEN    = regexp.MustCompile(`(?i)\b(policy|rules)\b`)
	careEN      = regexp.MustCompile(`(?i)\b(support|counsell?ing|care|someone to talk|talk to)\b`)
	onsiteEN    = regexp.MustCompile(`(?i)\b(what to do|how to respond)\b`)
	onsiteAskEN = regexp.MustCompile(`(?i)\b(what do i do|what should i do|how do i respond)\b`)
)

// checkinSentence reports whether typed, sent while c's check-in waits,
// answers it in words: short, outside a report and any other question
// (a supervisor's, a witness request), no danger in it, and read as one
// of its buttons.
func checkinSentence(env Env, c mamori.Conversation, typed string) bool {
	// The check-in came after they pressed "Answer" or were asked (its
	// time after their last step and the question's): it is what they
	// answer; an older one gives way to the case's question.
	newer := !c.CheckinAt.Before(c.Updated) && c.CheckinAt.After(env.AwaitingAt)
	// A report left before the check-in came (paused, or put down) is not
	// what they answer (found by a trial: the answer went into it).
	if c.Checkin == "" || inFlow(c) && !c.CheckinAt.After(c.Updated) || (c.Reply != "" || c.Witness != "" || env.Awaiting != "") && !newer || utf8.RuneCountInString(typed) > 60 ||
		typedCommand(typed) != "" || greeting(typed) || sosWord(typed, true) || callsForHelp(typed) || dangerAct(typed) || weapon(typed) ||
		fearful(typed) && presentNow.MatchString(typed) || // 「あの客が今も店の前にいて怖い」: danger, not how they are
		tellsWhatHappened(typed) {
		return false
	}
	if _, asked := asksFor(typed); asked {
		return false // "is it ok to see the policy?"
	}
	return checkinSense(typed) != ""
}

// tellsWhatHappened reports whether a request at the menu ("客に殴られた
// ので報告します") tells something of what happened, to keep as the
// account; 「もう一件、別のお客様のことで報告したいです」 does not.
func tellsWhatHappened(typed string) bool {
	return dangerHint(typed) || holdsAny(typed, "怒鳴", "言われ", "され", "叩", "投げ", "暴言", "罵", "土下座", "居座", "返金", "謝罪",
		"hit", "shout", "yell", "threw", "insult", "swore", "called me", "refund", "apolog")
}

// consultWish reports whether words typed during a report ask to make it
// a consultation instead ("相談にしたい", "I'd rather just ask for
// advice").
func consultWish(typed string) bool {
	// Most of a short message: 「上司に相談の方がいいと言われたので書きます」
	// tells, it does not ask.
	return utf8.RuneCountInString(squash(typed)) <= 22 && !holdsAny(typed, "言われ", "言って", "said", "told") && holdsAny(typed, "相談にしたい", "相談に切り替", "相談に変え", "相談のほうが", "相談の方が", "相談にします",
		"rather ask", "just ask for advice", "just want advice", "ask hr instead", "switch to a question", "make it a question", "instead of a report")
}

// startCare is asking for the care resources at the menu (typed: it has
// no button of its own; they come with every receipt and check-in).
const startCare = "care"

// helpWord reports whether typed asks how this works ("ヘルプ", "help",
// "?"): the question is explained, nothing is answered. "助けて" and
// "help me" are calls for help (sosWord), not this.
func helpWord(typed string) bool {
	switch spoken(typed) {
	case "help", "ヘルプ", "使い方", "使い方を教えて", "how does this work", "how do i use this":
		return true
	}
	t := strings.TrimSpace(typed)
	return t == "?" || t == "？"
}

// summaryWords are plain words for the summary's buttons.
var summaryWords = map[string]string{"送信": "submit", "送信する": "submit", "送信します": "submit", "送る": "submit", "送って": "submit",
	"send": "submit", "send it": "submit", "submit": "submit", "submit it": "submit", "修正": "edit", "修正する": "edit", "直す": "edit", "直したい": "edit"}

// spoken is typed text as the lists of plain words compare it: plain,
// half-width, a typographic apostrophe straight, and without a closing
// polite "です" ("なしです" is "なし").
func spoken(s string) string {
	return strings.TrimSuffix(strings.ReplaceAll(plain(toHalfWidth(s)), "’", "'"), "です")
}

// plain is typed text as the typed-word checks compare it: lower case,
// without the spaces and punctuation around it ("はい。", " Send! ").
func plain(s string) string {
	return strings.ToLower(strings.Trim(s, " 　\t\n!！。.?？〜~「」\""))
}

// clip shortens s to n characters.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// worthKeeping reports whether text typed at the menu reads as something
// to tell (kept for a report), not a greeting or a word to the bot.
func worthKeeping(typed string) bool {
	return utf8.RuneCountInString(typed) >= 6 && typedCommand(typed) == "" && !greeting(typed)
}

// appendText is kept with typed after it, on a line of its own; ok is
// false when that would be longer than MaxText.
func appendText(kept, typed string) (string, bool) {
	if kept != "" && slices.Contains(strings.Split(kept, "\n"), typed) {
		// The same words sent again (the send looked slow, a double tap):
		// kept once.
		return kept, true
	}
	if kept != "" {
		typed = kept + "\n" + typed
	}
	return typed, utf8.RuneCountInString(typed) <= MaxText
}

// greeting reports whether typed text is only a greeting or thanks, or
// words of coming back ("すみません、さっきの続きです", "sorry, I'm
// back"): no answer to anything.
func greeting(typed string) bool {
	switch plain(typed) {
	case "こんにちは", "こんばんは", "おはようございます", "おはよう", "はじめまして", "よろしくお願いします", "ありがとうございます",
		"hello", "hello there", "hi", "hi there", "good morning", "good evening", "thank you", "thanks", "thanks a lot":
		return true
	}
	t := squash(toHalfWidth(typed))
	for _, please := range []string{"よろしくお願いします", "お願いします", "now", "again"} {
		if rest := strings.TrimSuffix(t, please); rest != "" {
			t = rest
		}
	}
	for _, sorry := range []string{"すみません", "すいません", "ごめんなさい", "失礼しました", "sorry", "okay", "ok",
		"昨日の", "きのうの", "おとといの", "さっきの", "先ほどの", "前回の", "この前の"} { // 「昨日の続きをします」
		if rest := strings.TrimPrefix(t, sorry); rest != "" && comingBack[rest] {
			return true
		}
	}
	return comingBack[t]
}

// comingBack are the words of coming back to a conversation, squashed.
var comingBack = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range []string{"すみません", "すいません", "ごめんなさい", "失礼しました", "お待たせしました", "お待たせ", "戻りました", "ただいま",
		"続きです", "続きをします", "続きをやります", "続きから", "続けます", "再開します", "さっきの続きです", "先ほどの続きです", "続きをお願いします",
		"遅くなりました", "遅くなってすみません", "戻りました", "戻ってきました", "続き", "続きを",
		"続きお願いします", "お待たせしました続きです",
		"sorry", "im back", "i am back", "sorry about that", "im here",
		"lets continue", "continue", "where was i", "where were we", "back again", "sorry for the wait"} {
		m[squash(s)] = true
	}
	return m
}()

// record keeps in as the answer to q, or returns what is wrong with it
// in the user's language. Nothing is kept when something is wrong.
func record(env Env, c *mamori.Conversation, q question, in mamori.Input, value string) string {
	l := c.User.Lang
	var slot *string
	if q.answer != nil {
		slot = q.answer(&c.Answers)
	}
	switch {
	case value == navSkip && q.optional:
		if slot != nil {
			*slot = ""
		}
		return ""
	case value == navSkip:
		return env.Policy.T(l, "nav.required")
	case value == navKeep && ((slot != nil && *slot != "") || (q.kind == kMulti && len(c.Answers.Behaviours) > 0)):
		return ""
	case value == navKeep && !(in.Kind == mamori.InputText && (q.kind == kText || q.kind == kBoth)):
		return env.Policy.T(l, "nav.use_buttons")
	case value == navKeep:
		// 「それで」 typed with nothing to keep, at a question of words:
		// their words (found by a review: "choose a button").
		value = ""
	}
	var opts []mamori.Choice
	if q.options != nil {
		opts = q.options(env, l)
	}
	typed := strings.TrimSpace(in.Text)
	switch q.kind {
	case kMulti:
		values := in.Values
		if in.Kind == mamori.InputText {
			var ok bool
			if values, ok = pickNumbers(typed, opts); !ok {
				if values, ok = pickLabels(typed, opts); !ok && doneWord(env.Policy, typed) {
					// "決定" / "done" typed: the boxes ticked so far.
					values, ok = c.Answers.Behaviours, true
				}
			}
			if !ok && c.Flow == mamori.FlowReport && worthKeeping(typed) && !sosWord(typed, false) {
				// A sentence, not a tick ("怒鳴られて土下座させられそうになった").
				return keepAside(env, c, typed, l)
			}
			if !ok {
				return env.Policy.T(l, "nav.use_checkboxes")
			}
		} else if in.Kind != mamori.InputMulti {
			return env.Policy.T(l, "nav.use_checkboxes")
		}
		var kept []string
		for _, v := range values {
			if hasOption(opts, v) && !contains(kept, v) {
				kept = append(kept, v)
			}
		}
		c.Answers.Behaviours = kept
		return ""
	case kChoice, kBoth:
		if in.Kind == mamori.InputChoice && hasOption(opts, value) {
			return choose(env, q, slot, value, l)
		}
		if in.Kind == mamori.InputText {
			if v, ok := matchOption(typed, opts); ok {
				return choose(env, q, slot, v, l)
			}
			// "yes, twice last month", "電話でした。今日もまた…", "in persn":
			// the button, and what more was said kept with the account.
			v, rest, said := leadingOption(typed, opts)
			ok := said && q.step != stepSafety && !negates(rest) && !fearful(typed) && !sosWord(typed, false)
			// What follows the answer is kept when it says something: not
			// 「はい、お願いします」 (found by a trial: it went into the
			// account).
			tail := strings.TrimSpace(rest)
			more := ok && worthKeeping(typed) && squash(tail) != "" && yesNo[spoken(tail)] == "" && !politeOnly(tail) // 「はい、先週も」 keeps 先週も
			if d, found := durationOption(typed); !ok && q.step == stepDuration && found {
				// 「35分くらい」, "about 20 min": the span it falls in; a
				// sentence around it is kept with the account.
				if p := choose(env, q, slot, d, l); p != "" || utf8.RuneCountInString(squash(typed)) <= 12 || c.Flow != mamori.FlowReport {
					return p
				}
				if addToAccount(c, typed) {
					return keptAside
				}
				return ""
			}
			if !ok && !(q.step == stepSafety && unsafeHint(typed)) {
				v, ok = looseOption(typed, opts)
				more = ok && saysMore(typed, opts, v)
			}
			if !ok && q.step != stepSafety {
				v, ok = typoOption(typed, opts)
			}
			if ok && q.kind == kChoice {
				if p := choose(env, q, slot, v, l); p != "" || !more || c.Flow != mamori.FlowReport {
					return p
				}
				// "電話でした。今日もまた同じ人から電話があって…": the
				// button, and the rest kept with the account.
				if addToAccount(c, typed) {
					return keptAside
				}
				return ""
			}
			if (q.step == stepWellbeing || q.step == stepTalk ||
				c.Flow == mamori.FlowReport && q.kind == kChoice && q.step != stepSafety && fearful(typed) && !worthKeeping(typed)) &&
				typed != "" && typedCommand(typed) == "" {
				// 「今も怖い」 at any question of buttons is how they feel too.
				// How they feel, in their own words: kept for HR, and
				// the buttons asked again.
				feelings, ok := appendText(c.Answers.Feelings, typed)
				if !ok {
					return fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText)
				}
				c.Answers.Feelings = feelings
				return env.Policy.T(l, "nav.feelings_kept")
			}
			if q.step == stepSafety && !helpDenied(typed) && (sosWord(typed, false) || callsForHelp(typed) && utf8.RuneCountInString(squash(typed)) <= 12) {
				// "help me" at "are you safe now?", as the help text says
				// to send: the danger button.
				return choose(env, q, slot, "danger", l)
			}
			if q.step == stepSafety && unsafeHint(typed) {
				if c.Flow == mamori.FlowReport && worthKeeping(typed) && utf8.RuneCountInString(typed) > 20 && addToAccount(c, typed) {
					// An account pasted at the first question ("…怖かった
					// です…"): kept, and the alarm's buttons pointed to.
					return env.Policy.T(l, "safety.not_safe") + "\n" + env.Policy.T(l, "nav.kept_aside")
				}
				// "大丈夫じゃないです" at "are you safe now?": the buttons
				// that raise the alarm, pointed to.
				return env.Policy.T(l, "safety.not_safe")
			}
			if q.kind == kChoice && c.Flow == mamori.FlowReport && worthKeeping(typed) && !sosWord(typed, false) && !saysNothingMore(env, typed) {
				return keepAside(env, c, typed, l) // words that answer no button here
			}
			if q.kind == kChoice && c.Flow == mamori.FlowConsult && worthKeeping(typed) {
				// In a question to HR, with what they asked.
				if worry, fits := appendText(c.Answers.Worry, typed); fits {
					c.Answers.Worry = worry
					return env.Policy.T(l, "nav.kept_aside.consult")
				}
			}
			if note, ok := dangerAside(env, c, q, typed, l); ok {
				return note
			}
			if d, ok := typedDate(env, typed); ok && q.step == stepWhen {
				*slot = d // "おととい", "3日前", "12月3日": the date, so the card can show it
				return ""
			}
			if q.kind == kBoth && typed != "" {
				if utf8.RuneCountInString(typed) > MaxText {
					return fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText)
				}
				*slot = typed
				return ""
			}
		}
		return env.Policy.T(l, "nav.use_buttons")
	default: // kText
		if in.Kind != mamori.InputText || typed == "" || doneWord(env.Policy, typed) {
			// "決定" typed after the list of behaviours: no answer here.
			return env.Policy.T(l, "nav.type_answer")
		}
		if greeting(typed) {
			// "こんにちは" on coming back is no answer: the question again.
			return env.Policy.T(l, "nav.welcome_back")
		}
		if yesNo[spoken(typed)] == "yes" {
			// A bare 「はい」 (to "welcome back", to the question) answers
			// nothing asked in words: asked for the words.
			return env.Policy.T(l, "nav.type_answer")
		}
		if note, ok := dangerAside(env, c, q, typed, l); ok {
			return note
		}
		if q.step == stepNarrative && c.Editing && *slot != "" && !strings.Contains(squash(typed), squash(*slot)) &&
			utf8.RuneCountInString(typed)*2 < utf8.RuneCountInString(*slot) {
			// 「最初の文は消してください」 typed to change six lines: it
			// would replace them all. Asked first.
			return askReplace
		}
		if q.step == stepNarrative {
			kept := c.AccountKept && *slot != "" && !c.Editing
			c.AccountKept = false
			switch {
			case kept && strings.Contains(squash(*slot), squash(typed)):
				return "" // what was kept, typed again: as it is
			case kept && !strings.Contains(squash(typed), squash(*slot)):
				// Words kept with the account before it was asked (at
				// the menu, at a question of buttons): added to, not
				// replaced. Typed again with more, it is replaced.
				narrative, ok := appendText(*slot, typed)
				if !ok {
					return fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText)
				}
				*slot = narrative
				return keptAside
			}
		}
		if utf8.RuneCountInString(typed) > MaxText {
			return fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText)
		}
		*slot = typed
		return ""
	}
}

// choose keeps option v as the answer to q. "Today" and "yesterday" are
// kept as dates; "earlier" asks for one.
func choose(env Env, q question, slot *string, v string, l mamori.Lang) string {
	if q.step == stepWhen {
		loc := env.Location
		if loc == nil {
			loc = env.Now.Location()
		}
		switch v {
		case whenToday:
			v = env.Now.In(loc).Format(dateLayout)
		case whenYesterday:
			v = env.Now.In(loc).AddDate(0, 0, -1).Format(dateLayout)
		case whenEarlier:
			return askDate
		}
	}
	*slot = v
	return ""
}

// typedDate reads a day typed as people say it — "おととい", "3日前",
// "2 days ago", "今朝", "12月3日", "12/3", "2026-12-03" — as a date
// (dateLayout) no later than today, in env's location. Anything more
// ("今朝10時ごろ") is kept as typed.
func typedDate(env Env, typed string) (string, bool) {
	// 「今日の夕方、5時ごろから」: the comma and the "from" say nothing of
	// when it was.
	typed = strings.TrimSuffix(strings.TrimSpace(typed), "から")
	typed = strings.NewReplacer("、", "", "，", "").Replace(typed)
	if d, ok := typedDay(env, typed); ok {
		return d, true
	}
	if d, ok := hoursAgo(env, typed); ok {
		return d, true
	}
	// A day and when in it: "先週の火曜日の夕方", "一昨日の夜", "12月1日
	// 18時頃", "Dec 1 at 6pm", "yesterday at 18:30" — the day, and the
	// time of day or the time itself after it.
	day, at := splitTime(spoken(typed))
	if at == "" {
		return "", false
	}
	d, ok := typedDay(env, day)
	if day2, part := splitTime(day); !ok && part != "" && !clockTime.MatchString(part) {
		// 「きのうの夜7時ごろ」: the day and its part, then the time.
		if d2, ok2 := typedDay(env, day2); ok2 && !strings.Contains(d2, " ") {
			d, ok = d2+" "+part, true
		}
	}
	if date, part, _ := strings.Cut(d, " "); ok && part != "" && clockTime.MatchString(at) {
		// "今朝10時ごろ": the time says more than "morning"; "昨日の午後
		// 3時", "last night at 11": a twelve-hour clock, in the part named.
		if h, _ := strconv.Atoi(at[:2]); h < 12 && (part == "afternoon" || part == "evening" || part == "night" && h >= 5) {
			at = fmt.Sprintf("%02d%s", h+12, at[2:])
		}
		d = date
	} else if !ok || part != "" {
		return "", false
	}
	if clockTime.MatchString(at) {
		loc := env.Location
		if loc == nil {
			loc = env.Now.Location()
		}
		if when, err := time.ParseInLocation(dateLayout+" 15:04", d+" "+strings.TrimSuffix(at, "~"), loc); err != nil || when.After(env.Now) {
			return "", false // a time still to come: kept as typed
		}
	}
	return d + " " + at, true
}

// agoJA and agoEN are a time said as how long ago ("1時間くらい前", "30
// minutes ago", "an hour ago").
var (
	agoJA = regexp.MustCompile(`^(\d{1,2})\s*(時間|分)(くらい|ぐらい|ほど|位)?前(くらい|ぐらい|ほど|に|ごろ)?$`)
	agoEN = regexp.MustCompile(`^(?:about |around )?(an?|\d{1,2})\s+(hours?|hrs?|minutes?|mins?)\s+ago$`)
)

// hoursAgo reads a time said as how long ago, within the day before: its
// date and clock time, about ("~").
func hoursAgo(env Env, typed string) (string, bool) {
	t := spoken(toHalfWidth(typed))
	var n int
	var unit string
	if m := agoJA.FindStringSubmatch(t); m != nil {
		n, _ = strconv.Atoi(m[1])
		unit = map[string]string{"時間": "h", "分": "m"}[m[2]]
	} else if m := agoEN.FindStringSubmatch(t); m != nil {
		if n, _ = strconv.Atoi(m[1]); m[1] == "a" || m[1] == "an" {
			n = 1
		}
		unit = m[2][:1]
	} else {
		return "", false
	}
	d := time.Duration(n) * time.Minute
	if unit == "h" {
		d = time.Duration(n) * time.Hour
	}
	if n <= 0 || d > 24*time.Hour {
		return "", false
	}
	loc := env.Location
	if loc == nil {
		loc = env.Now.Location()
	}
	return env.Now.Add(-d).In(loc).Format(dateLayout + " 15:04~"), true
}

// Times of day as typed after a day, and the clock time.
var (
	partJA   = regexp.MustCompile(`^(.+?)の?\s*(朝|午前中|午前|昼|お昼|午後|夕方|夜中|深夜|夜|晩)(に|ごろ|頃)?$`)
	partEN   = regexp.MustCompile(`^(.+?)\s+(?:in the |at )?(morning|afternoon|evening|night)$`)
	clockJA  = regexp.MustCompile(`^(.+?)の?\s*(\d{1,2})時(?:(\d{1,2})分|(半))?(ごろ|頃|くらい|ぐらい)?$`)
	clockAny = regexp.MustCompile(`^(.+?)\s*(?:at |around |about |の)?\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(ごろ|頃|くらい|ish)?$`)
	partWord = map[string]string{"朝": "morning", "午前中": "morning", "午前": "morning", "昼": "afternoon", "お昼": "afternoon", "午後": "afternoon",
		"夕方": "evening", "夜中": "night", "深夜": "night", "夜": "night", "晩": "night",
		"morning": "morning", "afternoon": "afternoon", "evening": "evening", "night": "night"}
)

// splitTime splits t (spoken) into a day and what follows it: one of
// partsOfDay, or a clock time "18:30" ("18:30~" when said as about);
// at is "" when nothing follows the day.
func splitTime(t string) (day, at string) {
	for _, re := range []*regexp.Regexp{partJA, partEN} {
		if m := re.FindStringSubmatch(t); m != nil {
			return strings.TrimSpace(m[1]), partWord[m[2]]
		}
	}
	var h, min int
	var pm, am, about bool
	if m := clockJA.FindStringSubmatch(t); m != nil {
		day = m[1]
		h, _ = strconv.Atoi(m[2])
		min, _ = strconv.Atoi(m[3])
		if m[4] != "" {
			min = 30
		}
		about = m[5] != ""
	} else if m := clockAny.FindStringSubmatch(t); m != nil && (m[3] != "" || m[4] != "" || strings.Contains(t, "at ")) {
		// "18:30", "6pm", "at 6": a bare number after a day ("Dec 1")
		// is its day, not a time.
		day = m[1]
		h, _ = strconv.Atoi(m[2])
		min, _ = strconv.Atoi(m[3])
		pm, am = strings.HasPrefix(m[4], "p"), strings.HasPrefix(m[4], "a")
		about = m[5] != "" || strings.Contains(t, "around ") || strings.Contains(t, "about ")
	} else {
		return t, ""
	}
	if pm && h < 12 {
		h += 12
	}
	if am && h == 12 {
		h = 0
	}
	if h > 23 || min > 59 {
		return t, ""
	}
	at = fmt.Sprintf("%02d:%02d", h, min)
	if about {
		at += "~"
	}
	return strings.TrimSpace(day), at
}

// clockTime reports whether s is a time stored after a day: "18:30",
// "18:30~".
var clockTime = regexp.MustCompile(`^\d{2}:\d{2}~?$`)

// typedDay is typedDate for a day alone, or one of the times of day it
// names itself ("昨日の夕方").
func typedDay(env Env, typed string) (string, bool) {
	loc := env.Location
	if loc == nil {
		loc = env.Now.Location()
	}
	today := env.Now.In(loc)
	day := func(back int) (string, bool) { return today.AddDate(0, 0, -back).Format(dateLayout), true }
	t := strings.TrimSuffix(spoken(typed), "のこと")
	// The time of day, when said, is kept after the date ("2026-12-05
	// evening", one of partsOfDay): the card shows it too.
	dayAt := func(back int, part string) (string, bool) { d, _ := day(back); return d + " " + part, true }
	switch t {
	case "さっき", "先ほど", "今さっき", "earlier today", "just now", "今日", "きょう", "本日", "today":
		return day(0)
	case "昨日", "きのう", "昨日のこと", "yesterday":
		return day(1)
	case "今朝", "今日の朝", "this morning":
		return dayAt(0, "morning")
	case "今日の午後", "this afternoon":
		return dayAt(0, "afternoon")
	case "今日の夕方":
		return dayAt(0, "evening")
	case "昨夜", "昨晩", "昨日の夜", "last night":
		return dayAt(1, "night")
	case "昨日の朝", "yesterday morning":
		return dayAt(1, "morning")
	case "昨日の午後", "yesterday afternoon":
		return dayAt(1, "afternoon")
	case "昨日の夕方", "yesterday evening":
		return dayAt(1, "evening")
	case "おととい", "一昨日", "おとつい", "the day before yesterday":
		return day(2)
	case "1週間前", "一週間前", "a week ago":
		return day(7)
	case "2週間前", "二週間前", "two weeks ago", "2 weeks ago":
		return day(14)
	}
	for i, w := range weekdaysJA {
		// "先週の金曜日", "先週の金曜": that day of the week before.
		if t == "先週の"+w+"曜日" || t == "先週の"+w+"曜" || t == "last "+strings.ToLower(time.Weekday(i).String()) {
			thisWeek := int(today.Weekday()+6) % 7 // days since Monday
			back := thisWeek + 7 - (i+6)%7
			return day(back)
		}
	}
	var n int
	for _, f := range []string{"%d日前", "%d days ago", "%d day ago"} {
		if scanAll(t, f, &n) && n <= 366 {
			return day(n)
		}
	}
	var y, m, d int
	if mo, dd, ok := monthDay(t); ok {
		t = fmt.Sprintf("%d/%d", mo, dd) // "Dec 1", "1st December"
	}
	switch {
	case scanAll(t, "%d-%d-%d", &y, &m, &d), scanAll(t, "%d/%d/%d", &y, &m, &d), scanAll(t, "%d年%d月%d日", &y, &m, &d):
	case scanAll(t, "%d月%d日", &m, &d), scanAll(t, "%d/%d", &m, &d):
		y = today.Year()
		if time.Date(y, time.Month(m), d, 0, 0, 0, 0, loc).After(today) {
			y-- // "12月28日" typed in January
		}
	default:
		return "", false
	}
	at := time.Date(y, time.Month(m), d, 0, 0, 0, 0, loc)
	if at.Year() != y || int(at.Month()) != m || at.Day() != d || at.After(today) || today.Sub(at) > 3*366*24*time.Hour {
		return "", false // no such day, or not one an incident could be on
	}
	return at.Format(dateLayout), true
}

// monthDay reads an English day of a month: "Dec 1", "December 1st",
// "1 Dec", "the 1st of December".
func monthDay(t string) (month, day int, ok bool) {
	t = strings.TrimPrefix(strings.ReplaceAll(t, ",", ""), "the ")
	m := englishDay.FindStringSubmatch(t)
	if m == nil {
		return 0, 0, false
	}
	name, num := m[1], m[2]
	if name == "" {
		name, num = m[4], m[3]
	}
	for i := time.January; i <= time.December; i++ {
		if full := strings.ToLower(i.String()); name == full || len(name) >= 3 && strings.HasPrefix(full, strings.TrimSuffix(name, ".")) {
			d, err := strconv.Atoi(num)
			return int(i), d, err == nil
		}
	}
	return 0, 0, false
}

var englishDay = regexp.MustCompile(`^(?:([a-z]+\.?) (\d{1,2})(?:st|nd|rd|th)?|(\d{1,2})(?:st|nd|rd|th)? (?:of )?([a-z]+\.?))$`)

// partsOfDay are the times of day a date is stored with, in Japanese.
var partsOfDay = map[string]string{"morning": "朝", "afternoon": "午後", "evening": "夕方", "night": "夜"}

// scanAll reports whether s is exactly format filled with whole numbers
// (none negative), and sets vs to them.
func scanAll(s, format string, vs ...*int) bool {
	ptrs, ns := make([]any, len(vs)), make([]any, len(vs))
	for i, v := range vs {
		ptrs[i] = v
	}
	if _, err := fmt.Sscanf(s, format, ptrs...); err != nil {
		return false
	}
	for i, v := range vs {
		if *v < 0 {
			return false
		}
		ns[i] = *v
	}
	return fmt.Sprintf(format, ns...) == s || fmt.Sprintf(strings.ReplaceAll(format, "%d", "%02d"), ns...) == s
}

// showDate says a stored date ("2026-12-05") in the reader's language,
// or returns "" when s is not one.
func showDate(s string, l mamori.Lang) string {
	day, part, _ := strings.Cut(s, " ") // "2026-12-05 evening": and the time of day
	d, err := time.Parse(dateLayout, day)
	if _, known := partsOfDay[part]; err != nil || part != "" && !known && !clockTime.MatchString(part) {
		return "" // not a date, or words typed after one: in the details
	}
	if clock, about := strings.CutSuffix(part, "~"); clockTime.MatchString(part) {
		// "18:30~": the time, said as about
		part = clock
		if about && l == mamori.JA {
			part += "ごろ"
		} else if about {
			part = "about " + part
		}
	} else if l == mamori.JA {
		part = partsOfDay[part]
	}
	if l == mamori.EN {
		if part != "" {
			return d.Format("2 Jan 2006") + ", " + part
		}
		return d.Format("2 Jan 2006")
	}
	return strings.TrimSpace(d.Format("2006年1月2日") + " " + part)
}

// takesText reports whether q would keep typed as free text (not as one
// of its options).
func takesText(env Env, q question, typed string, l mamori.Lang) bool {
	switch q.kind {
	case kText:
		return strings.TrimSpace(typed) != ""
	case kBoth:
		_, option := matchOption(typed, q.options(env, l))
		return !option && strings.TrimSpace(typed) != ""
	}
	return false
}

func hasOption(opts []mamori.Choice, v string) bool {
	for _, o := range opts {
		if o.Value == v {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// matchOption accepts a typed option: its number ("2") or its label.
func matchOption(typed string, opts []mamori.Choice) (string, bool) {
	t := plain(toHalfWidth(typed))
	for i, o := range opts {
		if t == fmt.Sprint(i+1) || t == plain(o.Label) || t == o.Value {
			return o.Value, true
		}
	}
	if v, ok := yesNo[t]; ok && hasOption(opts, v) {
		return v, true
	}
	if yesNo[t] == "yes" && hasOption(opts, "before") { // "前にもありましたか？" — "はい"
		return "before", true
	}
	if yesNo[t] == "no" || noneWords[spoken(typed)] {
		// "なし", "いいえ", "none" where the answer is none, nobody or no
		// ("first": the first time).
		for _, v := range []string{"none", "nobody", "no", "first"} {
			if hasOption(opts, v) {
				return v, true
			}
		}
	}
	if yesNo[t] == "yes" || safeWords[spoken(typed)] {
		if hasOption(opts, "safe") { // "are you safe now?" — "はい", "大丈夫"
			return "safe", true
		}
	}
	if unsureWord(typed) && hasOption(opts, "unsure") {
		return "unsure", true // "I don't know" where "Not sure" is a button (found by a trial)
	}
	return "", false
}

// noneWords say there is none ("記録は？" — "なし"); safeWords answer "are
// you safe?" with yes.
var (
	noneWords = map[string]bool{"なし": true, "ない": true, "無い": true, "ありません": true, "特にない": true, "特になし": true, "特にありません": true,
		"何もない": true, "なにもない": true, "何もありません": true, "なにもありません": true,
		"いない": true, "いません": true, "誰もいない": true, "だれもいない": true, "誰もいません": true,
		"残っていない": true, "残っていません": true, "残ってない": true, "残ってません": true, "持っていません": true, "no records": true,
		"none": true, "no": true, "nothing": true, "nobody": true, "no one": true, "not really": true}
	safeWords = map[string]bool{"大丈夫": true, "だいじょうぶ": true, "安全": true, "無事": true, "yes": true, "ok": true, "okay": true, "fine": true, "safe": true,
		"i'm fine": true, "i'm ok": true, "i'm okay": true, "i'm safe": true, "i am fine": true, "i am ok": true, "i am okay": true, "i am safe": true}
)

// durationOption reads how long it went on, typed as a length ("35分
// くらい", "about 20 min", "1時間半", "2 hours"): the option it falls in.
func durationOption(typed string) (string, bool) {
	t := toHalfWidth(strings.ToLower(typed))
	var minutes float64
	found := false
	for _, m := range lengthTyped.FindAllStringSubmatchIndex(t, -1) {
		rest := strings.TrimSpace(t[m[5]:])
		if (strings.HasPrefix(rest, "前") || strings.HasPrefix(rest, "後") || strings.HasPrefix(rest, "ago")) && !strings.HasPrefix(rest, "前後") {
			continue // 「2時間前から30分」: when, not how long (「1時間前後」 is about)
		}
		if negates(clauseAt(t, m[2], m[5])) {
			continue // 「1時間もかからなかった」, "not 10 minutes": said to say no
		}
		n, _ := strconv.ParseFloat(t[m[2]:m[3]], 64)
		minutes = n
		if unit := t[m[4]:m[5]]; unit == "時間" || strings.HasPrefix(unit, "h") {
			minutes = n * 60
			if strings.HasPrefix(t[m[5]:], "半") {
				minutes += 30
			}
		}
		if strings.HasPrefix(rest, "弱") {
			minutes-- // 「1時間弱」: a little under
		}
		found = true
		break
	}
	if !found {
		return "", false
	}
	switch {
	case minutes < 10:
		return "under10", true
	case minutes < 30:
		return "under30", true
	case minutes < 60:
		return "under60", true
	}
	return "over60", true
}

// clauseAt is the clause of t around t[from:to]: between the marks
// that end clauses.
func clauseAt(t string, from, to int) string {
	start := strings.LastIndexAny(t[:from], ",、。.!?！？") + 1
	end := strings.IndexAny(t[to:], ",、。.!?！？")
	if end < 0 {
		return t[start:]
	}
	return t[start : to+end]
}

var lengthTyped = regexp.MustCompile(`(\d+(?:\.\d+)?)\s*(分|時間|minutes|minute|mins|min|hours|hour|hrs|hr|h)(?:$|[^a-z])`)

// unsafeHint reports whether words typed at "are you safe now?" say more
// than safe: no, but, still, fear, a hurt, a colleague ("無事です。同僚が
// けがをしました"). They are never taken as "safe": the buttons that
// raise the alarm are pointed to.
func unsafeHint(typed string) bool {
	return negates(typed) || fearful(typed) || holdsAny(typed, "but", "でも", "けど", "still", "まだ", "hurt", "injur", "けが", "怪我", "痛",
		"同僚", "colleague", "coworker", "co-worker")
}

// looseOption accepts, for a question answered by buttons alone, words
// that hold one option's label and nothing against it ("はい、話したいです"
// for 話したい, "yes please" for "Yes, please"), or that are a part of
// one label alone ("自分" for 自分のこと): a person in distress types as
// they would say it. Nothing is taken when two options fit or the words
// say no.
func looseOption(typed string, opts []mamori.Choice) (string, bool) {
	t := squash(toHalfWidth(typed))
	if negates(typed) {
		// A "no" that is the option's own (「特にないと思います」 for
		// 特にない — found by a re-trial), with nothing else against it.
		for _, o := range opts {
			if label := squash(o.Label); negates(o.Label) && utf8.RuneCountInString(label) >= 2 && strings.Contains(t, label) &&
				!negates(strings.Replace(t, label, "", 1)) && !contrast.MatchString(typed) && !holdsAny(typed, "あった", "ある", "たい", "かも") {
				return o.Value, true
			}
		}
		return "", false
	}
	if utf8.RuneCountInString(t) < 2 {
		return "", false
	}
	hit, n := "", 0
	for _, o := range opts {
		label := squash(o.Label)
		if utf8.RuneCountInString(label) >= 2 && (strings.Contains(t, label) || strings.Contains(label, t)) {
			hit, n = o.Value, n+1
		}
	}
	if n == 0 && utf8.RuneCountInString(t) <= 20 && !fearful(typed) && !holdsAny(typed, "but", "でも", "けど", "still", "まだ", "が怖") {
		// Said as people say it, briefly ("I got hurt", "face to face", "a
		// coworker"); a longer sentence may say more than that, and so
		// may one with "but" or fear in it ("安全ですが怖いです").
		for _, o := range opts {
			if slices.ContainsFunc(optionWords[o.Value], func(w string) bool { return strings.Contains(t, w) }) {
				hit, n = o.Value, n+1
			}
		}
	}
	return hit, n == 1
}

// optionWords are plain ways of saying some options, squashed.
var optionWords = map[string][]string{
	"self":      {"itwasme", "myself", "aboutme", "自分です", "私です", "わたしです"},
	"colleague": {"mycolleague", "coworker", "colleague", "同僚です"},
	"in_person": {"facetoface", "inperson", "直接", "対面で"},
	"phone":     {"phonecall", "onthephone", "byphone", "電話で"},
	"safe":      {"iamsafe", "imsafe", "iamfine", "imfine", "imok", "iamok", "安全です", "無事です", "大丈夫です"},
	// Has it happened before: 「2回目です」, "twice".
	"before": {"2回目", "二回目", "3回目", "三回目", "何度も", "何回も", "前にも", "またです", "secondtime", "twice", "again", "happenedbefore"},
	"first":  {"初めて", "はじめて", "firsttime", "neverbefore"},
	// Where the report goes: 「上長で」, 「人事だけ」.
	mamori.RouteDepartment: {"上長で", "上長へ", "上長に", "上長にお願い", "上司で", "上司に", "mysupervisor", "mymanager"},
	mamori.RouteHR:         {"人事で", "人事へ", "人事に", "人事だけ", "人事のみ", "人事にお願い", "hronly", "justhr", "onlyhr", "tohr"},
}

// typoOption reads a slip of the keys ("in persn" for "In person"): one
// letter off a label of seven or more, two off one of twelve or more,
// the first letter right, and only one label that close. Never at "are
// you safe?": "uninjured" must not raise an alarm.
func typoOption(typed string, opts []mamori.Choice) (string, bool) {
	t := []rune(squash(toHalfWidth(typed)))
	if negates(typed) || len(t) == 0 {
		return "", false
	}
	hit, n := "", 0
	for _, o := range opts {
		label := []rune(squash(o.Label))
		if len(label) >= 7 && label[0] == t[0] && typos(t, label) <= 1+len(label)/12 {
			hit, n = o.Value, n+1
		}
	}
	return hit, n == 1
}

// typos is the edit distance between a and b: the letters to add, drop
// or change to make one the other.
func typos(a, b []rune) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// leadingOption reads an answer said first, then more ("yes, twice last
// month", 「はい、先月も2回」): the words before the first comma or stop
// name an option as they would alone (matchOption), and rest is what
// follows.
func leadingOption(typed string, opts []mamori.Choice) (v, rest string, ok bool) {
	i := strings.IndexAny(typed, ",、，。.!！")
	if i <= 0 {
		return "", "", false
	}
	head := plain(typed[:i])
	rest = strings.TrimSpace(strings.TrimLeft(typed[i:], ",、，。.!！ 　"))
	if rest == "" || holdsAny(rest, "but", "still", "however", "でも", "けど", "けれど", "しかし", "まだ") {
		return "", "", false // "yes, but he is still here": not simply yes
	}
	if _, yn := yesNo[head]; !yn && !noneWords[spoken(head)] && !slices.ContainsFunc(opts, func(o mamori.Choice) bool { return plain(o.Label) == head }) {
		return "", "", false // a number or a word that happens to begin it is no answer
	}
	v, ok = matchOption(head, opts)
	return v, rest, ok
}

// keepAside keeps typed, which answers no option of the question c is
// at, with the account, and asks the question again: nothing typed is
// lost.
func keepAside(env Env, c *mamori.Conversation, typed string, l mamori.Lang) string {
	if !addToAccount(c, typed) {
		return fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText)
	}
	return env.Policy.T(l, "nav.kept_aside.buttons")
}

// noFirst is a "no" said first ("no, keep going", 「いいえ、続けます」).
var noFirst = regexp.MustCompile(`(?i)^\s*(いいえ|いや|no|nope|nah)\W*`)

// removeLine returns kept without the line text (once).
func removeLine(kept, text string) string {
	lines := strings.Split(kept, "\n")
	if i := slices.Index(lines, text); i >= 0 {
		lines = slices.Delete(lines, i, i+1)
	}
	return strings.Join(lines, "\n")
}

// offerAsAnswer keeps typed in c to offer as the answer to the question
// brought back — and, in a report, as the answer to case asked's question
// that came meanwhile (a question to HR's words are HR's alone).
func offerAsAnswer(c *mamori.Conversation, typed, asked string) {
	c.Draft = typed
	if asked != "" && c.Flow == mamori.FlowReport {
		c.ReplyDraft, c.ReplyDraftFor, c.ReplyDraftInFlow = typed, asked, true
	}
}

// moreOfLast keeps words sent right after an answer, before the next
// question reached them (「50代くらいの男性」 then 「メガネで、よく来る
// 人です」): added to that answer when it was words, else to the account
// (or a question to HR), and says where. ok is false when there is
// nothing to keep or no room.
func moreOfLast(env Env, c *mamori.Conversation, typed string, l mamori.Lang) (note string, ok bool) {
	if !worthKeeping(typed) || !inFlow(*c) || len(c.History) == 0 ||
		utf8.RuneCountInString(squash(typed)) <= 6 && strings.ContainsAny(typed, "?？") { // 「まだですか？」
		return "", false
	}
	if stopWish(typed) || pauseWish(typed) || typedCommand(typed) != "" {
		return "", false // a wish, not words to keep
	}
	prev := c.History[len(c.History)-1]
	if prev == stepWellbeing || prev == stepTalk {
		// How they are is HR's alone: with their feelings, never the
		// account (found by a review).
		if feelings, fits := appendText(c.Answers.Feelings, typed); fits {
			c.Answers.Feelings = feelings
			return env.Policy.T(l, "nav.in_flight.feelings"), true
		}
		return "", false
	}
	if q, found := lookup(prev); found && q.answer != nil && q.step != stepSafety && (q.kind == kText || q.kind == kBoth) {
		slot := q.answer(&c.Answers)
		if *slot != "" && (q.options == nil || !hasOption(q.options(env, l), *slot)) {
			if more, fits := appendText(*slot, typed); fits {
				*slot = more
				return fmt.Sprintf(env.Policy.T(l, "nav.in_flight.added"), env.Policy.T(l, "s."+prev)), true
			}
		}
	}
	if c.Flow == mamori.FlowConsult {
		if worry, fits := appendText(c.Answers.Worry, typed); fits {
			c.Answers.Worry = worry
			return env.Policy.T(l, "nav.in_flight.consult"), true
		}
		return "", false
	}
	if addToAccount(c, typed) {
		return env.Policy.T(l, "nav.in_flight.account"), true
	}
	return "", false
}

// dangerAside keeps words of a danger now ("help me, he is still
// outside", "he's back") typed at a short question of a report — where,
// who, when, how long, witnesses, records — with the account instead of
// as its answer, and says so: the question again, with the SOS on it
// (Step). ok is false for other words and questions (an account, the
// words said, the demand, may quote a threat).
func dangerAside(env Env, c *mamori.Conversation, q question, typed string, l mamori.Lang) (note string, ok bool) {
	switch q.step {
	case stepPlace, stepCustomer, stepCustomerID, stepColleague, stepWhen, stepDuration, stepWitnesses, stepEvidence:
	default:
		return "", false
	}
	if c.SOS != "" || c.Flow != mamori.FlowReport || !dangerNow(typed) {
		return "", false
	}
	// Words quoted, of the past or of habit describe the customer or the
	// place: the answer, with the SOS offered beside it (found by a
	// review: 「前にも「覚えてろ」と言ってきた男性」 was lost). At a
	// question of words, only a call for help or a danger said as now.
	if strings.ContainsAny(typed, "「」\"“”") || pastWords.MatchString(typed) ||
		holdsAny(strings.ToLower(typed), "言われ", "言って", "いつも", "常連", "said", "always", "regular", "usually") ||
		q.kind == kText && !callsForHelp(typed) && !holdsAny(typed, "今", "いま", "まだ") && !presentEN.MatchString(typed) {
		return "", false
	}
	if !addToAccount(c, typed) {
		return fmt.Sprintf(env.Policy.T(l, "nav.too_long"), MaxText), true
	}
	return env.Policy.T(l, "nav.kept_aside.danger"), true
}

// addToAccount adds typed to the report's account ("what happened"),
// after what is there; false when that would be too long.
func addToAccount(c *mamori.Conversation, typed string) bool {
	narrative, ok := appendText(c.Answers.Narrative, typed)
	if ok {
		c.Answers.Narrative = narrative
		c.AccountKept = true
	}
	return ok
}

// saysNothingMore reports whether typed, at a question it answers no
// button of, is only a yes, a courtesy or "I'm safe" (「はい、安全です」
// at "about you or a colleague?", the safety asked already by an SOS):
// nothing to add to the account (found by reading the change as a user).
func saysNothingMore(env Env, typed string) bool {
	if politeOnly(typed) || safeWord(env.Policy, typed, false) {
		return true
	}
	head, rest, said := strings.Cut(commas.Replace(typed), "、")
	return said && yesNo[spoken(head)] != "" && (safeWord(env.Policy, rest, false) || politeOnly(rest))
}

// politeOnly reports whether typed is only words of courtesy (「お願い
// します」, "thank you", 「よろしくお願いします」).
func politeOnly(typed string) bool {
	t := squash(toHalfWidth(typed))
	if t == "" {
		return false // 「？」 is no courtesy
	}
	for _, w := range []string{"よろしくお願いします", "お願いします", "おねがいします", "お願い", "ありがとうございます", "ありがとう", "です", "pleasethankyou", "thankyou", "thanks", "please", "pls"} {
		t = strings.ReplaceAll(t, squash(w), "")
	}
	return t == ""
}

// saysMore reports whether typed, which names option v, says more than
// its label: a sentence around it, not the button's words.
func saysMore(typed string, opts []mamori.Choice, v string) bool {
	for _, o := range opts {
		if o.Value == v {
			return utf8.RuneCountInString(squash(typed)) > utf8.RuneCountInString(squash(o.Label))+6
		}
	}
	return false
}

// pickLabels reads options named by their labels, one or more apart
// ("土下座の要求、暴言").
func pickLabels(typed string, opts []mamori.Choice) ([]string, bool) {
	for _, o := range opts { // a label may hold commas itself
		if squash(typed) != "" && squash(typed) == squash(o.Label) {
			return []string{o.Value}, true
		}
	}
	if values, ok := pickParts(typed, opts, false); ok {
		return values, true
	}
	return pickParts(typed, opts, true) // "insults and threats", 「脅迫や暴言」
}

// pickParts is pickLabels on typed split at commas and the like, and at
// "and" and 「や」 too with and.
func pickParts(typed string, opts []mamori.Choice, and bool) ([]string, bool) {
	if and {
		typed = andSplit.Replace(typed)
	}
	var values []string
	parts := strings.FieldsFunc(typed, func(r rune) bool { return strings.ContainsRune(",、，\n/・と&＆+", r) })
	for _, part := range parts {
		found := false
		for _, o := range opts {
			if squash(part) != "" && squash(part) == squash(o.Label) {
				values, found = append(values, o.Value), true
				break
			}
		}
		if !found {
			// A word of one label ("脅迫", "しつこい電話", "threats"), not
			// the whole, in a short list (a sentence is an account): the
			// one option it names.
			if utf8.RuneCountInString(squash(andSplit.Replace(typed))) > 16 {
				return nil, false
			}
			named := everyday(part, opts)
			if v, ok := labelWord(part, opts); ok {
				named = []string{v}
			}
			if len(named) == 0 {
				return nil, false
			}
			for _, v := range named {
				if !slices.Contains(values, v) {
					values = append(values, v)
				}
			}
		}
	}
	return values, len(values) > 0
}

// andSplit makes the words that join a list ("insults and threats",
// 「脅迫や暴言」) commas.
var andSplit = strings.NewReplacer(" and ", ",", " AND ", ",", " And ", ",", "や", ",")

// everydayWords are what people call a behaviour and the words the
// policies' labels use for it: a part naming none of the labels is
// tried as these.
var everydayWords = []struct {
	said, labels []string
	act          bool // an act, which notDone undoes
}{
	{[]string{"yell", "shout", "scream", "swore", "swear", "curs", "verbal abuse", "verbally abus", "怒鳴", "罵声", "罵倒", "罵ら"},
		[]string{"abusive language", "暴言"}, false},
	{[]string{"threaten"}, []string{"threats"}, false},
	// An act done to them, not one threatened, tried or done to a thing
	// (found by a review: "pushy", 「殴られそうになった」, 「机を叩いて」).
	{[]string{"hit me", "hits me", "punched", "kicked", "slapped", "shoved", "pushed me", "grabbed me", "grabbed my", "殴られ", "殴ってき", "蹴られ",
		"蹴ってき", "叩かれ", "突き飛ば", "つかまれ", "掴まれ", "kicking", "punching", "hitting me"},
		[]string{"hitting", "assault", "暴行", "殴る"}, true},
	{[]string{"insult"}, []string{"insults"}, false},
	{[]string{"威圧", "intimidat", "menacing"}, []string{"威圧", "intimidating", "Intimidating"}, false},
}

// everyday returns the options part names in everydayWords ("yelled
// and hit me"); none when it says no ("he didn't hit me").
func everyday(part string, opts []mamori.Choice) []string {
	if negates(part) {
		return nil
	}
	p := strings.ToLower(part)
	var out []string
	for _, e := range everydayWords {
		if !slices.ContainsFunc(e.said, func(w string) bool { return wordStart(p, w) }) || e.act && notDone.MatchString(part) {
			continue
		}
		for _, w := range e.labels {
			if v, ok := labelWord(w, opts); ok {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// notDone is an act threatened, tried, or done to a thing.
var notDone = regexp.MustCompile(`(?i)そうに|ようと|を叩[いきくけこ]|\b(said|threaten\w*|almost|nearly|tried to|going to|would)\b|'d (hit|punch|kick)`)

// wordStart reports whether s holds w at the start of a word: "hit" in
// "hit me" but not in "white" (Japanese has no word breaks to find).
func wordStart(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		i += j
		if r, _ := utf8.DecodeLastRuneInString(s[:i]); i == 0 || w[0] >= utf8.RuneSelf || !unicode.IsLetter(r) {
			return true
		}
		i += len(w)
	}
}

// labelWord returns the option whose label holds part, or one of whose
// words (the label split at its brackets and commas: "精神的な攻撃（脅迫、
// 中傷…）") part holds; only when one option does.
func labelWord(part string, opts []mamori.Choice) (string, bool) {
	p := squash(part)
	if utf8.RuneCountInString(p) < 2 || negates(part) {
		return "", false // 「脅迫はなかった」 names it to say no
	}
	found := ""
	for _, o := range opts {
		match := strings.Contains(squash(o.Label), p)
		for _, w := range strings.FieldsFunc(o.Label, func(r rune) bool { return strings.ContainsRune("（）()、,，・", r) }) {
			if w = squash(w); utf8.RuneCountInString(w) >= 2 && strings.Contains(p, w) {
				match = true
			}
		}
		if match {
			if found != "" && found != o.Value {
				return "", false // two options: not one named
			}
			found = o.Value
		}
	}
	return found, found != ""
}

// doneWord reports whether typed is the multiple choice's "Done" in
// either language, or a plain word for it.
func doneWord(p *mamori.Policy, typed string) bool {
	t := plain(typed)
	switch t {
	case plain(p.T(mamori.JA, "multi.submit")), plain(p.T(mamori.EN, "multi.submit")), "完了", "次へ", "done", "next":
		return true
	}
	return false
}

// squash is text without case, spaces or punctuation, for comparing
// typed words with a label.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// yesNo are plain yes and no, for a question whose options are yes and
// no (and "safe", "today", "yes" typed are their options' values).
var yesNo = map[string]string{"はい": "yes", "うん": "yes", "ええ": "yes", "y": "yes", "yes": "yes", "yeah": "yes", "yep": "yes",
	"yes please": "yes", "yes pls": "yes", "yes plz": "yes", "yes thanks": "yes", "sure": "yes",
	"いいえ": "no", "いや": "no", "ううん": "no", "n": "no", "no": "no", "nope": "no", "nah": "no", "no thanks": "no", "no thank you": "no"}

// pickNumbers reads "1, 3 5" (or "なし"/"none") as a multi-choice answer.
func pickNumbers(typed string, opts []mamori.Choice) ([]string, bool) {
	t := strings.ToLower(strings.TrimSpace(toHalfWidth(typed)))
	if t == "0" || t == "なし" || t == "none" {
		return nil, true
	}
	fields := strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' || r == '、' })
	if len(fields) == 0 {
		return nil, false
	}
	var values []string
	for _, f := range fields {
		var n int
		if _, err := fmt.Sscanf(f, "%d", &n); err != nil || fmt.Sprint(n) != f || n < 1 || n > len(opts) {
			return nil, false
		}
		values = append(values, opts[n-1].Value)
	}
	return values, true
}

// toHalfWidth turns full-width digits and commas (common in Japanese
// input) into ASCII.
func toHalfWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '０' && r <= '９':
			return r - '０' + '0'
		case r == '，':
			return ','
		case r == '　':
			return ' '
		}
		return r
	}, s)
}

// stopWish reports whether typed text, alone, says they want to stop
// ("もうやめたい", "I want to stop"): at most questions a wish to stop the
// report, at how they feel perhaps their job.
func stopWish(typed string) bool {
	switch spoken(typed) {
	case "やめたい", "もうやめたい", "やめます", "もうやめる", "中止", "中止する", "quit", "i want to stop", "i'd like to stop", "nvm", "never mind", "nevermind",
		"やっぱりやめます", "やっぱりやめる", "やっぱりやめたい", "やっぱりいいです", "もういいです", "やめておきます", "やめときます", "報告をやめます",
		"i changed my mind", "forget it", "i'll stop", "stop this":
		return true
	}
	return false
}

// pauseWish reports whether typed text, alone, asks for a pause ("I need
// a break", 「ちょっと休みたい」): the report is kept for later.
func pauseWish(typed string) bool {
	// The whole text, or its last clause ("sorry someone needs me at the
	// counter, can i finish this later").
	parts := strings.FieldsFunc(typed, func(r rune) bool { return strings.ContainsRune(",、。.!！", r) })
	for i, t := range []string{typed, ""} {
		if i == 1 {
			if len(parts) < 2 {
				break
			}
			t = parts[len(parts)-1]
		}
		w := strings.TrimRight(spoken(t), "?？")
		switch w {
		case "can i finish this later", "can i finish later", "i'll finish this later", "i'll finish later", "can i do this later", "can i continue later",
			"あとで続けます", "後で続けます", "続きはあとで", "続きは後で", "続きはまたあとで", "あとで続きを書きます",
			"あとで", "後で", "またあとで", "また後で", "あとでまた", "あとでにします", "not now", "not right now", "later", "i'll do it later":
			return true // the whole text, or said at its end: about the report
		}
		if i == 1 && !fillerOnly(parts[:len(parts)-1]) {
			continue // other words at the end of a sentence may be its account ("…, take a break")
		}
		switch w {
		case "can i stop", "can i stop now", "i need a break", "take a break", "later please", "i have to go",
			"休みたい", "ちょっと休みたい", "少し休みたい", "一旦やめたい", "いったんやめたい", "あとでにしたい", "後でにしたい", "また後で", "またあとで",
			"あとでやります", "後でやります", "今は無理", "今は無理です", "いまは無理", "いまは無理です", "ちょっと今は無理", "ちょっと今は無理です",
			"今はちょっと", "今はちょっと無理", "今は書けない", "今は書けません", "can't right now", "cant right now", "can't now", "cant now",
			"brb", "busy now", "i'm busy", "im busy", "gotta go", "got to go", "i have to go now":
			return true
		}
	}
	return false
}

// unknownWord reports whether typed says only that they do not know, or
// there is none.
func unknownWord(typed string) bool {
	switch strings.TrimRight(spoken(typed), "。.!！") {
	case "なし", "特になし", "ない", "ありません", "none", "n/a", "na", "nothing":
		return true
	}
	return unsureWord(typed)
}

// unsureWord reports whether typed says only that they do not know.
func unsureWord(typed string) bool {
	switch strings.TrimRight(spoken(typed), "。.!！") {
	case "わからない", "わかりません", "分からない", "分かりません", "知らない", "知りません", "不明", "不明です",
		"i don't know", "i dont know", "don't know", "dont know", "dunno", "no idea", "not sure", "unknown":
		return true
	}
	return false
}

// onlyPause reports whether every clause of typed is a pause or a filler
// (「ちょっと今は無理です、あとで」, not 「ふざけるな、あとで」).
func onlyPause(typed string) bool {
	for _, c := range strings.FieldsFunc(typed, func(r rune) bool { return strings.ContainsRune(",、。.!！", r) }) {
		if !pauseWish(c) && !fillerOnly([]string{c}) && typedCommand(strings.TrimSpace(c)) != navLater {
			return false
		}
	}
	return true
}

// saidBeforePause reports whether typed says something before the pause
// it ends with (「録音があります、あとで」), to keep.
func saidBeforePause(typed string) bool {
	parts := strings.FieldsFunc(typed, func(r rune) bool { return strings.ContainsRune(",、。.!！", r) })
	return len(parts) >= 2 && !fillerOnly(parts[:len(parts)-1]) && worthKeeping(strings.Join(parts[:len(parts)-1], "、"))
}

// fillerOnly reports whether clauses are only an apology or a filler
// ("sorry", 「すみません」) before what is said.
func fillerOnly(clauses []string) bool {
	for _, c := range clauses {
		switch spoken(c) {
		case "sorry", "ok", "okay", "um", "uh", "すみません", "すいません", "ごめん", "ごめんなさい", "あの", "えっと", "あ":
		default:
			return false
		}
	}
	return true
}

// typedCommand maps typed navigation words to their buttons.
func typedCommand(t string) string {
	switch plain(t) {
	case "戻る", "もどる", "back":
		return navBack
	case "あとで", "後で", "あとで続ける", "later", "continue later", "中断":
		return navLater
	case "やめる", "キャンセル", "cancel", "stop":
		return navCancel
	case "スキップ", "skip":
		return navSkip
	case "このままにする", "このままで", "このまま", "そのままで", "そのまま", "そのままにする", "それで", "それでいい", "それでいいです", "そのままでいいです",
		"keep this", "keep", "keep it", "keep it as is", "as is", "leave it", "that's fine", "thats fine":
		// The "keep this" button's label, typed: not an answer that
		// would overwrite the one kept.
		return navKeep
	}
	return ""
}

func pop(c *mamori.Conversation) string {
	if n := len(c.History); n > 0 {
		s := c.History[n-1]
		c.History = c.History[:n-1]
		return s
	}
	return ""
}

func back(env Env, c mamori.Conversation) (mamori.Conversation, Out) {
	c.Editing = false
	prev := pop(&c)
	if prev == "" || prev == stepEdit || prev == stepCancel {
		// Nothing behind (or only menus): ask the current question again.
		if prev == stepEdit {
			c.Step = summaryStep(c)
		}
		return c, ask(env, c, "")
	}
	c.Step = prev
	return c, ask(env, c, "")
}

func summaryStep(c mamori.Conversation) string {
	if c.Flow == mamori.FlowConsult {
		return stepCSummary
	}
	return stepSummary
}

// followUp returns a conditional question that an edited answer opened
// and that has no answer yet (a colleague's name, a department, where the
// report goes), or "". An optional one counts only right after the edit,
// so a skipped one is not asked again at every edit.
func followUp(env Env, c mamori.Conversation) string {
	after := next(env, c, c.Step)
	for _, q := range questions {
		if q.flow != c.Flow || q.asked == nil || q.answer == nil || !q.asked(env, c) || *q.answer(&c.Answers) != "" {
			continue
		}
		if !q.optional || q.step == after {
			return q.step
		}
	}
	return ""
}

// keepFiles adds the files of in to the report as evidence and says so.
func keepFiles(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out) {
	c.Answers.Files = append(c.Answers.Files, in.Files...)
	names := make([]string, len(in.Files))
	for i, f := range in.Files {
		names[i] = f.Name
	}
	return c, Out{Replies: []mamori.Message{text(fmt.Sprintf(env.Policy.T(c.User.Lang, "files.saved"), strings.Join(names, ", ")))}}
}

// comeBack brings a conversation that was left (paused, reminded, or
// started again from the menu) back to the question that was waiting,
// and shows it with greeting first.
func comeBack(env Env, c mamori.Conversation, greeting string) (mamori.Conversation, Out) {
	c.Paused = false
	if c.Step == stepResume {
		if c.Step = pop(&c); c.Step == "" {
			c.Step = next(env, c, "")
		}
	}
	out := ask(env, c, "")
	if m := &out.Replies[len(out.Replies)-1]; c.Flow != "" && c.Draft != "" && m.Step == c.Step {
		// What they sent before they went (is it the answer?) is still
		// there to use: nothing typed is lost across a restart.
		m.Choices = append([]mamori.Choice{{Value: navDraft, Label: env.Policy.T(c.User.Lang, "nav.draft_keep"), Style: mamori.StylePrimary}}, m.Choices...)
		m.Note = strings.TrimSpace(fmt.Sprintf(env.Policy.T(c.User.Lang, "nav.draft.sent"), clip(c.Draft, 200)) + "\n" + m.Note)
	}
	out.Replies = append([]mamori.Message{text(env.Policy.T(c.User.Lang, greeting))}, out.Replies...)
	return c, out
}

// replyDraft is the text c offers as the answer to case number: what was
// typed while its question waited — never what was typed before it
// (perhaps for HR alone).
func replyDraft(c mamori.Conversation, number string) string {
	if c.ReplyDraftFor == number {
		return c.ReplyDraft
	}
	return ""
}

// logDraft is log with typed added now, and without what is too old to
// pass on to an SOS (see sosNews).
func logDraft(env Env, log []mamori.Note, typed string) []mamori.Note {
	var kept []mamori.Note
	for _, n := range log {
		if env.Now.Sub(n.At) <= dangerNews {
			kept = append(kept, n)
		}
	}
	return append(kept, mamori.Note{At: env.Now, Text: typed})
}

// menuNews is what of the words typed at the menu (log) an SOS raised now
// passes on: those of the last quarter of an hour, and those that speak
// of danger from the last two hours ("a customer pointed a knife at me",
// then more words later).
func menuNews(env Env, log []mamori.Note) string {
	var news []string
	for _, n := range log {
		switch age := env.Now.Sub(n.At); {
		case age <= draftRecent:
			news = append(news, n.Text)
		case age <= dangerNews && (dangerHint(n.Text) || callsForHelp(n.Text) || weapon(n.Text)):
			// Said a while ago: with its time, so that it is not read
			// as now.
			loc := env.Location
			if loc == nil {
				loc = env.Now.Location()
			}
			news = append(news, fmt.Sprintf("(%s) %s", n.At.In(loc).Format("15:04"), n.Text))
		}
	}
	return strings.Join(news, "\n")
}

// draftRecent and dangerNews are how long words typed at the menu count
// as news for an SOS raised after them: any words, and words of danger.
const (
	draftRecent = 15 * time.Minute
	dangerNews  = 2 * time.Hour
)

// fresh is a new conversation for c's person that keeps what outlives a
// report or a question: an open SOS (and whether it asks where they
// are), a check-in waiting for its answer, words kept to answer a case's
// question.
func fresh(env Env, c mamori.Conversation) mamori.Conversation {
	return mamori.Conversation{User: c.User, Started: env.Now, Updated: env.Now, SOS: c.SOS, SOSPlace: c.SOSPlace,
		Checkin: c.Checkin, CheckinAt: c.CheckinAt, ReplyDraft: c.ReplyDraft, ReplyDraftFor: c.ReplyDraftFor, ReplyDraftInFlow: c.ReplyDraftInFlow}
}

func begin(env Env, c mamori.Conversation, flow string) (mamori.Conversation, Out) {
	l := c.User.Lang
	if c.Draft != "" {
		// Typed at the menu: the account, or the worry, to keep or change.
		switch {
		case flow == mamori.FlowReport && c.Answers.Narrative == "":
			c.Answers.Narrative, c.AccountKept = c.Draft, true
		case flow == mamori.FlowConsult && c.Answers.Worry == "":
			c.Answers.Worry = c.Draft
		}
		c.Draft, c.DraftLog = "", nil
	}
	c.Flow = flow
	c.History = nil
	c.Editing = false
	c.Paused = false
	c.Step = next(env, c, "")
	out := ask(env, c, "")
	intro := env.Policy.T(l, flow+".intro")
	if c.Answers.AboutCase != "" {
		// From a report's outcome: the question is about that report.
		intro = fmt.Sprintf(env.Policy.T(l, "consult.intro.about"), c.Answers.AboutCase)
	}
	out.Replies = append([]mamori.Message{text(intro)}, out.Replies...)
	out.Audit = flow + ".started"
	return c, out
}

// finishFirst asks to finish the report or question c is writing before
// starting another, and shows its question again.
func finishFirst(env Env, c mamori.Conversation) (mamori.Conversation, Out) {
	out := Out{Replies: []mamori.Message{text(env.Policy.T(c.User.Lang, "consult.finish_first"))}}
	out.Replies = append(out.Replies, ask(env, c, "").Replies...)
	return c, out
}

// aboutPrefix is the click, under a report's outcome, that asks HR's desk
// about that report.
const aboutPrefix = "about:"

// aboutCase starts a consultation about the reporter's own report (the
// one the click names): HR's card names it.
func aboutCase(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out) {
	l := c.User.Lang
	k := env.Consultation
	if k == nil || k.Kind != mamori.KindReport || k.Reporter.Key() != c.User.Key() || aboutPrefix+k.Number != in.Value {
		return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "details.not_found"))}}
	}
	if inFlow(c) {
		return finishFirst(env, c)
	}
	nc := fresh(env, c)
	nc.Draft = c.Draft
	nc.Answers.AboutCase = k.Number
	return begin(env, nc, mamori.FlowConsult)
}

func fromConsultation(env Env, c mamori.Conversation, in mamori.Input) (mamori.Conversation, Out) {
	l := c.User.Lang
	cons := env.Consultation
	if cons == nil || cons.Kind != mamori.KindConsult || cons.Reporter.Key() != c.User.Key() {
		return c, Out{Replies: []mamori.Message{text(env.Policy.T(l, "consult.not_found"))}}
	}
	if c.Flow != "" && c.Step != stepDone && c.Step != stepMenu {
		return finishFirst(env, c)
	}
	nc := fresh(env, c)
	nc.Answers.Narrative = cons.Answers.Worry
	nc.Answers.FromConsultation = cons.Number
	return begin(env, nc, mamori.FlowReport)
}
