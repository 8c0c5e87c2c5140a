// Package flows runs Mamori's conversations and case routing. It knows no
// platform and no database: it moves conversation state with a pure step,
// and persists through the interfaces the mamori package declares.
package flows

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mamori-oss/mamori"
)

// Service handles what users do and keeps it in the store. Every reply is
// put in the outbox in the same transaction as the state change; a Worker
// delivers it.
type Service struct {
	Store  mamori.Store
	Policy *mamori.Policy
	Org    *mamori.Org
	Clock  mamori.Clock
	Log    *slog.Logger
	// Location is the organisation's time zone (default Asia/Tokyo, set
	// by the caller); case numbers take their year from it.
	Location *time.Location
	// RemindAfter is how long a paused conversation waits before a
	// gentle reminder; zero means 24 hours.
	RemindAfter time.Duration
	// Deadlines: a case not taken within Take gets a reminder in its
	// channel; one not judged within Judge is escalated to HR, and again
	// every Judge until someone decides. Urgent cases use the Urgent pair.
	// Zero means the defaults: 24 h and 72 h, urgent 1 h and 4 h.
	Deadlines Deadlines
	// Care says when check-ins go out.
	Care Care
	// Training lists the training programmes.
	Training []Programme
	// SOS says who answers an SOS besides the department and HR, and how
	// fast it escalates.
	SOS SOS
	// Retention says how long closed cases are kept, and the rows that
	// grow with every request.
	Retention Retention
	// Register says who keeps the refusal-of-service register and for
	// how long an entry runs (register.go).
	Register Register
	// Directory reads the directory groups the organisation names
	// (directory.go); nil when it names none.
	Directory *Directory
	// Platform is where messages to people who never wrote to Mamori go
	// (training reminders); default Slack.
	Platform string
	// Kick, when set, is called after a commit that enqueued messages,
	// to wake the outbox worker early. The row is what counts.
	Kick func()

	failures atomic.Int64 // inputs that could not be stored
}

// Failures counts the inputs Handle could not store (the database
// refused the write): each got an apology, and /metrics shows the count.
func (s *Service) Failures() int64 { return s.failures.Load() }

// NewService returns a Service keeping its state in store, for policy
// and org, with the defaults: a nil clock is time.Now, a nil log discards,
// and case numbers take their year in Asia/Tokyo (UTC+9 where the zone
// database is missing). The caller sets the other fields.
func NewService(store mamori.Store, policy *mamori.Policy, org *mamori.Org, clock mamori.Clock, log *slog.Logger) *Service {
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		loc = time.FixedZone("JST", 9*60*60)
	}
	return &Service{Store: store, Policy: policy, Org: org, Clock: clock, Log: log, Location: loc}
}

func (s *Service) env(now time.Time) Env {
	return Env{Policy: s.Policy, Org: s.Org, Now: now, Location: s.Location}
}

func (s *Service) orgLang() mamori.Lang {
	if s.Org.Lang == mamori.EN {
		return mamori.EN
	}
	return mamori.JA
}

// Job kinds.
const (
	jobRemind   = "conversation.remind"
	jobTake     = "case.take_reminder"
	jobEscalate = "case.escalate"
	jobJudgeDue = "case.judge_reminder"
)

// Deadlines are how long a case may wait.
type Deadlines struct {
	Take, Judge             time.Duration
	UrgentTake, UrgentJudge time.Duration
}

// For returns the take and judge deadlines for an urgency.
func (d Deadlines) For(urgency string) (take, judge time.Duration) {
	or := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	if urgency == mamori.UrgencyUrgent {
		return or(d.UrgentTake, time.Hour), or(d.UrgentJudge, 4*time.Hour)
	}
	return or(d.Take, 24*time.Hour), or(d.Judge, 72*time.Hour)
}

type casePayload struct {
	Number string `json:"number"`
	Round  int    `json:"round"`
	// From is when the escalation chain began: the case's receipt, or
	// its reopening (zero in a chain scheduled before it was kept).
	From time.Time `json:"from,omitzero"`
}

// lastReopened is when case k was last reopened (zero if never).
func lastReopened(k mamori.Case) time.Time {
	var at time.Time
	if k.Decision != nil {
		for _, h := range k.Decision.History {
			if h.Reopened.After(at) {
				at = h.Reopened
			}
		}
	}
	return at
}

// scheduleDeadlines adds the reminder and the escalation for case k,
// counted from now.
func (s *Service) scheduleDeadlines(tx mamori.Tx, k mamori.Case, now time.Time, takeToo bool) error {
	take, judge := s.Deadlines.For(k.Urgency)
	if takeToo {
		p, _ := json.Marshal(casePayload{Number: k.Number})
		if err := tx.Schedule(mamori.Job{Key: jobTake + ":" + k.Number, Kind: jobTake, Due: now.Add(take), Payload: p}); err != nil {
			return err
		}
	}
	p, _ := json.Marshal(casePayload{Number: k.Number, Round: 1, From: now})
	// The one who has it hears first, with a quarter of the time left
	// (found by a trial: HR heard before they did).
	if err := tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:%d", jobJudgeDue, k.Number, now.UnixNano()), Kind: jobJudgeDue,
		Due: now.Add(judge * 3 / 4), Payload: p}); err != nil {
		return err
	}
	return tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:%d", jobEscalate, k.Number, now.UnixNano()), Kind: jobEscalate, Due: now.Add(judge), Payload: p})
}

// runDeadline reminds or escalates a case that has not moved. A case
// that moved makes the job do nothing: reminders stop at once.
func (s *Service) runDeadline(ctx context.Context, j mamori.Job, now time.Time) error {
	var p casePayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	return s.jobUpdate(ctx, j, now, func(tx mamori.Tx) error {
		k, err := tx.Case(p.Number)
		if errors.Is(err, mamori.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		l := s.orgLang()
		take, judge := s.Deadlines.For(k.Urgency)
		var m mamori.Message
		target := s.channel(k.Reporter.Platform, k.Channel)
		switch j.Kind {
		case jobTake:
			if k.Status != mamori.StatusNew {
				return nil
			}
			// Taken from here with one click: the card may be far up the
			// channel by now.
			m = mamori.Message{Ref: lateTakeRef(k.Number), Step: mamori.StepCard, Header: fmt.Sprintf(s.Policy.T(l, "deadline.take.header"), k.Number),
				Text: fmt.Sprintf(s.Policy.T(l, "deadline.take.text"), hours(take)), Urgent: k.Urgency == mamori.UrgencyUrgent,
				Choices: []mamori.Choice{{Value: mamori.CardTake + ":" + k.Number, Label: s.Policy.T(l, "card.take"), Style: mamori.StylePrimary},
					detailsChoice(s.Policy, l, k.Number)}}
		case jobJudgeDue:
			if k.Assignee == "" || k.Status == mamori.StatusJudged || k.Status == mamori.StatusClosed ||
				!p.From.IsZero() && lastReopened(k).After(p.From) {
				return nil // nobody has it yet (the take reminder's), decided, or reopened since
			}
			who := assigneeUser(k)
			if l, err = s.personLang(tx, who); err != nil {
				return err
			}
			due := p.From.Add(judge)
			if p.From.IsZero() {
				due = k.Created.Add(judge)
			}
			m = mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(s.Policy.T(l, "deadline.judge_due.header"), k.Number),
				Text: fmt.Sprintf(s.Policy.T(l, "deadline.judge_due"), s.when(due, l)),
				Choices: []mamori.Choice{{Value: mamori.CardJudge + ":" + k.Number, Label: s.Policy.T(l, "card.judge"), Style: mamori.StylePrimary},
					detailsChoice(s.Policy, l, k.Number)}}
			target = mamori.Target{Platform: who.Platform, Kind: mamori.TargetUser, ID: who.ID}
		case jobEscalate:
			reopened := lastReopened(k)
			if k.Status == mamori.StatusJudged || !p.From.IsZero() && reopened.After(p.From) {
				return nil // decided, or reopened since: the reopening's own chain counts
			}
			waited := now.Sub(k.Created)
			// A report that came straight to HR is HR's own to decide:
			// there is no department to ask, and its supervisors may not
			// see it.
			text, note := "deadline.escalate.text", "card.note"
			if k.Route == mamori.RouteHR {
				text, note = "deadline.escalate.text.hr", "card.note.hr"
			}
			if !reopened.IsZero() {
				text, waited = text+".reopened", now.Sub(reopened)
			}
			// HR may not be in the department's channel: the case is
			// opened from here (details; HR may see every case).
			m = mamori.Message{Ref: lateJudgeRef(k.Number, p.From, p.Round), Urgent: true, Step: mamori.StepCard,
				Header: fmt.Sprintf(s.Policy.T(l, "deadline.escalate.header"), k.Number),
				Text: fmt.Sprintf(s.Policy.T(l, text), hours(waited), departmentName(s.env(now), k.Department, l),
					s.Policy.T(l, "status."+k.Status)),
				Note:    s.Policy.T(l, note),
				Choices: []mamori.Choice{detailsChoice(s.Policy, l, k.Number)}}
			if k.Assignee != "" {
				// Whom to ask: the one who has it.
				m.Text += "\n" + fmt.Sprintf(s.Policy.T(l, "deadline.assignee"), mention(k.Assignee))
			}
			target = s.channel(k.Reporter.Platform, s.Org.HRChannel)
			// Again, until someone decides.
			next, _ := json.Marshal(casePayload{Number: k.Number, Round: p.Round + 1, From: p.From})
			// The key names the round, so a job run twice (its worker died
			// before marking it done) does not fork the chain.
			if err := tx.Schedule(mamori.Job{Key: fmt.Sprintf("%s:%s:round:%d", jobEscalate, k.Number, p.Round+1),
				Kind: jobEscalate, Due: now.Add(judge), Payload: next}); err != nil {
				return err
			}
		}
		if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: j.Kind, Subject: k.Number,
			Detail: fmt.Sprintf("round=%d status=%s", p.Round, k.Status)}); err != nil {
			return err
		}
		return tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("job:%d", j.ID), Target: target, Message: m, Lang: l, Created: now})
	})
}

// lateTakeRef and lateJudgeRef name the reminder that nobody has taken
// case number, and the round of the escalation chain begun at from that
// it is not decided: updated once it is (tidyLate).
func lateTakeRef(number string) string { return "late:take:" + number }
func lateJudgeRef(number string, from time.Time, round int) string {
	return fmt.Sprintf("late:judge:%s:%d:%d", number, from.UnixMilli(), round)
}

// tidyLate updates the reminders of case k that its last step answered
// (found by a trial: HR saw red cards for cases long decided): "nobody
// has taken it" once it is taken, each round of "not decided" once it
// is. Only what was posted is updated (Message.Tidy).
func (s *Service) tidyLate(tx mamori.Tx, now time.Time, k mamori.Case) error {
	l := s.orgLang()
	take, judge := s.Deadlines.For(k.Urgency)
	put := func(to string, m mamori.Message) error {
		m.Tidy, m.Step = true, mamori.StepCard
		return tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("tidy:%s:%d", m.Ref, now.UnixNano()), Target: s.channel(k.Reporter.Platform, to),
			Message: m, Lang: l, Created: now})
	}
	if k.Taken.Equal(now) && !k.Created.Add(take).After(now) {
		if err := put(k.Channel, mamori.Message{Ref: lateTakeRef(k.Number), Header: fmt.Sprintf(s.Policy.T(l, "deadline.taken.header"), k.Number),
			Text: fmt.Sprintf(s.Policy.T(l, "deadline.assignee"), mention(k.Assignee))}); err != nil {
			return err
		}
	}
	if k.Status != mamori.StatusJudged || !k.Judged.Equal(now) || judge <= 0 {
		return nil
	}
	from := lastReopened(k)
	if from.IsZero() {
		from = k.Created
	}
	for r := 1; r <= 100 && !from.Add(time.Duration(r)*judge).After(now); r++ {
		if err := put(s.Org.HRChannel, mamori.Message{Ref: lateJudgeRef(k.Number, from, r),
			Header:  fmt.Sprintf(s.Policy.T(l, "deadline.decided.header"), k.Number),
			Text:    fmt.Sprintf(s.Policy.T(l, "deadline.decided"), s.Policy.T(l, "decision."+k.Decision.Outcome)),
			Choices: []mamori.Choice{detailsChoice(s.Policy, l, k.Number)}}); err != nil {
			return err
		}
	}
	return nil
}

// jobUpdate runs a job's work in one transaction that also records the
// run, so a job whose worker died after the commit but before marking it
// done, and which runs again after its lease, does nothing the second
// time.
func (s *Service) jobUpdate(ctx context.Context, j mamori.Job, now time.Time, fn func(mamori.Tx) error) error {
	return s.Store.Update(ctx, func(tx mamori.Tx) error {
		if fresh, err := tx.Seen(fmt.Sprintf("job:%d", j.ID), now); err != nil || !fresh {
			return err
		}
		return fn(tx)
	})
}

type deliveryKey struct{}

// WithDelivery returns ctx carrying the platform's id for one delivery
// of an action (a Slack view submission's trigger_id): Take, Judge,
// Reopen, Ask and CareAction given the same id again — a platform
// redelivering what it thinks was lost, as Slack's Socket Mode does — do
// nothing more and answer as the first time did.
func WithDelivery(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, deliveryKey{}, id)
}

// deliveredBefore records ctx's delivery id, if any, in tx and reports
// whether it had been recorded already.
func deliveredBefore(ctx context.Context, tx mamori.Tx, now time.Time) (bool, error) {
	id, _ := ctx.Value(deliveryKey{}).(string)
	if id == "" {
		return false, nil
	}
	fresh, err := tx.Seen("action:"+id, now)
	return !fresh, err
}

// errRefused rolls back an action that was refused, keeping the reply.
var errRefused = errors.New("refused")

// hours says a duration in whole hours, at least one.
func hours(d time.Duration) int { return max(1, int(d.Round(time.Hour)/time.Hour)) }

// scheduleRemind schedules the reminder to come back to a report left
// unfinished, a day (RemindAfter) after last, unless one is pending.
func (s *Service) scheduleRemind(tx mamori.Tx, u mamori.User, last time.Time) error {
	after := s.RemindAfter
	if after == 0 {
		after = 24 * time.Hour
	}
	payload, _ := json.Marshal(remindPayload{User: u, Updated: last})
	return tx.Schedule(mamori.Job{Key: jobRemind + ":" + u.Key(), Kind: jobRemind, Due: last.Add(after), Payload: payload})
}

type remindPayload struct {
	User    mamori.User `json:"user"`
	Updated time.Time   `json:"updated"`
}

// reply keeps a reporter's answer in the case's confidential record, with
// the question it answers, and tells the case thread that an answer came
// — only that: the channel may hold people who may not see the case, so
// the answer itself is read behind "view details".
func (s *Service) reply(tx mamori.Tx, now time.Time, u mamori.User, r *Reply) error {
	k, err := tx.Case(r.Number)
	if err != nil {
		return err
	}
	if k.Reporter.Key() != u.Key() {
		return fmt.Errorf("reply to %s: %w", r.Number, mamori.ErrForbidden)
	}
	if k.Decision == nil {
		k.Decision = &mamori.Decision{}
	}
	qs := k.Decision.Questions
	// The answer goes with the question whose "Answer" was pressed, or
	// else the newest one still open (the one they read last: typed
	// words sent with "send as my answer" answer it); a second answer to
	// one already answered (its button pressed again) adds to it.
	i := len(qs) - 1
	for j := len(qs) - 1; j >= 0; j-- {
		if qs[j].Answer == "" {
			i = j
			break
		}
	}
	if r.Question > 0 && r.Question <= len(qs) {
		i = r.Question - 1
	}
	if i < 0 { // asked before questions were kept
		qs, i = append(qs, mamori.Question{At: now}), 0
	}
	qs[i].Answer = strings.TrimSpace(qs[i].Answer + "\n\n" + r.Text)
	qs[i].Answered = now
	k.Decision.Questions = qs
	k.Updated = now
	if err := tx.UpdateCase(k); err != nil {
		return err
	}
	l := s.orgLang()
	text, header := "reply.notice", "reply.header"
	if k.Route == mamori.RouteHR {
		text = "reply.notice.hr"
	}
	if k.Kind == mamori.KindConsult {
		text, header = "reply.notice.consult", "reply.header.consult"
	}
	// The card no longer waits for the answer.
	card, err := s.card(tx, s.env(now), k, l)
	if err != nil {
		return err
	}
	if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":card:" + k.Number, Target: s.channel(k.Reporter.Platform, k.Channel),
		Message: card, Lang: l, Created: now}); err != nil {
		return err
	}
	m := mamori.Message{Step: mamori.StepCard, Header: fmt.Sprintf(s.Policy.T(l, header), k.Number), Text: s.Policy.T(l, text),
		Choices: []mamori.Choice{{Value: mamori.CardDetails + ":" + k.Number, Label: s.Policy.T(l, "reply.read"), Style: mamori.StylePrimary}}}
	t := s.channel(k.Reporter.Platform, k.Channel)
	t.Thread = "card:" + k.Number
	if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":reply:" + k.Number, Target: t, Message: m, Lang: l, Created: now}); err != nil {
		return err
	}
	return tx.Audit(mamori.AuditEntry{At: now, Actor: u.Key(), Action: "case.reply", Subject: k.Number, Detail: fmt.Sprintf("question=%d", i+1)})
}

// channel targets a configured channel on platform.
func (s *Service) channel(platform, id string) mamori.Target {
	return mamori.Target{Platform: platform, Kind: mamori.TargetChannel, ID: id}
}

// replyKey makes the outbox key of the n-th reply to in: made from a
// platform delivery (which Handle records with Seen first, so a retry adds
// nothing), random otherwise; either way a mamori.FreshKey.
func replyKey(in mamori.Input, n int) string {
	id := in.Delivery
	if id == "" {
		var b [12]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return fmt.Sprintf("%s%s:%d", mamori.FreshKey, id, n)
}

// file numbers and stores conversation c as a case, with its audit entry.
func (s *Service) file(tx mamori.Tx, env Env, c mamori.Conversation) (mamori.Case, error) {
	kind := mamori.KindReport
	if c.Flow == mamori.FlowConsult {
		kind = mamori.KindConsult
	}
	year := s.local(env.Now).Year()
	seq, err := tx.NextNumber(kind, year)
	if err != nil {
		return mamori.Case{}, err
	}
	k := BuildCase(env, c, Number(kind, year, seq))
	if err := tx.InsertCase(k); err != nil {
		return mamori.Case{}, err
	}
	if k.Kind == mamori.KindReport {
		if err := s.scheduleDeadlines(tx, k, env.Now, true); err != nil {
			return mamori.Case{}, err
		}
		if err := s.scheduleCheckins(tx, k, env.Now); err != nil {
			return mamori.Case{}, err
		}
	}
	detail := "route=" + k.Route + " urgency=" + k.Urgency
	if k.Answers.FromConsultation != "" {
		detail += " from=" + k.Answers.FromConsultation
	}
	if n := k.Answers.FromSOS; n != "" {
		detail += " from=" + n
		if sos, err := tx.Case(n); err == nil && sos.Kind == mamori.KindSOS && sos.Reporter.Key() == k.Reporter.Key() {
			sosRecord(&sos).Report = k.Number
			if err := tx.UpdateCase(sos); err != nil {
				return mamori.Case{}, err
			}
		} else if err != nil && !errors.Is(err, mamori.ErrNotFound) {
			return mamori.Case{}, err
		}
	}
	return k, tx.Audit(mamori.AuditEntry{At: env.Now, Actor: c.User.Key(), Action: kind + ".submitted", Subject: k.Number, Detail: detail})
}

// mayView reports whether viewer may see case k's confidential detail.
func (s *Service) mayView(viewer mamori.User, k mamori.Case) bool {
	if viewer.Key() == k.Reporter.Key() || s.Org.IsHR(viewer) {
		return true
	}
	if k.Kind == mamori.KindSOS {
		return s.responder(viewer, k)
	}
	// A supervisor the report names may not read it (found by a
	// re-trial: he could read who reported him, and what they said).
	return k.Kind == mamori.KindReport && k.Route == mamori.RouteDepartment && s.Org.IsSupervisor(viewer, k.Department) &&
		!mentions(k.Answers, viewer.ID, viewer.Email) && !mentionsName(k.Answers, viewer.Name)
}

// seesHealth reports whether viewer, who may view case k, may also see
// how the reporter feels and whether they want to talk: the reporter and
// HR, who follows them up — not the line supervisor.
func (s *Service) seesHealth(viewer mamori.User, k mamori.Case) bool {
	return viewer.Key() == k.Reporter.Key() || s.Org.IsHR(viewer)
}

// CaseDetails returns the confidential detail of a case for viewer, who
// must be the reporter, a supervisor of the case's department, or HR.
// Otherwise it returns a polite refusal message and mamori.ErrForbidden.
// Both are audited.
func (s *Service) CaseDetails(ctx context.Context, viewer mamori.User, number string) (mamori.Message, error) {
	now := s.Clock()
	l := viewer.Lang
	var m mamori.Message
	var result error
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		m, result = mamori.Message{}, nil
		k, err := tx.Case(number)
		if errors.Is(err, mamori.ErrNotFound) {
			m, result = text(s.Policy.T(l, "details.not_found")), err
			return nil
		} else if err != nil {
			return err
		}
		action := "case.viewed"
		if s.mayView(viewer, k) {
			m = detailsFor(s.env(now), k, l, s.Location, s.seesHealth(viewer, k), viewer.Key() != k.Reporter.Key())
			// The reports about the same customer the viewer may know of
			// (the reporter is told of none).
			if viewer.Key() != k.Reporter.Key() {
				same, err := s.sameCustomerField(tx, viewer, k, l)
				if err != nil {
					return err
				}
				m.Fields = append(m.Fields, same...)
			}
			// HR's own records, for whoever of HR takes over: the
			// contacts noted on its care tasks, and a legal hold's reason.
			if s.Org.IsHR(viewer) && viewer.Key() != k.Reporter.Key() {
				records, err := s.hrRecords(tx, k, l)
				if err != nil {
					return err
				}
				m.Fields = append(m.Fields, records...)
			}
		} else {
			action = "case.view_refused"
			refused := "details.refused"
			if k.Route == mamori.RouteHR {
				refused = "details.refused.hr"
			}
			m, result = text(s.Policy.T(l, refused)), mamori.ErrForbidden
		}
		return tx.Audit(mamori.AuditEntry{At: now, Actor: viewer.Key(), Action: action, Subject: number})
	})
	if err != nil {
		return text(s.Policy.T(l, "error")), fmt.Errorf("case details: %w", err)
	}
	return m, result
}

// Home returns the App Home content for u: the start buttons, a report in
// progress, and u's own cases.
func (s *Service) Home(ctx context.Context, u mamori.User) (mamori.Message, error) {
	l := u.Lang
	t := s.Policy.T
	m := menu(s.env(s.Clock()), l, false)
	m.Header = t(l, "home.header")
	m.Text = t(l, "home.text")
	err := s.Store.View(ctx, func(tx mamori.Tx) error {
		c, err := tx.Conversation(u.Key())
		if err == nil && c.Flow != "" {
			m.Text += "\n\n" + t(l, "home.in_progress")
			m.Choices[0].Label = t(l, "home.resume")
		} else if err != nil && !errors.Is(err, mamori.ErrNotFound) {
			return err
		}
		cases, err := tx.CasesOf(u.Key())
		if err != nil {
			return err
		}
		now := s.Clock()
		for _, k := range cases {
			m.Fields = append(m.Fields, mamori.Field{
				Label: k.Number,
				Value: s.local(k.Created).Format("2006-01-02") + " · " + t(l, "status."+k.Status) + "\n" + s.nextStep(k, now, l),
			})
		}
		// Supervisors see their departments' open cases, HR all of them,
		// oldest first with the overdue marked.
		var f *mamori.CaseFilter
		title := "home.department_cases"
		if s.Org.IsHR(u) {
			f, title = &mamori.CaseFilter{Open: true, Limit: 50}, "home.all_cases"
		} else if ids := s.Org.Supervises(u); len(ids) > 0 {
			// More read than shown: those they may not see are left out.
			f = &mamori.CaseFilter{Open: true, Departments: ids, Limit: 500}
		}
		if f == nil {
			return nil
		}
		all, err := tx.Cases(*f)
		if err != nil {
			return err
		}
		// A closed consultation or SOS (the employee said they are
		// safe) is not open, though not judged either.
		var open []mamori.Case
		for _, k := range all {
			// Only what they may see: a supervisor never sees a report
			// sent to HR alone, nor a consultation.
			if k.Status != mamori.StatusClosed && s.mayView(u, k) && len(open) < 50 {
				open = append(open, k)
			}
		}
		if len(cases) == 0 {
			m.Fields = append(m.Fields, mamori.Field{Label: t(l, "home.cases"), Value: t(l, "home.no_cases")})
		}
		m.Fields = append(m.Fields, mamori.Field{Label: t(l, title), Value: ""})
		if len(open) == 0 {
			m.Fields[len(m.Fields)-1].Value = t(l, "home.no_open")
		}
		for _, k := range open {
			if k.Kind == mamori.KindSOS {
				m.Fields = append(m.Fields, mamori.Field{Label: k.Number, Value: s.sosOpenLine(k, l)})
				continue
			}
			_, judge := s.Deadlines.For(k.Urgency)
			v := s.local(k.Created).Format("2006-01-02") + " · " + t(l, "status."+k.Status) + " · " + t(l, "urgency."+k.Urgency)
			if now.Sub(k.Created) > judge {
				v += " · " + t(l, "home.overdue")
			}
			m.Fields = append(m.Fields, mamori.Field{Label: k.Number, Value: v})
		}
		return nil
	})
	if err != nil {
		return mamori.Message{}, fmt.Errorf("home: %w", err)
	}
	// Supervisors see their departments' training completion, HR all.
	var depts []string
	if !s.Org.IsHR(u) {
		depts = s.Org.Supervises(u)
	}
	if s.Org.IsHR(u) || len(depts) > 0 {
		rows, err := s.TrainingReport(ctx, depts, l)
		if err != nil {
			return mamori.Message{}, fmt.Errorf("home: %w", err)
		}
		if len(rows) > 0 {
			m.Fields = append(m.Fields, mamori.Field{Label: t(l, "home.training"), Value: ""})
		}
		for _, r := range rows {
			m.Fields = append(m.Fields, mamori.Field{Label: r.Name + " · " + r.Department,
				Value: fmt.Sprintf(t(l, "home.training.row"), r.Done, r.Assigned, r.Overdue)})
		}
	}
	if len(m.Fields) == 0 {
		m.Fields = []mamori.Field{{Label: t(l, "home.cases"), Value: t(l, "home.no_cases")}}
	}
	return m, nil
}

// RunJob does one due job. It is idempotent: a job run twice sends once.
func (s *Service) RunJob(ctx context.Context, j mamori.Job) error {
	now := s.Clock()
	switch j.Kind {
	case jobSOS:
		return s.runSOS(ctx, j, now)
	case jobRemind:
		var p remindPayload
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			return fmt.Errorf("job %d: %w", j.ID, err)
		}
		return s.jobUpdate(ctx, j, now, func(tx mamori.Tx) error {
			c, err := tx.Conversation(p.User.Key())
			if errors.Is(err, mamori.ErrNotFound) || (err == nil && c.Flow == "") {
				return nil // finished or cancelled
			}
			if err != nil {
				return err
			}
			if c.Updated.After(p.Updated) {
				// Moved on since it was scheduled: due a day after the
				// last step instead. This job is done; its successor takes
				// its key.
				if err := tx.CancelJobs(j.Key); err != nil {
					return err
				}
				return s.scheduleRemind(tx, c.User, c.Updated)
			}
			if w := s.Care.WorkingTime(now, s.Location); w.After(now) {
				// Out of working hours: the reminder waits for the morning,
				// as the check-ins do. Its successor takes its key.
				if err := tx.CancelJobs(j.Key); err != nil {
					return err
				}
				return tx.Schedule(mamori.Job{Key: j.Key, Kind: jobRemind, Due: w, Payload: j.Payload})
			}
			m := s.reminder(c, now)
			l := c.User.Lang
			if c.Step != stepResume {
				c.History = append(c.History, c.Step)
				c.Step = stepResume
			}
			c.Paused = false
			if err := tx.PutConversation(c); err != nil {
				return err
			}
			return tx.Enqueue(mamori.OutboxItem{Key: fmt.Sprintf("job:%d", j.ID), Lang: l, Created: now,
				Target: mamori.Target{Platform: c.User.Platform, Kind: mamori.TargetUser, ID: c.User.ID}, Message: m})
		})
	case jobTake, jobEscalate, jobJudgeDue:
		return s.runDeadline(ctx, j, now)
	case jobCheckin:
		return s.jobUpdate(ctx, j, now, func(tx mamori.Tx) error { return s.runCheckin(tx, j, now) })
	case jobTraining:
		return s.runTraining(ctx, j, now)
	case jobProgress:
		return s.runProgress(ctx, j, now)
	case jobStats:
		return s.runStats(ctx, j, now)
	case jobCareRemind:
		return s.jobUpdate(ctx, j, now, func(tx mamori.Tx) error { return s.runCareRemind(tx, j, now) })
	case jobRetention:
		return s.runRetention(ctx, j, now)
	case jobDraft:
		return s.runDraftExpiry(ctx, j, now)
	case jobCheckpoint:
		return s.runCheckpoint(ctx, j, now)
	case jobDirectory:
		return s.runDirectory(ctx, j, now)
	}
	s.Log.Warn("unknown job kind", "kind", j.Kind, "id", j.ID)
	return nil
}

// nextStep tells the reporter of case k what happens next, and by when
// where the deadlines say: "担当者が決まるのを待っています（12月6日（土）ごろまでに）".
func (s *Service) nextStep(k mamori.Case, now time.Time, l mamori.Lang) string {
	t := s.Policy.T
	if k.Kind == mamori.KindConsult {
		return t(l, "home.next.consult")
	}
	if k.Kind == mamori.KindSOS {
		return s.sosNext(k, l)
	}
	if k.Status != mamori.StatusJudged && k.Decision != nil {
		for _, q := range k.Decision.Questions {
			if q.Answer == "" {
				return t(l, "home.next.question")
			}
		}
	}
	route := func(key string) string {
		if k.Route == mamori.RouteHR {
			return key + ".hr"
		}
		return key
	}
	by := s.day
	if k.Urgency == mamori.UrgencyUrgent {
		by = s.when
	}
	take, judge := s.Deadlines.For(k.Urgency)
	// The deadlines count from the filing until the first decision; a
	// reopened case has no date to promise.
	takeBy, judgeBy := k.Created.Add(take), k.Created.Add(judge)
	switch {
	case k.Status == mamori.StatusJudged:
		return t(l, "home.next.judged")
	case k.Status == mamori.StatusMoreInfo:
		return t(l, "home.next.more_info")
	case k.Status == mamori.StatusReopened || !k.Judged.IsZero():
		return t(l, "home.next.reopened")
	case !judgeBy.After(now):
		return t(l, route("home.next.late"))
	case k.Status == mamori.StatusNew && takeBy.After(now):
		return fmt.Sprintf(t(l, route("home.next.new")), by(takeBy, l))
	case k.Status == mamori.StatusNew:
		return fmt.Sprintf(t(l, route("home.next.waiting")), by(judgeBy, l))
	default:
		return fmt.Sprintf(t(l, "home.next.taken"), by(judgeBy, l))
	}
}
