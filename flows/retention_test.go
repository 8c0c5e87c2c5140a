package flows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

const day = 24 * time.Hour

// judged files a report from UME (who asks to talk, so a care task
// opens), has USUP judge it カスハラ, and HR close the care task with a
// note; it returns the number.
func (r *rig) judged() string {
	r.t.Helper()
	ctx := context.Background()
	n := r.filed(nil)
	sup := user("USUP")
	if _, err := r.svc.Take(ctx, sup, n); err != nil {
		r.t.Fatal(err)
	}
	d := flows.SuggestDecision(r.svc.Policy, r.kase(n))
	d.Outcome, d.Facts, d.Actions, d.Reason = mamori.OutcomeKasuhara, "録音で確認した事実", nil, "判断メモ"
	if _, err := r.svc.Judge(ctx, sup, n, d); err != nil {
		r.t.Fatal(err)
	}
	for _, c := range r.careTasks() {
		if c.Number != n {
			continue
		}
		id := fmt.Sprint(c.ID)
		if _, err := r.svc.Submit(ctx, user("UHR"), action(mamori.CareNoteAction, id), mamori.Values{"note": {"産業医面談を予約した"}}); err != nil {
			r.t.Fatal(err)
		}
		if _, _, err := r.svc.Open(ctx, user("UHR"), action(mamori.CareCloseTask, id)); err != nil {
			r.t.Fatal(err)
		}
	}
	r.worker.Drain(ctx)
	return n
}

func (r *rig) careTasks() []mamori.CareTask {
	r.t.Helper()
	var ts []mamori.CareTask
	if err := r.db.View(context.Background(), func(tx mamori.Tx) error {
		var err error
		ts, err = tx.CareTasks(false)
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
	return ts
}

func (r *rig) trail(subject string) []string {
	r.t.Helper()
	es, err := r.db.AuditTrail(context.Background(), subject)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action+" "+e.Detail)
	}
	return out
}

func has(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// A judged report is kept five years after its judgement: the daily pass
// tells HR a month ahead, with a button to hold it, and deletes its
// content once due — its care task's notes too — leaving a tombstone
// that the statistics still count.
func TestRetentionPurgesAfterFiveYears(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.judged()
	judged := r.kase(n).Judged
	if err := r.svc.ScheduleRetention(ctx); err != nil {
		t.Fatal(err)
	}
	due := judged.In(r.svc.Location).AddDate(5, 0, 0)
	plan, err := r.svc.RetentionPlan(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, e := range plan {
		rules = append(rules, e.Rule)
		if e.Task == 0 && (e.Number != n || !e.Due.Equal(due) || e.Keep != flows.DefaultKeep) {
			t.Errorf("plan for the report: %+v, want due %s", e, due)
		}
	}
	if fmt.Sprint(rules) != "[report care_task]" {
		t.Errorf("plan rules = %v, want the report and its care task", rules)
	}

	// Twenty days before: HR is told once, with the button to hold it.
	r.advance(due.Sub(r.clock.Now()) - 20*day)
	r.advance(day)
	var notices []mamori.Message
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
		if strings.Contains(m.Header, n) && m.Ref == "retention:"+n {
			notices = append(notices, m)
		}
	}
	if len(notices) != 1 || len(notices[0].Choices) == 0 || notices[0].Choices[0].Value != mamori.CardHold+":"+n {
		t.Fatalf("notices of the deletion: %+v", notices)
	}
	if k := r.kase(n); k.Purged() || k.Answers.Narrative == "" {
		t.Fatal("deleted before its time")
	}
	if !has(r.trail(n), "case.purge_notice rule=report keep=5years") {
		t.Errorf("audit: %q", r.trail(n))
	}

	// The day it is due, the daily pass deletes it.
	for i := 0; i < 25; i++ {
		r.advance(day)
	}
	k := r.kase(n)
	if !k.Purged() || k.Answers.Narrative != "" || k.Answers.Customer != "" || k.Reporter.ID != "" || k.Assignee != "" {
		t.Fatalf("after the due date: %+v", k)
	}
	if k.Decision.Outcome != mamori.OutcomeKasuhara || k.Decision.Facts != "" || k.Decision.Reason != "" || k.Department != "store" ||
		!k.Judged.Equal(judged) || k.Status != mamori.StatusJudged {
		t.Errorf("tombstone: %+v %+v", k, k.Decision)
	}
	for _, c := range r.careTasks() {
		if c.Number == n && (len(c.Notes) != 0 || c.Reason != "" || c.Reporter.ID != "") {
			t.Errorf("care task kept: %+v", c)
		}
	}
	if err := r.db.View(ctx, func(tx mamori.Tx) error {
		mine, err := tx.CasesOf("slack:UME")
		if len(mine) != 0 {
			t.Errorf("the reporter still finds %d cases", len(mine))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Its care task went with it, in the same entry.
	trail := r.trail(n)
	if !has(trail, "case.purged rule=report keep=5years closed="+judged.In(r.svc.Location).Format("2006-01-02")) {
		t.Errorf("audit: %q", trail)
	}
	for _, e := range trail {
		if strings.Contains(e, "秘密") || strings.Contains(e, "産業医") {
			t.Errorf("confidential text in the audit: %q", e)
		}
	}
	if _, err := r.db.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
	// The statistics of its month still count it.
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, r.svc.Location)
	sum, err := r.svc.Stats(ctx, from, from.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Reports != 1 || fmt.Sprint(sum.Outcomes) != "[{kasuhara 1}]" || fmt.Sprint(sum.Departments) != "[{store 1}]" || sum.Judgement.N != 1 {
		t.Errorf("statistics of the tombstone: %+v", sum)
	}
	// What is left shows as such; nothing more can be done with it.
	m, err := r.svc.CaseDetails(ctx, user("UHR"), n)
	if err != nil || !strings.Contains(m.Header, "削除済み") || strings.Contains(fmt.Sprint(m), "秘密") {
		t.Errorf("details of the tombstone: %+v %v", m, err)
	}
	if _, _, err := r.svc.Open(ctx, user("USUP"), action(mamori.CardReopen, n)); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("reopen a deleted case: %v", err)
	}
	if plan, _ := r.svc.RetentionPlan(ctx, time.Time{}); len(plan) != 0 {
		t.Errorf("plan after the deletion: %+v", plan)
	}
}

// A rule per kind and outcome; an open case never expires; nothing is
// deleted that is not past its rule.
func TestRetentionRules(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.svc.Retention = flows.Retention{Report: flows.Period{Years: 3},
		Outcomes: map[string]flows.Period{mamori.OutcomeLegitimate: {Months: 18}}, CareTask: flows.Period{Never: true}}
	n := r.judged()
	open := r.filed(nil)
	closed := r.kase(n).Judged
	due := closed.In(r.svc.Location).AddDate(3, 0, 0)
	for _, at := range []time.Time{due.Add(-time.Millisecond), due} {
		rep, err := r.svc.Purge(ctx, at, "test")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(rep.Purged), map[bool]int{false: 0, true: 1}[!at.Before(due)]; got != want {
			t.Errorf("purged at %s: %d, want %d", at, got, want)
		}
	}
	if k := r.kase(open); k.Purged() || k.Answers.Narrative == "" {
		t.Error("an open case was deleted")
	}
	if !has(r.trail(n), "case.purged rule=report keep=3years") {
		t.Errorf("audit: %q", r.trail(n))
	}
	// Care tasks are kept for good under "never"; their case's deletion
	// takes them with it.
	for _, c := range r.careTasks() {
		if c.Number == n && c.Reason != "" {
			t.Errorf("care task of the deleted case: %+v", c)
		}
	}
	// A care task's own rule, shorter than its case's: the notes go,
	// the case stays.
	r2 := newRig(t)
	r2.svc.Retention = flows.Retention{CareTask: flows.Period{Years: 1}}
	n2 := r2.judged()
	var task mamori.CareTask
	for _, c := range r2.careTasks() {
		task = c
	}
	rep, err := r2.svc.Purge(ctx, task.Updated.AddDate(1, 0, 1), "test")
	if err != nil || len(rep.Purged) != 1 || rep.Purged[0].Task != task.ID {
		t.Fatalf("purge of the care task: %+v %v", rep, err)
	}
	if k := r2.kase(n2); k.Purged() || k.Answers.Narrative == "" {
		t.Error("the care task's rule deleted its case")
	}
	if !has(r2.trail(n2), fmt.Sprintf("care.purged task=%d rule=care_task keep=1year", task.ID)) {
		t.Errorf("audit: %q", r2.trail(n2))
	}
	for _, s := range []string{"5 years", "5y", "18 months", "18mo", "1 year 6 months", "90 days", "never"} {
		if _, err := flows.ParsePeriod(s); err != nil {
			t.Errorf("ParsePeriod(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "5", "five years", "0 days", "5 weeks", "-1 year"} {
		if p, err := flows.ParsePeriod(s); err == nil {
			t.Errorf("ParsePeriod(%q) = %+v, want an error", s, p)
		}
	}
}

// HR puts a case on legal hold with a reason, from the form; nobody else
// may; a held case outlives its rule until released. Both are audited,
// the reason is not.
func TestLegalHold(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.judged()
	hr := user("UHR")
	for _, who := range []string{"USUP", "UME"} {
		if _, _, err := r.svc.Open(ctx, user(who), action(mamori.CardHold, n)); !errors.Is(err, mamori.ErrForbidden) {
			t.Errorf("%s opened the hold form: %v", who, err)
		}
	}
	if !has(r.trail(n), "case.hold_refused") {
		t.Errorf("refusal not audited: %q", r.trail(n))
	}
	form, _, err := r.svc.Open(ctx, hr, action(mamori.CardHold, n))
	if err != nil || form == nil || len(form.Fields) != 1 || !form.Fields[0].Required {
		t.Fatalf("hold form: %+v %v", form, err)
	}
	if _, err := r.svc.Submit(ctx, hr, form.Action, mamori.Values{"reason": {" "}}); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("hold without a reason: %v", err)
	}
	if _, err := r.svc.Submit(ctx, hr, form.Action, mamori.Values{"reason": {"顧客から訴訟の通知（秘密）"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Submit(ctx, hr, form.Action, mamori.Values{"reason": {"again"}}); !errors.Is(err, mamori.ErrInvalid) {
		t.Errorf("held twice: %v", err)
	}
	if h := r.kase(n).Decision.Hold; h == nil || h.By != "slack:UHR" || h.Reason != "顧客から訴訟の通知（秘密）" {
		t.Fatalf("hold: %+v", h)
	}
	// Its reason is read in the details by HR alone.
	for who, sees := range map[string]bool{"UHR": true, "USUP": false} {
		if d, err := r.svc.CaseDetails(ctx, user(who), n); err != nil || strings.Contains(fmt.Sprint(d.Fields), "訴訟の通知") != sees {
			t.Errorf("%s reads the hold's reason: want %v (%v)", who, sees, err)
		}
	}
	due := r.kase(n).Judged.In(r.svc.Location).AddDate(5, 0, 0)
	rep, err := r.svc.Purge(ctx, due.Add(day), "test")
	if err != nil || len(rep.Purged) != 0 || len(rep.Held) != 2 { // the case and its care task
		t.Fatalf("purge of a held case: %+v %v", rep, err)
	}
	if k := r.kase(n); k.Purged() {
		t.Fatal("a held case was deleted")
	}
	if _, _, err := r.svc.Open(ctx, user("USUP"), action(mamori.CardRelease, n)); !errors.Is(err, mamori.ErrForbidden) {
		t.Errorf("a supervisor released the hold: %v", err)
	}
	if _, _, err := r.svc.Open(ctx, hr, action(mamori.CardRelease, n)); err != nil {
		t.Fatal(err)
	}
	if rep, err := r.svc.Purge(ctx, due.Add(day), "test"); err != nil || len(rep.Purged) != 1 || rep.Purged[0].Task != 0 {
		t.Fatalf("purge after the release: %+v %v", rep, err)
	}
	trail := r.trail(n)
	if !has(trail, "case.hold ") || !has(trail, "case.release held_by=slack:UHR") || !has(trail, "case.purged") {
		t.Errorf("audit: %q", trail)
	}
	for _, e := range trail {
		if strings.Contains(e, "訴訟") {
			t.Errorf("the reason in the audit: %q", e)
		}
	}
}

// An HR-routed report's card is in the HR channel: once judged it has
// the hold button, held it says who holds it and offers the release.
func TestHoldOnHRCard(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	n := r.filed(func(in *mamori.Input) {})
	// Routed to HR: file it again as one for HR alone.
	k := r.kase(n)
	k.Route, k.Channel = mamori.RouteHR, "C0HR"
	env := flows.Env{Policy: r.svc.Policy, Org: r.svc.Org, Now: r.clock.Now()}
	if card := flows.Card(env, k, mamori.JA, nil); strings.Contains(fmt.Sprint(card.Choices), mamori.CardHold+":") {
		t.Errorf("hold button on an open case: %+v", card.Choices)
	}
	k.Status, k.Judged, k.Decision = mamori.StatusJudged, r.clock.Now(), &mamori.Decision{Outcome: mamori.OutcomeKasuhara}
	if card := flows.Card(env, k, mamori.JA, nil); !strings.Contains(fmt.Sprint(card.Choices), mamori.CardHold+":"+n) {
		t.Errorf("no hold button on a judged case in the HR channel: %+v", card.Choices)
	}
	k.Decision.Hold = &mamori.Hold{Reason: "訴訟", By: "slack:UHR", At: r.clock.Now()}
	card := flows.Card(env, k, mamori.JA, nil)
	if !strings.Contains(fmt.Sprint(card.Choices), mamori.CardRelease+":"+n) || !strings.Contains(fmt.Sprint(card.Fields), "<@UHR>") ||
		strings.Contains(fmt.Sprint(card), "訴訟") {
		t.Errorf("held card: %+v", card)
	}
	// In a department's channel: no button.
	k.Route, k.Channel = mamori.RouteDepartment, "C0STORE"
	if card := flows.Card(env, k, mamori.JA, nil); strings.Contains(fmt.Sprint(card), "retention") || strings.Contains(fmt.Sprint(card.Choices), mamori.CardRelease) {
		t.Errorf("hold on a department card: %+v", card)
	}
	_ = ctx
}

// An employee asks for a consultation they closed to be deleted early;
// HR approves, and it is deleted at once, or declines.
func TestEraseConsultationEarly(t *testing.T) {
	ctx := context.Background()
	for _, approve := range []bool{true, false} {
		t.Run(fmt.Sprint("approve=", approve), func(t *testing.T) {
			r := newRig(t)
			r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartConsult})
			r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "秘密の相談 毎日電話が来ます"})
			r.click("UME", "no")
			r.click("UME", "submit")
			n := "SD-2026-0001"
			hr, me := user("UHR"), user("UME")
			// Not before it is closed.
			if _, _, err := r.svc.Open(ctx, me, action(mamori.EraseAsk, n)); !errors.Is(err, mamori.ErrConflict) {
				t.Errorf("erase an open consultation: %v", err)
			}
			if _, err := r.svc.Submit(ctx, hr, action(mamori.ConsultClose, n), mamori.Values{"result": {mamori.ConsultResolved}}); err != nil {
				t.Fatal(err)
			}
			r.worker.Drain(ctx)
			offer := r.last("UME")
			if len(offer.Choices) != 1 || offer.Choices[0].Value != mamori.EraseAsk+":"+n || !strings.Contains(offer.Text, "5年") {
				t.Fatalf("offer: %+v", offer)
			}
			// Someone else may not ask; the employee may, once.
			if _, _, err := r.svc.Open(ctx, user("UOTHER"), action(mamori.EraseAsk, n)); !errors.Is(err, mamori.ErrForbidden) {
				t.Errorf("another employee asked: %v", err)
			}
			if _, m, err := r.svc.Open(ctx, me, action(mamori.EraseAsk, n)); err != nil || !strings.Contains(m.Text, n) {
				t.Fatalf("ask: %+v %v", m, err)
			}
			if _, _, err := r.svc.Open(ctx, me, action(mamori.EraseAsk, n)); !errors.Is(err, mamori.ErrConflict) {
				t.Errorf("asked twice: %v", err)
			}
			r.worker.Drain(ctx)
			var card mamori.Message
			for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
				if strings.Contains(m.Header, n) && len(m.Choices) > 0 && m.Choices[0].Value == mamori.EraseApprove+":"+n {
					card = m
				}
			}
			if card.Header == "" || strings.Contains(fmt.Sprint(card), "秘密") {
				t.Fatalf("HR's card: %+v", card)
			}
			// Only HR decides.
			if _, _, err := r.svc.Open(ctx, user("USUP"), action(mamori.EraseApprove, n)); !errors.Is(err, mamori.ErrForbidden) {
				t.Errorf("a supervisor approved: %v", err)
			}
			kind := mamori.EraseDecline
			if approve {
				kind = mamori.EraseApprove
			}
			if _, _, err := r.svc.Open(ctx, hr, action(kind, n)); err != nil {
				t.Fatal(err)
			}
			r.worker.Drain(ctx)
			k := r.kase(n)
			told := r.sent.to(mamori.TargetUser, "UME")
			last := told[len(told)-1]
			if approve {
				if !k.Purged() || k.Answers.Worry != "" || !has(r.trail(n), "case.purged rule=erasure") {
					t.Errorf("after approval: %+v %q", k, r.trail(n))
				}
				if !strings.Contains(last.Text, "削除しました") {
					t.Errorf("employee told: %+v", last)
				}
			} else {
				if k.Purged() || k.Answers.Worry == "" || !k.Decision.EraseAsked.IsZero() || !has(r.trail(n), "case.erase_decline") {
					t.Errorf("after declining: %+v %q", k, r.trail(n))
				}
				if !strings.Contains(last.Text, "削除しない") {
					t.Errorf("employee told: %+v", last)
				}
			}
			// HR's card says what was decided, in place.
			var upd mamori.Message
			var prev *mamori.Posted
			for i, it := range r.sent.items {
				if it.Message.Ref == card.Ref {
					upd, prev = it.Message, r.sent.prevs[i]
				}
			}
			if len(upd.Choices) != 0 || !strings.Contains(upd.Text, "<@UHR>") || prev == nil {
				t.Errorf("HR's card after the decision: %+v (updated in place: %v)", upd, prev != nil)
			}
		})
	}
}

// Under steady load the tables that grow with every request stop
// growing: each day the same requests come, and the daily pass prunes
// delivery ids after a day and sent messages and finished jobs after a
// week.
func TestBoundedGrowth(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if err := r.svc.ScheduleRetention(ctx); err != nil {
		t.Fatal(err)
	}
	count := func() string {
		n, err := r.db.Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("seen=%d outbox=%d jobs=%d", n["seen"], n["outbox"], n["jobs"])
	}
	const perDay = 40
	var days []string
	req := 0
	for d := 0; d < 22; d++ {
		for i := 0; i < perDay; i++ {
			req++
			u := user(fmt.Sprintf("U%03d", i))
			if err := r.svc.Handle(ctx, mamori.Input{Kind: mamori.InputStart, User: u, Delivery: fmt.Sprintf("ev-%d", req)}); err != nil {
				t.Fatal(err)
			}
		}
		r.advance(day)
		days = append(days, count())
	}
	t.Logf("rows after each day of %d requests: %q", perDay, days)
	// Three weeks on, a week apart (the pass runs on working days): the
	// same rows, far fewer than the requests made.
	if days[14] != days[21] {
		t.Errorf("still growing: day 15 %s, day 22 %s", days[14], days[21])
	}
	var seen, outbox int
	fmt.Sscanf(days[21], "seen=%d outbox=%d", &seen, &outbox)
	if seen > 4*perDay || outbox > 12*perDay {
		t.Errorf("rows kept after %d requests: %s", req, days[21])
	}
}

// What someone types at the menu, before starting anything, is kept for
// them (Conversation.Draft) — not for ever: 30 days after their last
// message, a conversation that keeps nothing else is cleared, and the
// audit trail says so. A message meanwhile moves the day; a report
// started from the draft is never cleared by it.
func TestDraftOnlyConversationExpires(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	conversation := func(id string) (mamori.Conversation, bool) {
		t.Helper()
		var c mamori.Conversation
		err := r.db.View(ctx, func(tx mamori.Tx) error {
			var err error
			c, err = tx.Conversation("slack:" + id)
			return err
		})
		if errors.Is(err, mamori.ErrNotFound) {
			return c, false
		} else if err != nil {
			t.Fatal(err)
		}
		return c, true
	}
	const typed = "昨日、お客様に1時間どなられました"
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed})
	if c, ok := conversation("UME"); !ok || c.Draft != typed {
		t.Fatalf("the draft was not kept: %+v", c)
	}
	r.advance(20 * 24 * time.Hour)
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: typed + "。録音があります"})
	r.advance(29 * 24 * time.Hour) // 49 days after the first, 29 after the last
	if c, ok := conversation("UME"); !ok || !strings.Contains(c.Draft, "録音") {
		t.Fatalf("cleared before 30 days after the last message: %+v %t", c, ok)
	}
	r.advance(2 * 24 * time.Hour)
	if c, ok := conversation("UME"); ok {
		t.Fatalf("a draft-only conversation was kept past 30 days: %+v", c)
	}
	if tr := r.trail("slack:UME"); !has(tr, "retention.draft_cleared") {
		t.Errorf("the trail: %v", tr)
	}
	// Back after that: the menu, as for anyone new.
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "こんにちは"})
	if m := r.last("UME"); m.Step != "menu" {
		t.Errorf("after the draft was cleared: %+v", m)
	}

	// A report started from the draft: the draft is its narrative, and
	// the report stays, however long it waits.
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UOTHER"), Text: typed})
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UOTHER"), Value: mamori.StartReport})
	r.advance(40 * 24 * time.Hour)
	if c, ok := conversation("UOTHER"); !ok || c.Flow == "" || c.Answers.Narrative != typed {
		t.Errorf("a report started from a draft: %+v %t", c, ok)
	}

	// A draft kept beside an open SOS stays while the SOS is open, and
	// is cleared once it is alone again — here closed by a responder, the
	// person silent since — not kept for ever.
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UTHIRD"), Text: typed})
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UTHIRD"), Value: mamori.StartSOS})
	r.advance(31 * 24 * time.Hour)
	c, ok := conversation("UTHIRD")
	if !ok || c.SOS == "" || c.Draft != typed {
		t.Fatalf("a draft beside an open SOS: %+v %t", c, ok)
	}
	for _, kind := range []string{mamori.SOSAck, mamori.SOSClose} {
		if _, _, err := r.svc.Open(ctx, user("UHR"), mamori.Action{Kind: kind, Subject: c.SOS}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
	}
	if c, ok := conversation("UTHIRD"); !ok || c.SOS != "" || c.Draft != typed {
		t.Fatalf("after the SOS closed: %+v %t", c, ok)
	}
	r.advance(62 * 24 * time.Hour)
	if c, ok := conversation("UTHIRD"); ok {
		t.Errorf("a draft left alone after an SOS was kept past 30 days: %+v", c)
	}
}
