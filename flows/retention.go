package flows

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mamori-oss/mamori"
)

// Retention (issue 15). A case is kept for its rule's period after it
// closes — a report once judged, a consultation or an SOS once closed —
// and a daily job then deletes its content: the answers, the decision's
// text, the evidence links, the care notes and the messages still in the
// outbox. What remains is a tombstone (number, dates, kind, outcome,
// department), so the statistics and the audit trail stay whole. An open
// case never expires; a case HR put on legal hold is kept until released;
// HR is told a month ahead, with a button to hold it. An employee may ask
// for a consultation they closed to be deleted early, and HR decides.
//
// The same job keeps the tables that grow with every request bounded:
// delivery ids past the platforms' redelivery windows, sent messages and
// finished jobs after a week. A conversation kept only for what someone
// typed at the menu is cleared 30 days after their last message, by a job
// of its own (jobDraft).

// jobRetention is the daily pass.
const jobRetention = "retention.daily"

// Retention says how long what Mamori keeps is kept.
type Retention struct {
	// Report, Consultation, CareTask and SOS are how long each is kept
	// after it closes; zero is DefaultKeep.
	Report, Consultation, CareTask, SOS Period
	// Outcomes are the periods of judged reports by outcome, in place of
	// Report.
	Outcomes map[string]Period
	// Notice is how long before a case is due HR is told, with a button
	// to hold it: zero is 30 days, negative never.
	Notice time.Duration
	// Seen, Sent, Failed and Jobs are how long platform delivery ids,
	// sent messages, messages that could not be delivered and finished
	// jobs are kept: zero is 1 day (Slack retries within minutes, and
	// refuses a request signed more than 5 minutes before; Socket Mode
	// and Teams redeliver within the hour), 7 days, 90 days (HR was told
	// of each at the time; a purged case takes its own with it at once)
	// and 7 days.
	Seen, Sent, Failed, Jobs time.Duration
	// Drafts is how long a conversation kept only for what someone typed
	// at the menu (Conversation.Draft, filled in when they start a report
	// or ask for advice) is kept after their last message: zero is 30
	// days. A report left half-way is theirs to finish and is not cleared.
	Drafts time.Duration
}

// DefaultKeep is how long a case is kept after it closes unless
// configured otherwise: five years, as 労働基準法第109条 keeps the
// records of employment (three years for now under its 附則第143条).
var DefaultKeep = Period{Years: 5}

func (r Retention) notice() time.Duration { return or(r.Notice, 30*24*time.Hour) }
func (r Retention) seen() time.Duration   { return or(r.Seen, 24*time.Hour) }
func (r Retention) sent() time.Duration   { return or(r.Sent, 7*24*time.Hour) }
func (r Retention) failed() time.Duration { return or(r.Failed, 90*24*time.Hour) }
func (r Retention) jobs() time.Duration   { return or(r.Jobs, 7*24*time.Hour) }
func (r Retention) drafts() time.Duration { return or(r.Drafts, 30*24*time.Hour) }

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Period is a calendar length: five years after 2026-03-31 is 2031-03-31,
// whatever the leap days. Never keeps for good.
type Period struct {
	Years, Months, Days int
	Never               bool
}

// ParsePeriod reads a period as the configuration writes it: "5 years",
// "18 months", "90 days" (or 5y, 18mo, 90d; "1 year 6 months"), or
// "never".
func ParsePeriod(s string) (Period, error) {
	f := strings.Fields(strings.ToLower(s))
	if len(f) == 1 && f[0] == "never" {
		return Period{Never: true}, nil
	}
	// Split "5y" into "5" "y".
	var words []string
	for _, w := range f {
		i := strings.IndexFunc(w, func(r rune) bool { return !unicode.IsDigit(r) })
		if i > 0 {
			words = append(words, w[:i], w[i:])
		} else {
			words = append(words, w)
		}
	}
	bad := fmt.Errorf("period %q: want a number of years, months or days, such as \"5 years\", or \"never\"", s)
	if len(words) == 0 || len(words)%2 != 0 {
		return Period{}, bad
	}
	var p Period
	for i := 0; i < len(words); i += 2 {
		n, err := strconv.Atoi(words[i])
		if err != nil || n < 0 {
			return Period{}, bad
		}
		switch strings.TrimSuffix(words[i+1], "s") {
		case "y", "year":
			p.Years += n
		case "mo", "month":
			p.Months += n
		case "d", "day":
			p.Days += n
		default:
			return Period{}, bad
		}
	}
	if p.IsZero() {
		return Period{}, fmt.Errorf("period %q is nothing: a case would be deleted as it closes; give a length, or \"never\"", s)
	}
	return p, nil
}

// IsZero reports whether p is unset.
func (p Period) IsZero() bool { return p == Period{} }

func (p Period) orDefault() Period {
	if p.IsZero() {
		return DefaultKeep
	}
	return p
}

// String says p as the configuration writes it.
func (p Period) String() string {
	if p.Never {
		return "never"
	}
	var parts []string
	for _, u := range []struct {
		n    int
		name string
	}{{p.Years, "year"}, {p.Months, "month"}, {p.Days, "day"}} {
		switch {
		case u.n == 1:
			parts = append(parts, "1 "+u.name)
		case u.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", u.n, u.name))
		}
	}
	return strings.Join(parts, " ")
}

// say says p to a person in l.
func (s *Service) sayPeriod(p Period, l mamori.Lang) string {
	t := s.Policy.T
	if p.Never {
		return t(l, "retention.period.never")
	}
	var parts []string
	for _, u := range []struct {
		n   int
		key string
	}{{p.Years, "years"}, {p.Months, "months"}, {p.Days, "days"}} {
		if u.n > 0 {
			parts = append(parts, fmt.Sprintf(t(l, "retention.period."+u.key), u.n))
		}
	}
	sep := " "
	if l == mamori.JA {
		sep = ""
	}
	return strings.Join(parts, sep)
}

// after returns when p has passed since t, counted in days of loc.
func (p Period) after(t time.Time, loc *time.Location) time.Time {
	if loc != nil {
		t = t.In(loc)
	}
	return t.AddDate(p.Years, p.Months, p.Days)
}

// atLeast is a length p is never shorter than.
func (p Period) atLeast() time.Duration {
	return time.Duration(p.Years*365+p.Months*28+p.Days) * 24 * time.Hour
}

// KindCareTask is the Kind of a care task's Expiry.
const KindCareTask = "care_task"

// Expiry is when a closed case, or a closed care task, is due for
// deletion, and under which rule.
type Expiry struct {
	Number string // the case
	Task   int64  // a care task's id; 0 for the case itself
	Kind   string // mamori.KindReport, KindConsult, KindSOS or KindCareTask
	Closed time.Time
	Rule   string // "report", "report.kasuhara", "consultation", "sos", "care_task"
	Keep   Period
	Due    time.Time    // zero when Keep is Never
	Hold   *mamori.Hold // the case's legal hold
}

// Expired reports whether e may be deleted at at: past its rule and not
// held.
func (e Expiry) Expired(at time.Time) bool {
	return !e.Keep.Never && e.Hold == nil && !e.Due.After(at)
}

// Subject names what e is about in the audit trail and on screen: the
// case number, and the task.
func (e Expiry) Subject() string {
	if e.Task != 0 {
		return fmt.Sprintf("%s task %d", e.Number, e.Task)
	}
	return e.Number
}

// Closed returns when case k closed: a report when last judged, a
// consultation or an SOS when closed. ok is false for a case still open,
// and for one already purged.
func Closed(k mamori.Case) (at time.Time, ok bool) {
	if k.Purged() {
		return time.Time{}, false
	}
	d := k.Decision
	switch {
	case k.Kind == mamori.KindReport && k.Status == mamori.StatusJudged:
		return cmp.Or(k.Judged, decisionAt(d), k.Updated), true
	case k.Kind == mamori.KindConsult && k.Status == mamori.StatusClosed:
		return cmp.Or(decisionAt(d), k.Updated), true
	case k.Kind == mamori.KindSOS && k.Status == mamori.StatusClosed:
		var safe time.Time
		if d != nil && d.Emergency != nil {
			safe = d.Emergency.Safe
		}
		return cmp.Or(safe, k.Updated), true
	}
	return time.Time{}, false
}

func decisionAt(d *mamori.Decision) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.At
}

// expiry is case k's Expiry under the rules; ok is false for an open or
// purged case.
func (s *Service) expiry(k mamori.Case) (Expiry, bool) {
	closed, ok := Closed(k)
	if !ok {
		return Expiry{}, false
	}
	r := s.Retention
	e := Expiry{Number: k.Number, Kind: k.Kind, Closed: closed}
	if k.Decision != nil {
		e.Hold = k.Decision.Hold
	}
	switch k.Kind {
	case mamori.KindReport:
		e.Rule, e.Keep = "report", r.Report
		if d := k.Decision; d != nil {
			if p, ok := r.Outcomes[d.Outcome]; ok {
				e.Rule, e.Keep = "report."+d.Outcome, p
			}
		}
	case mamori.KindConsult:
		e.Rule, e.Keep = "consultation", r.Consultation
	case mamori.KindSOS:
		e.Rule, e.Keep = "sos", r.SOS
	default:
		return Expiry{}, false
	}
	e.Keep = e.Keep.orDefault()
	if !e.Keep.Never {
		e.Due = e.Keep.after(closed, s.Location)
	}
	return e, true
}

// taskExpiry is care task c's Expiry, with the hold of its case; ok is
// false for a task still open, and for one already purged (no reason).
func (s *Service) taskExpiry(c mamori.CareTask, hold *mamori.Hold) (Expiry, bool) {
	if c.Status != mamori.CareClosed || c.Reason == "" {
		return Expiry{}, false
	}
	e := Expiry{Number: c.Number, Task: c.ID, Kind: KindCareTask, Closed: c.Updated, Rule: "care_task",
		Keep: s.Retention.CareTask.orDefault(), Hold: hold}
	if !e.Keep.Never {
		e.Due = e.Keep.after(c.Updated, s.Location)
	}
	return e, true
}

// shortest is a length no rule is shorter than: a case created later
// than that before a moment cannot have expired by then.
func (r Retention) shortest() time.Duration {
	d := time.Duration(-1)
	for _, p := range append([]Period{r.Report, r.Consultation, r.CareTask, r.SOS}, mapValues(r.Outcomes)...) {
		if p = p.orDefault(); !p.Never && (d < 0 || p.atLeast() < d) {
			d = p.atLeast()
		}
	}
	return max(d, 0)
}

func mapValues(m map[string]Period) []Period {
	var out []Period
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

// RetentionPlan lists everything closed and not yet deleted, with when
// the rules delete it, soonest first (never last): what `mamori
// retention plan` shows. Up to at, only what may have expired by then is
// read: a zero at lists everything.
func (s *Service) RetentionPlan(ctx context.Context, at time.Time) ([]Expiry, error) {
	var plan []Expiry
	err := s.Store.View(ctx, func(tx mamori.Tx) error {
		var err error
		plan, err = s.plan(tx, at)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("retention plan: %w", err)
	}
	return plan, nil
}

func (s *Service) plan(tx mamori.Tx, at time.Time) ([]Expiry, error) {
	f := mamori.CaseFilter{}
	if !at.IsZero() {
		f.To = at.Add(-s.Retention.shortest()).Add(time.Millisecond)
	}
	cases, err := tx.Cases(f)
	if err != nil {
		return nil, err
	}
	var plan []Expiry
	holds := map[string]*mamori.Hold{}
	listed := map[string]bool{}
	for _, k := range cases {
		listed[k.Number] = true
		if k.Decision != nil && k.Decision.Hold != nil {
			holds[k.Number] = k.Decision.Hold
		}
		if e, ok := s.expiry(k); ok {
			plan = append(plan, e)
		}
	}
	tasks, err := tx.CareTasks(false)
	if err != nil {
		return nil, err
	}
	for _, c := range tasks {
		if !at.IsZero() && c.Created.After(f.To) {
			continue
		}
		hold := holds[c.Number]
		if !listed[c.Number] {
			// Its case is not in the list (created after f.To, which a
			// task created before is not): read it for its hold.
			if k, err := tx.Case(c.Number); err == nil && k.Decision != nil {
				hold = k.Decision.Hold
			}
		}
		if e, ok := s.taskExpiry(c, hold); ok {
			plan = append(plan, e)
		}
	}
	slices.SortStableFunc(plan, func(a, b Expiry) int {
		if a.Due.IsZero() != b.Due.IsZero() {
			return cmpBool(a.Due.IsZero(), b.Due.IsZero())
		}
		return cmp.Or(a.Due.Compare(b.Due), strings.Compare(a.Number, b.Number), cmp.Compare(a.Task, b.Task))
	})
	return plan, nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// PurgeReport is what a purge did.
type PurgeReport struct {
	Purged []Expiry // deleted, the tombstones kept
	Held   []Expiry // past their rule, kept for a legal hold
	Failed int      // could not be deleted (logged); the next run tries again
}

// Purge deletes, as of at, the content of every case and care task past
// its rule and not on legal hold, leaving the tombstones, and audits
// each deletion (case.purged, care.purged) with its rule and closing date
// as actor by. Nothing is deleted that is not past its rule at at.
func (s *Service) Purge(ctx context.Context, at time.Time, by string) (PurgeReport, error) {
	var rep PurgeReport
	plan, err := s.RetentionPlan(ctx, at)
	if err != nil {
		return rep, err
	}
	for _, e := range plan {
		if e.Keep.Never || e.Due.After(at) {
			continue
		}
		if e.Hold != nil {
			rep.Held = append(rep.Held, e)
			continue
		}
		done, err := s.purgeOne(ctx, e, at, by)
		switch {
		case err != nil:
			rep.Failed++
			s.Log.Error("retention: could not delete", "case", e.Number, "task", e.Task, "err", err)
		case done:
			rep.Purged = append(rep.Purged, e)
		}
	}
	if n := len(rep.Purged); n > 0 || rep.Failed > 0 {
		s.Log.Info("retention: deleted what was past its rule", "deleted", n, "held", len(rep.Held), "failed", rep.Failed)
	}
	return rep, nil
}

// purgeOne deletes e's case or care task if it is still past its rule
// and not held, read again in the transaction that deletes it.
func (s *Service) purgeOne(ctx context.Context, e Expiry, at time.Time, by string) (bool, error) {
	done := false
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		done = false
		k, err := tx.Case(e.Number)
		if err != nil {
			return err
		}
		now := s.Clock()
		if e.Task == 0 {
			cur, ok := s.expiry(k)
			if !ok || !cur.Expired(at) {
				return nil // reopened, held or purged since
			}
			if err := tx.PurgeCase(Tombstone(k, now)); err != nil {
				return err
			}
			// Who the customer was goes with what the report said.
			if err := tx.UnindexCustomer(k.Number); err != nil {
				return err
			}
			done = true
			return tx.Audit(mamori.AuditEntry{At: now, Actor: by, Action: "case.purged", Subject: k.Number, Detail: s.purgeDetail(cur)})
		}
		c, err := tx.CareTask(e.Task)
		if err != nil {
			return err
		}
		var hold *mamori.Hold
		if k.Decision != nil {
			hold = k.Decision.Hold
		}
		cur, ok := s.taskExpiry(c, hold)
		if !ok || !cur.Expired(at) {
			return nil
		}
		if err := tx.PurgeCareTask(c.ID); err != nil {
			return err
		}
		done = true
		return tx.Audit(mamori.AuditEntry{At: now, Actor: by, Action: "care.purged", Subject: c.Number,
			Detail: fmt.Sprintf("task=%d %s", c.ID, s.purgeDetail(cur))})
	})
	return done, err
}

// purgeDetail is a deletion's audit detail: the rule, how long it keeps,
// when the case closed and when it was due. Never what it said.
func (s *Service) purgeDetail(e Expiry) string {
	day := func(t time.Time) string { return s.local(t).Format("2006-01-02") }
	return fmt.Sprintf("rule=%s keep=%s closed=%s due=%s", e.Rule, strings.ReplaceAll(e.Keep.String(), " ", ""), day(e.Closed), day(e.Due))
}

// Tombstone is what stays of case k once its content is deleted at now:
// its number, kind, department, route and channel, its status, urgency,
// suggestion and behaviours (policy ids), its dates, the outcome or how
// a consultation closed, an SOS's timings and the contact channel (a
// category), which the statistics count — no person, no text, no file.
func Tombstone(k mamori.Case, now time.Time) mamori.Case {
	t := k
	t.Reporter, t.Assignee = mamori.User{}, ""
	t.Answers = mamori.Answers{Channel: k.Answers.Channel, FromConsultation: k.Answers.FromConsultation, FromSOS: k.Answers.FromSOS}
	d := &mamori.Decision{Purged: now}
	if o := k.Decision; o != nil {
		d.Outcome, d.At, d.Consultation = o.Outcome, o.At, o.Consultation
		if e := o.Emergency; e != nil {
			d.Emergency = &mamori.Emergency{Posted: e.Posted, Rounds: e.Rounds, Safe: e.Safe, Report: e.Report}
		}
	}
	t.Decision = d
	return t
}

// ScheduleRetention makes sure today's retention pass is scheduled, in
// working hours. It is idempotent: call it at start.
func (s *Service) ScheduleRetention(ctx context.Context) error {
	j := s.retentionJob(s.firstPass())
	if err := s.Store.Update(ctx, func(tx mamori.Tx) error { return tx.Schedule(j) }); err != nil {
		return fmt.Errorf("schedule retention: %w", err)
	}
	return nil
}

func (s *Service) retentionJob(due time.Time) mamori.Job {
	return mamori.Job{Key: jobRetention + ":" + s.local(due).Format("2006-01-02"), Kind: jobRetention, Due: due}
}

// runRetention is the daily pass: tomorrow's is scheduled first, so that
// a pass that fails does not stop the next; then what expired is
// deleted, HR is told of what is due within the notice, and the tables
// that grow with use are pruned. Each step may run again: a deleted case
// is not deleted twice, a notice is sent once, a pruned row is gone.
func (s *Service) runRetention(ctx context.Context, _ mamori.Job, now time.Time) error {
	next := s.retentionJob(s.Care.WorkingTime(s.startOfNextDay(now), s.Location))
	if err := s.Store.Update(ctx, func(tx mamori.Tx) error { return tx.Schedule(next) }); err != nil {
		return err
	}
	if _, err := s.Purge(ctx, now, "system"); err != nil {
		return err
	}
	// The register's entries expire, and HR hears of reviews due.
	if err := s.registerDaily(ctx, now); err != nil {
		return err
	}
	if err := s.notify(ctx, now); err != nil {
		return err
	}
	_, err := s.Prune(ctx, now)
	return err
}

// notify tells the HR channel of each case due for deletion within the
// notice, once, with a button to put it on legal hold.
func (s *Service) notify(ctx context.Context, now time.Time) error {
	notice := s.Retention.notice()
	if notice < 0 || s.Org.HRChannel == "" {
		return nil
	}
	plan, err := s.RetentionPlan(ctx, now.Add(notice))
	if err != nil {
		return err
	}
	for _, e := range plan {
		if e.Task != 0 || e.Hold != nil || e.Keep.Never || e.Due.After(now.Add(notice)) {
			continue
		}
		err := s.Store.Update(ctx, func(tx mamori.Tx) error {
			k, err := tx.Case(e.Number)
			if err != nil {
				return err
			}
			if k.Purged() || k.Decision == nil || !k.Decision.Noticed.IsZero() || k.Decision.Hold != nil {
				return nil
			}
			k.Decision.Noticed = now // the case's Updated stays: it is not a change of the case
			if err := tx.UpdateCase(k); err != nil {
				return err
			}
			if err := tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "case.purge_notice", Subject: k.Number,
				Detail: s.purgeDetail(e)}); err != nil {
				return err
			}
			return s.postNotice(tx, k, e, now)
		})
		if err != nil {
			s.Log.Error("retention: could not tell HR of a case due for deletion", "case", e.Number, "err", err)
		}
	}
	return nil
}

// noticeRef names the notice of case number's deletion, updated in place
// when it is held or released.
func noticeRef(number string) string { return "retention:" + number }

// postNotice puts the HR channel's notice of case k's deletion (e) in the
// outbox, or its update: with the button to hold it, or, held, who holds
// it and the button to release it.
func (s *Service) postNotice(tx mamori.Tx, k mamori.Case, e Expiry, now time.Time) error {
	l := s.orgLang()
	t := func(key string) string { return s.Policy.T(l, key) }
	m := mamori.Message{Ref: noticeRef(k.Number), Step: mamori.StepCard,
		Header: fmt.Sprintf(t("retention.notice.header"), k.Number, s.day(e.Due, l)),
		Text:   fmt.Sprintf(t("retention.notice.text"), t("retention.kind."+k.Kind), s.day(e.Closed, l), s.sayPeriod(e.Keep, l)),
		Fields: []mamori.Field{
			{Label: t("retention.notice.department"), Value: departmentName(s.env(now), k.Department, l)},
			{Label: t("retention.notice.due"), Value: s.day(e.Due, l)},
		},
		Note: t("retention.notice.note")}
	b := func(action, label, style string) mamori.Choice {
		return mamori.Choice{Value: action + ":" + k.Number, Label: t(label), Style: style}
	}
	if h := k.Decision.Hold; h != nil {
		m.Text = fmt.Sprintf(t("retention.notice.held"), mention(h.By), s.day(h.At, l))
		m.Choices = []mamori.Choice{b(mamori.CardRelease, "retention.release.button", ""), b(mamori.CardDetails, "card.details", "")}
	} else {
		m.Choices = []mamori.Choice{b(mamori.CardHold, "retention.hold.button", mamori.StylePrimary), b(mamori.CardDetails, "card.details", "")}
	}
	return tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":" + noticeRef(k.Number), Target: s.channel(s.platformOf(k), s.Org.HRChannel),
		Message: m, Lang: l, Created: now})
}

// platformOf is where case k's messages go: its reporter's platform,
// or, once the reporter is gone from it, Mamori's.
func (s *Service) platformOf(k mamori.Case) string {
	return cmp.Or(k.Reporter.Platform, s.platform())
}

// Prune deletes, as of now, what the tables that grow with every request
// keep only for a while (Retention.Seen, Sent, Failed, Jobs), a batch at a time,
// and audits how many rows went (retention.pruned).
func (s *Service) Prune(ctx context.Context, now time.Time) (mamori.Pruned, error) {
	r := s.Retention
	p := mamori.Prune{Seen: now.Add(-r.seen()), Sent: now.Add(-r.sent()), Failed: now.Add(-r.failed()), Jobs: now.Add(-r.jobs()),
		Limit: pruneBatch}
	var total mamori.Pruned
	for {
		var n mamori.Pruned
		if err := s.Store.Update(ctx, func(tx mamori.Tx) error {
			var err error
			n, err = tx.Prune(p)
			return err
		}); err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		total.Add(n)
		if n.Seen < p.Limit && n.Outbox < p.Limit && n.Jobs < p.Limit {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	if total == (mamori.Pruned{}) {
		return total, nil
	}
	s.Log.Info("retention: pruned", "seen", total.Seen, "outbox", total.Outbox, "jobs", total.Jobs)
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		return tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "retention.pruned", Subject: "store",
			Detail: fmt.Sprintf("seen=%d outbox=%d jobs=%d", total.Seen, total.Outbox, total.Jobs)})
	})
	return total, err
}

// pruneBatch is how many rows of each table one transaction prunes.
const pruneBatch = 1000

// jobDraft clears a conversation kept only for a draft typed at the menu,
// Retention.Drafts after the person's last message. Like the reminder to
// come back to a report, one is pending per person (scheduling it again
// leaves it as it is) and, when it falls due, it moves itself after the
// last message if there was one since.
const jobDraft = "conversation.draft_expiry"

// draftOnly reports whether conversation c keeps nothing but a draft
// typed at the menu or a check-in waiting for an answer.
func draftOnly(c mamori.Conversation) bool {
	d := c
	d.Draft, d.ReplyDraft, d.ReplyDraftFor, d.Checkin, d.CheckinAt = "", "", "", "", time.Time{}
	return (c.Draft != "" || c.ReplyDraft != "" || c.Checkin != "") && holdsNothing(d)
}

// scheduleDraftExpiry schedules clearing u's draft-only conversation, last
// updated at last; one already pending is left as it is.
func (s *Service) scheduleDraftExpiry(tx mamori.Tx, u mamori.User, last time.Time) error {
	payload, _ := json.Marshal(remindPayload{User: u, Updated: last})
	return tx.Schedule(mamori.Job{Key: jobDraft + ":" + u.Key(), Kind: jobDraft, Due: last.Add(s.Retention.drafts()), Payload: payload})
}

// runDraftExpiry deletes the conversation job j is about when it still
// keeps only its draft and nothing was sent since its time; a report or
// a question started since uses the draft, and keeps its own rules.
func (s *Service) runDraftExpiry(ctx context.Context, j mamori.Job, now time.Time) error {
	var p remindPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		return fmt.Errorf("job %d: %w", j.ID, err)
	}
	return s.jobUpdate(ctx, j, now, func(tx mamori.Tx) error {
		c, err := tx.Conversation(p.User.Key())
		if errors.Is(err, mamori.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if c.Flow != "" || c.Draft == "" && c.ReplyDraft == "" && c.Checkin == "" {
			return nil // used by a report or a question, or gone
		}
		if !draftOnly(c) {
			// Kept beside something else for now (an answer to send, an
			// open SOS): looked at again a period later.
			if err := tx.CancelJobs(j.Key); err != nil {
				return err
			}
			return s.scheduleDraftExpiry(tx, c.User, now)
		}
		if c.Updated.After(p.Updated) {
			// Written to since: due after the last message instead.
			if err := tx.CancelJobs(j.Key); err != nil {
				return err
			}
			return s.scheduleDraftExpiry(tx, c.User, c.Updated)
		}
		if err := tx.DeleteConversation(c.User.Key()); err != nil {
			return err
		}
		return tx.Audit(mamori.AuditEntry{At: now, Actor: "system", Action: "retention.draft_cleared", Subject: c.User.Key(),
			Detail: "since=" + c.Updated.UTC().Format(time.RFC3339)})
	})
}

// The legal hold and the early deletion, from the platform-neutral forms.

// holdForm asks HR why case a.Subject is to be kept past its rule.
func (s *Service) holdForm(ctx context.Context, actor mamori.User, a mamori.Action) (*mamori.Form, mamori.Message, error) {
	l := actor.Lang
	t := func(key string) string { return s.Policy.T(l, key) }
	var form *mamori.Form
	m, err := s.retentionAct(ctx, actor, a, func(tx mamori.Tx, k *mamori.Case, now time.Time) (string, error) {
		if err := s.mayHold(*k); err != nil {
			return "", err
		}
		f := mamori.Form{Action: a, Title: t("retention.hold.title"), Submit: t("retention.hold.submit"), Cancel: t("judge.modal.cancel"),
			Intro: fmt.Sprintf(t("retention.hold.intro"), k.Number), Note: t("retention.hold.note"),
			Fields: []mamori.FormField{{ID: fieldReason, Kind: mamori.FieldText, Label: t("retention.hold.label"),
				Hint: t("retention.hold.hint"), Required: true, Lines: 3, Max: MaxText}}}
		if e, ok := s.expiry(*k); ok {
			f.About = []mamori.Field{{Label: t("retention.notice.due"), Value: s.day(e.Due, l)}}
		}
		form = &f
		return "", errNoChange
	})
	if err != nil || m.Text != "" {
		form = nil // refused, or a run before the last one made it
	}
	return form, m, err
}

func (s *Service) mayHold(k mamori.Case) error {
	switch {
	case k.Purged():
		return refuse("", "retention.purged")
	case k.Decision.Held():
		return refuse("", "retention.hold.already")
	}
	return nil
}

// hold puts case number on legal hold for HR, with the reason.
func (s *Service) hold(ctx context.Context, actor mamori.User, a mamori.Action, reason string) (mamori.Message, error) {
	return s.retentionAct(ctx, actor, a, func(tx mamori.Tx, k *mamori.Case, now time.Time) (string, error) {
		if err := s.mayHold(*k); err != nil {
			return "", err
		}
		switch n := len([]rune(reason)); {
		case n == 0:
			return "", refuse(fieldReason, "retention.hold.empty")
		case n > MaxText:
			return "", refuse(fieldReason, "nav.too_long", MaxText)
		}
		if k.Decision == nil {
			k.Decision = &mamori.Decision{}
		}
		k.Decision.Hold = &mamori.Hold{Reason: reason, By: actor.Key(), At: now}
		// The reason stays in the sealed decision, out of the trail.
		return "", nil
	})
}

// release ends case number's legal hold for HR.
func (s *Service) release(ctx context.Context, actor mamori.User, a mamori.Action) (mamori.Message, error) {
	return s.retentionAct(ctx, actor, a, func(tx mamori.Tx, k *mamori.Case, now time.Time) (string, error) {
		if k.Purged() {
			return "", refuse("", "retention.purged")
		}
		if !k.Decision.Held() {
			return "", refuse("", "retention.hold.not_held")
		}
		h := k.Decision.Hold
		k.Decision.Hold = nil
		return fmt.Sprintf("held_by=%s held_since=%s", h.By, s.local(h.At).Format("2006-01-02")), nil
	})
}

// errNoChange ends a retentionAct that only read: nothing is stored,
// sent or audited.
var errNoChange = errors.New("no change")

// retentionAct runs one of HR's retention actions on case a.Subject in a
// transaction: only HR may (a refusal is audited), a platform's
// redelivery does it once, fn changes the case, and the case is stored
// with its Updated as it was (a hold is not a change of the case), the
// case card in the HR channel and the deletion notice updated in place,
// and the action audited ("case."+a.Kind).
func (s *Service) retentionAct(ctx context.Context, actor mamori.User, a mamori.Action,
	fn func(tx mamori.Tx, k *mamori.Case, now time.Time) (detail string, err error)) (mamori.Message, error) {
	now := s.Clock()
	l := actor.Lang
	var reply mamori.Message
	var result error
	done := text(fmt.Sprintf(s.Policy.T(l, "judge.done."+a.Kind), a.Subject))
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		reply, result = mamori.Message{}, nil
		k, err := tx.Case(a.Subject)
		if errors.Is(err, mamori.ErrNotFound) {
			reply, result = text(s.Policy.T(l, "details.not_found")), err
			return nil
		} else if err != nil {
			return err
		}
		if !s.Org.IsHR(actor) || actor.Key() == k.Reporter.Key() {
			reply, result = text(s.Policy.T(l, "retention.refused")), mamori.ErrForbidden
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "case." + a.Kind + "_refused", Subject: k.Number})
		}
		if again, err := deliveredBefore(ctx, tx, now); again || err != nil {
			reply = done
			return err
		}
		detail, err := fn(tx, &k, now)
		if errors.Is(err, errNoChange) {
			return err
		}
		if errors.Is(err, mamori.ErrInvalid) || errors.Is(err, mamori.ErrConflict) {
			reply, result = text(s.say(l, err)), err
			return errRefused
		} else if err != nil {
			return err
		}
		if err := tx.UpdateCase(k); err != nil {
			return err
		}
		if err := s.retentionUpdates(tx, k, now); err != nil {
			return err
		}
		reply = done
		return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "case." + a.Kind, Subject: k.Number, Detail: detail})
	})
	if errors.Is(err, errRefused) || errors.Is(err, errNoChange) {
		err = nil
	}
	if err != nil {
		return text(s.Policy.T(l, "error")), fmt.Errorf("case %s: %w", a.Kind, err)
	}
	if s.Kick != nil {
		s.Kick()
	}
	return reply, result
}

// retentionUpdates updates in place what shows case k's hold: its card,
// when it is in the HR channel (an SOS's alerts stay as they are), and
// the notice of its deletion, when one went out.
func (s *Service) retentionUpdates(tx mamori.Tx, k mamori.Case, now time.Time) error {
	if k.Purged() {
		return nil // its card and notice went with it; they stay as they were
	}
	ol := s.orgLang()
	if k.Kind != mamori.KindSOS && k.Channel != "" && k.Channel == s.Org.HRChannel {
		card, err := s.card(tx, s.env(now), k, ol)
		if err != nil {
			return err
		}
		if err := tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":card:" + k.Number,
			Target: s.channel(s.platformOf(k), k.Channel), Message: card, Lang: ol, Created: now}); err != nil {
			return err
		}
	}
	if k.Decision != nil && !k.Decision.Noticed.IsZero() {
		if e, ok := s.expiry(k); ok {
			return s.postNotice(tx, k, e, now)
		}
	}
	return nil
}

// holdFields are the lines a case card in the HR channel adds for a
// legal hold: who holds it since when (the reason stays behind the
// details).
func holdFields(env Env, k mamori.Case, l mamori.Lang, loc *time.Location) []mamori.Field {
	if k.Channel == "" || k.Channel != env.Org.HRChannel || !k.Decision.Held() {
		return nil
	}
	h := k.Decision.Hold
	at := h.At
	if loc != nil {
		at = at.In(loc)
	}
	return []mamori.Field{{Label: env.Policy.T(l, "retention.card.hold"),
		Value: fmt.Sprintf(env.Policy.T(l, "retention.card.hold.value"), mention(h.By), at.Format("2006-01-02"))}}
}

// holdChoices are the hold or release button of a closed case's card in
// the HR channel, where HR alone reads it. (A card in a department's
// channel has none: HR holds those from the deletion notice, a month
// ahead, or from the terminal.)
func holdChoices(env Env, k mamori.Case, l mamori.Lang) []mamori.Choice {
	if k.Channel == "" || k.Channel != env.Org.HRChannel || k.Kind == mamori.KindSOS {
		return nil
	}
	if k.Decision.Held() {
		return []mamori.Choice{{Value: mamori.CardRelease + ":" + k.Number, Label: env.Policy.T(l, "retention.release.button")}}
	}
	if _, closed := Closed(k); !closed {
		return nil
	}
	return []mamori.Choice{{Value: mamori.CardHold + ":" + k.Number, Label: env.Policy.T(l, "retention.hold.button")}}
}

// tombstoneDetails is what "view details" shows of a purged case: that
// its content was deleted, when, and what is left.
func tombstoneDetails(env Env, k mamori.Case, l mamori.Lang, loc *time.Location) mamori.Message {
	t := func(key string) string { return env.Policy.T(l, key) }
	day := func(at time.Time) string {
		if loc != nil {
			at = at.In(loc)
		}
		return at.Format("2006-01-02")
	}
	m := mamori.Message{Header: fmt.Sprintf(t("retention.tombstone.header"), k.Number),
		Text: fmt.Sprintf(t("retention.tombstone.text"), day(k.Decision.Purged)),
		Fields: []mamori.Field{
			{Label: t("retention.tombstone.kind"), Value: t("retention.kind." + k.Kind)},
			{Label: t("card.received"), Value: day(k.Created)},
			{Label: t("card.department"), Value: departmentName(env, k.Department, l)},
		}}
	if closed := cmp.Or(k.Judged, k.Decision.At); !closed.IsZero() {
		m.Fields = append(m.Fields, mamori.Field{Label: t("retention.tombstone.closed"), Value: day(closed)})
	}
	if o := k.Decision.Outcome; o != "" {
		m.Fields = append(m.Fields, mamori.Field{Label: t("card.decision"), Value: t("decision." + o)})
	}
	return m
}

// The employee's request to delete a closed consultation early.

// eraseRef names HR's card of the request to delete case number early.
// The card outlives the deletion it approves, so its Ref does not name
// the case the way PurgeCase looks for (its number between colons).
func eraseRef(number string) string { return "erase-" + number }

// offerErase tells the employee of consultation k, as it closes, how long
// it is kept, with a button to ask for it to be deleted earlier.
func (s *Service) offerErase(tx mamori.Tx, k mamori.Case, now time.Time) error {
	if k.Kind != mamori.KindConsult {
		return nil
	}
	keep := s.Retention.Consultation.orDefault()
	rl := reporterLang(k)
	t := func(key string) string { return s.Policy.T(rl, key) }
	m := mamori.Message{Step: mamori.StepCard, Text: fmt.Sprintf(t("erase.offer.text"), s.sayPeriod(keep, rl)),
		Choices: []mamori.Choice{{Value: mamori.EraseAsk + ":" + k.Number, Label: t("erase.button")}}}
	if keep.Never {
		m.Text = t("erase.offer.never")
	}
	return s.tell(tx, now, k, "erase_offer", m)
}

// eraseAsk records the employee's request to delete consultation a.Subject
// early and sends HR a card to approve or decline it.
func (s *Service) eraseAsk(ctx context.Context, actor mamori.User, a mamori.Action) (mamori.Message, error) {
	now := s.Clock()
	l := actor.Lang
	t := func(key string) string { return s.Policy.T(l, key) }
	var reply mamori.Message
	var result error
	err := s.Store.Update(ctx, func(tx mamori.Tx) error {
		reply, result = mamori.Message{}, nil
		k, err := tx.Case(a.Subject)
		if err != nil && !errors.Is(err, mamori.ErrNotFound) {
			return err
		}
		// Someone else's case, or none: the same answer, audited.
		if err != nil || k.Reporter.Key() != actor.Key() {
			reply, result = text(t("erase.refused")), mamori.ErrForbidden
			return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "case.erase_refused", Subject: a.Subject})
		}
		if again, err := deliveredBefore(ctx, tx, now); again || err != nil {
			reply = text(fmt.Sprintf(t("erase.asked"), k.Number))
			return err
		}
		switch {
		case k.Kind != mamori.KindConsult || k.Status != mamori.StatusClosed:
			reply, result = text(t("erase.not_closed")), mamori.ErrConflict
			return nil
		case k.Decision != nil && !k.Decision.EraseAsked.IsZero():
			reply, result = text(fmt.Sprintf(t("erase.already"), k.Number)), mamori.ErrConflict
			return nil
		}
		if k.Decision == nil {
			k.Decision = &mamori.Decision{}
		}
		k.Decision.EraseAsked = now
		if err := tx.UpdateCase(k); err != nil {
			return err
		}
		if err := s.postErase(tx, k, now, "", ""); err != nil {
			return err
		}
		reply = text(fmt.Sprintf(t("erase.asked"), k.Number))
		return tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "case.erase_asked", Subject: k.Number})
	})
	if err != nil {
		return text(t("error")), fmt.Errorf("erase %s: %w", a.Subject, err)
	}
	if s.Kick != nil {
		s.Kick()
	}
	return reply, result
}

// postErase puts HR's card of consultation k's deletion request in the
// outbox, or its update once decided by who (decided: "approved" or
// "declined").
func (s *Service) postErase(tx mamori.Tx, k mamori.Case, now time.Time, decided, by string) error {
	if s.Org.HRChannel == "" {
		return nil
	}
	l := s.orgLang()
	t := func(key string) string { return s.Policy.T(l, key) }
	keep := s.Retention.Consultation.orDefault()
	m := mamori.Message{Ref: eraseRef(k.Number), Step: mamori.StepCard,
		Header: fmt.Sprintf(t("erase.card.header"), k.Number),
		Text:   fmt.Sprintf(t("erase.card.text"), s.sayPeriod(keep, l)),
		Note:   t("erase.card.note")}
	if closed, ok := Closed(k); ok {
		m.Fields = []mamori.Field{{Label: t("retention.tombstone.closed"), Value: s.day(closed, l)}}
	}
	switch decided {
	case "":
		b := func(action, label, style string) mamori.Choice {
			return mamori.Choice{Value: action + ":" + k.Number, Label: t(label), Style: style}
		}
		m.Choices = []mamori.Choice{b(mamori.EraseApprove, "erase.approve", mamori.StyleDanger),
			b(mamori.EraseDecline, "erase.decline", ""), b(mamori.CardDetails, "card.details", "")}
	default:
		m.Text = fmt.Sprintf(t("erase.card."+decided), mention(by), s.day(now, l))
		m.Note = ""
	}
	return tx.Enqueue(mamori.OutboxItem{Key: replyKey(mamori.Input{}, 0) + ":" + eraseRef(k.Number),
		Target: s.channel(s.platformOf(k), s.Org.HRChannel), Message: m, Lang: l, Created: now})
}

// eraseDecide approves (deletes now) or declines the request to delete
// consultation a.Subject early, for HR; the employee hears which.
func (s *Service) eraseDecide(ctx context.Context, actor mamori.User, a mamori.Action) (mamori.Message, error) {
	approve := a.Kind == mamori.EraseApprove
	return s.retentionAct(ctx, actor, a, func(tx mamori.Tx, k *mamori.Case, now time.Time) (string, error) {
		switch {
		case k.Purged():
			return "", refuse("", "retention.purged")
		case k.Decision == nil || k.Decision.EraseAsked.IsZero():
			return "", refuse("", "erase.not_asked")
		case approve && k.Decision.Held():
			return "", refuse("", "erase.held")
		}
		asked := s.local(k.Decision.EraseAsked).Format("2006-01-02")
		before := *k
		rl := reporterLang(before)
		if !approve {
			k.Decision.EraseAsked = time.Time{}
			if err := s.postErase(tx, *k, now, "declined", actor.Key()); err != nil {
				return "", err
			}
			m := mamori.Message{Text: fmt.Sprintf(s.Policy.T(rl, "erase.declined.employee"), k.Number)}
			return "asked=" + asked, s.tell(tx, now, before, "erase_declined", m)
		}
		// Deleted here and now: retentionAct stores the tombstone as the
		// case, which PurgeCase has made it already.
		*k = Tombstone(before, now)
		if err := tx.PurgeCase(*k); err != nil {
			return "", err
		}
		if err := tx.Audit(mamori.AuditEntry{At: now, Actor: actor.Key(), Action: "case.purged", Subject: k.Number,
			Detail: "rule=erasure asked=" + asked}); err != nil {
			return "", err
		}
		if err := s.postErase(tx, before, now, "approved", actor.Key()); err != nil {
			return "", err
		}
		m := mamori.Message{Text: fmt.Sprintf(s.Policy.T(rl, "erase.done.employee"), before.Number)}
		if err := s.tell(tx, now, before, "erased", m); err != nil {
			return "", err
		}
		return "rule=erasure asked=" + asked, nil
	})
}
