package flows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mamori-oss/mamori"
	"github.com/mamori-oss/mamori/flows"
)

func TestWorkingTime(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, tokyo)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct{ in, want string }{
		{"2026-11-20 17:00", "2026-11-20 17:00"}, // Friday, in hours
		{"2026-11-20 18:00", "2026-11-23 09:00"}, // Friday evening → Monday
		{"2026-11-21 10:00", "2026-11-23 09:00"}, // Saturday
		{"2026-11-22 23:59", "2026-11-23 09:00"}, // Sunday night
		{"2026-11-24 07:00", "2026-11-24 09:00"}, // Tuesday early
		{"2026-11-25 12:30", "2026-11-25 12:30"},
	} {
		if got := (flows.Care{NoHolidays: true}).WorkingTime(at(tt.in), tokyo); !got.Equal(at(tt.want)) {
			t.Errorf("%s: %s, want %s", tt.in, got.Format("Mon 2006-01-02 15:04"), tt.want)
		}
	}
	if got := (flows.Care{StartHour: 10, EndHour: 16}).WorkingTime(at("2026-11-25 16:30"), tokyo); !got.Equal(at("2026-11-26 10:00")) {
		t.Errorf("custom hours: %s", got)
	}
}

// TestHolidays: Japan's national holidays of 2026 and 2027 (with 振替休日
// and 国民の休日) and the organisation's closed days are no working days.
func TestHolidays(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	want := map[string]bool{}
	for _, d := range strings.Fields(`2026-01-01 2026-01-12 2026-02-11 2026-02-23 2026-03-20 2026-04-29 2026-05-04
		2026-05-05 2026-05-06 2026-07-20 2026-08-11 2026-09-21 2026-09-22 2026-09-23 2026-10-12 2026-11-03 2026-11-23
		2027-01-01 2027-01-11 2027-02-11 2027-02-23 2027-03-22 2027-04-29 2027-05-03 2027-05-04 2027-05-05 2027-07-19
		2027-08-11 2027-09-20 2027-09-23 2027-10-11 2027-11-03 2027-11-23`) {
		want[d] = true
	}
	c := flows.Care{}
	for d := time.Date(2026, 1, 1, 12, 0, 0, 0, tokyo); d.Year() < 2028; d = d.AddDate(0, 0, 1) {
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			continue
		}
		working := c.WorkingTime(d, tokyo).Equal(d)
		if day := d.Format("2006-01-02"); working == want[day] {
			t.Errorf("%s (%s): working %t", day, d.Weekday(), working)
		}
	}
	at := func(s string) time.Time {
		v, _ := time.ParseInLocation("2006-01-02 15:04", s, tokyo)
		return v
	}
	closed, err := flows.ParseClosedDays([]string{"12-29", "12-30", "12-31", "01-02", "01-03", "2027-01-04"})
	if err != nil {
		t.Fatal(err)
	}
	if got := (flows.Care{Closed: closed}).WorkingTime(at("2026-12-28 18:30"), tokyo); !got.Equal(at("2027-01-05 09:00")) {
		t.Errorf("over the new year: %s", got)
	}
	if got := (flows.Care{NoHolidays: true}).WorkingTime(at("2026-11-23 10:00"), tokyo); !got.Equal(at("2026-11-23 10:00")) {
		t.Errorf("holidays off: %s", got)
	}
	for _, bad := range []string{"12/31", "2026-13-01", "1-2", "xmas"} {
		if _, err := flows.ParseClosedDays([]string{bad}); err == nil || !strings.Contains(err.Error(), "MM-DD") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestCheckins(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // the clock starts on Friday 2026-11-20 10:00 in Tokyo
	n := r.filed(nil)
	checkins := func() []mamori.Message {
		var out []mamori.Message
		for _, m := range r.sent.to(mamori.TargetUser, "UME") {
			if m.Step == "checkin" {
				out = append(out, m)
			}
		}
		return out
	}
	advance := r.advance
	// +1 day is a Saturday: the check-in waits for Monday 9:00.
	advance(24 * time.Hour)
	if len(checkins()) != 0 {
		t.Fatal("check-in on a Saturday")
	}
	r.restart()
	advance(47 * time.Hour) // Monday 09:00 in Tokyo
	got := checkins()
	// The report asked to talk, so a care task is open: the check-in
	// knows it and does not ask "how are you?" as if nothing happened.
	if len(got) != 1 || !strings.Contains(got[0].Header, n) || len(got[0].Choices) != 2 || !strings.Contains(got[0].Text, "担当者から連絡します") {
		t.Fatalf("check-ins by Monday 9:00: %+v", got)
	}
	hr0 := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	// Not fine: it goes to HR's open task; the reporter is thanked and shown care.
	r.click("UME", "checkin:"+n+":hard")
	hr := r.sent.to(mamori.TargetChannel, "C0HR")[hr0:]
	if len(hr) != 2 || hr[0].Ref != "care:1" || !strings.Contains(fmt.Sprint(hr[0].Fields), "<@UME>") ||
		!strings.Contains(fmt.Sprint(hr[0].Fields), "少しつらい") || strings.Contains(fmt.Sprint(hr), "秘密") ||
		!strings.Contains(hr[1].Text, "少しつらい") {
		t.Fatalf("HR care task: %+v", hr)
	}
	dms := r.sent.to(mamori.TargetUser, "UME")
	if len(dms[len(dms)-1].Fields) == 0 {
		t.Fatal("no care resources after a hard answer")
	}
	var said strings.Builder
	for _, m := range dms[len(dms)-2:] {
		said.WriteString(m.Header + m.Text + m.Note)
	}
	if n := strings.Count(said.String(), "ひとりで抱え"); n != 1 {
		t.Errorf("「ひとりで抱えないで」 said %d times after a hard answer:\n%s", n, said.String())
	}
	// Nobody else can answer it.
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UOTHER"), Step: "checkin", Value: "checkin:" + n + ":stop"})
	if r.kase(n).CheckinsStopped {
		t.Fatal("someone else stopped the check-ins")
	}
	// +7 days is Friday the 27th; a worker that only looks on Sunday
	// (after an outage, say) still waits for Monday's working hours.
	advance(6 * 24 * time.Hour) // Sunday the 29th
	if len(checkins()) != 1 {
		t.Fatal("check-in sent on a Sunday")
	}
	advance(24 * time.Hour) // Monday the 30th, 09:00
	if len(checkins()) != 2 {
		t.Fatalf("%d check-ins after a week", len(checkins()))
	}
	r.click("UME", "checkin:"+n+":stop")
	if !r.kase(n).CheckinsStopped {
		t.Fatal("stop not recorded")
	}
	advance(40 * 24 * time.Hour)
	if len(checkins()) != 2 {
		t.Fatalf("check-ins after stop: %d", len(checkins()))
	}
	trail, _ := r.db.AuditTrail(ctx, n)
	var answers []string
	for _, e := range trail {
		if e.Action == "care.checkin" {
			answers = append(answers, e.Detail)
		}
	}
	if strings.Join(answers, " ") != "answer=hard answer=stop" {
		t.Fatalf("audited answers: %v", answers)
	}
}

func TestCareTasks(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	n := r.filed(nil)
	advance := r.advance
	cards := func() []mamori.Message {
		var out []mamori.Message
		for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
			if m.Ref == "care:1" {
				out = append(out, m)
			}
		}
		return out
	}
	reminders := func() []string {
		var out []string
		for _, it := range r.sent.items {
			if it.Target.Thread == "care:1" {
				out = append(out, it.Message.Text)
			}
		}
		return out
	}
	// The report asked to talk: a care task, due the next working day.
	c := cards()
	if len(c) != 1 || !c[0].Urgent || !strings.Contains(fmt.Sprint(c[0].Fields), "2026-11-23 09:00") ||
		!strings.Contains(fmt.Sprint(c[0].Fields), n) || strings.Contains(fmt.Sprint(c[0]), "秘密") {
		t.Fatalf("care card: %+v", c)
	}
	// Only HR may act on it, and the refusal is audited.
	if _, err := r.svc.CareAction(ctx, user("USUP"), mamori.CareAck, "1", ""); !errors.Is(err, mamori.ErrForbidden) {
		t.Fatalf("supervisor ack: %v", err)
	}
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareAck, "99", ""); !errors.Is(err, mamori.ErrNotFound) {
		t.Fatalf("ack of a missing task: %v", err)
	}
	// Not acknowledged by Monday 9:00: a reminder in the card's thread,
	// then every working day.
	advance(70 * time.Hour) // Monday 08:00
	if len(reminders()) != 0 {
		t.Fatal("reminded before the due time")
	}
	r.restart()
	advance(time.Hour)
	if rs := reminders(); len(rs) != 1 || !strings.Contains(rs[0], "まだ受け付けられていません") {
		t.Fatalf("reminders at due: %q", rs)
	}
	m, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareAck, "1", "")
	if err != nil || !strings.Contains(m.Text, n) {
		t.Fatalf("ack: %v %+v", err, m)
	}
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareAck, "1", ""); !errors.Is(err, mamori.ErrConflict) {
		t.Fatalf("second ack: %v", err)
	}
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareNoteAction, "1", "  "); !errors.Is(err, mamori.ErrInvalid) {
		t.Fatalf("empty note: %v", err)
	}
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareNoteAction, "1", "電話で話した。産業医面談を予約。"); err != nil {
		t.Fatal(err)
	}
	advance(time.Minute)
	c = cards()
	last := c[len(c)-1]
	if last.Urgent || !strings.Contains(fmt.Sprint(last.Fields), "<@UHR>") || !strings.Contains(fmt.Sprint(last.Fields), "1 件") ||
		strings.Contains(fmt.Sprint(last), "産業医面談") {
		t.Fatalf("card after ack and note: %+v", last)
	}
	// The note is read in the case's details, by HR alone (whoever of HR
	// takes over), not by the supervisor nor the reporter.
	for who, sees := range map[string]bool{"UHR": true, "USUP": false, "UME": false} {
		d, err := r.svc.CaseDetails(ctx, user(who), n)
		if err != nil {
			t.Fatalf("%s details: %v", who, err)
		}
		if got := strings.Contains(fmt.Sprint(d.Fields), "産業医面談"); got != sees {
			t.Errorf("%s reads the contact note: %v, want %v", who, got, sees)
		}
	}
	advance(24 * time.Hour) // Tuesday 09:01: acknowledged but not closed
	if rs := reminders(); len(rs) != 2 || !strings.Contains(rs[1], "<@UHR>") {
		t.Fatalf("reminders while acknowledged: %q", rs)
	}
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareCloseTask, "1", ""); err != nil {
		t.Fatal(err)
	}
	advance(5 * 24 * time.Hour)
	if rs := reminders(); len(rs) != 2 {
		t.Fatalf("reminders after close: %q", rs)
	}
	c = cards()
	if last := c[len(c)-1]; len(last.Choices) != 1 || !strings.Contains(fmt.Sprint(last.Fields), "完了") {
		t.Fatalf("closed card: %+v", last)
	}
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareNoteAction, "1", "もう一度"); !errors.Is(err, mamori.ErrConflict) {
		t.Fatalf("note on a closed task: %v", err)
	}
	var task mamori.CareTask
	r.db.View(ctx, func(tx mamori.Tx) error { task, _ = tx.CareTask(1); return nil })
	if task.Status != mamori.CareClosed || len(task.Notes) != 1 || task.Notes[0].By != "slack:UHR" {
		t.Fatalf("task: %+v", task)
	}
	trail, _ := r.db.AuditTrail(ctx, n)
	var actions []string
	for _, e := range trail {
		if strings.HasPrefix(e.Action, "care.") && e.Action != "care.checkin_sent" {
			actions = append(actions, e.Action)
		}
	}
	want := "care.task_opened care.task_refused care.task_reminder care.ack care.note care.task_reminder care.close"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("audit:\n got %s\nwant %s", got, want)
	}
}

// A worker that only runs in the evenings (an outage, a laptop asleep)
// defers a check-in again and again until working hours, and never drops it.
func TestCheckinDeferredTwice(t *testing.T) {
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	n := r.filed(nil)
	advance := r.advance
	checkins := func() int {
		c := 0
		for _, m := range r.sent.to(mamori.TargetUser, "UME") {
			if m.Step == "checkin" {
				c++
			}
		}
		return c
	}
	advance(82 * time.Hour) // Monday 20:00: due at 9:00, now after hours
	advance(24 * time.Hour) // Tuesday 20:00
	if c := checkins(); c != 0 {
		t.Fatalf("a check-in after working hours: %d", c)
	}
	advance(14 * time.Hour) // Wednesday 10:00
	if c := checkins(); c != 1 {
		t.Fatalf("check-ins for %s by Wednesday morning: %d, want 1", n, c)
	}
}

// advance moves the clock on by d and runs whatever came due.
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	r.clock.Add(d)
	if _, err := r.worker.Drain(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// One open care task per person and case: later check-in answers are
// entries of that task, its card is updated in place, and the check-ins
// know it is open. Once it is closed, a check-in asks afresh and a hard
// answer opens a new one.
func TestCareTaskOnePerCase(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo; the report asks to talk
	n := r.filed(nil)
	checkins := func() []mamori.Message {
		var out []mamori.Message
		for _, m := range r.sent.to(mamori.TargetUser, "UME") {
			if m.Step == "checkin" {
				out = append(out, m)
			}
		}
		return out
	}
	hrItems := func() []mamori.OutboxItem {
		var out []mamori.OutboxItem
		for _, it := range r.sent.items {
			if it.Target.ID == "C0HR" && (it.Message.Ref != "" || it.Target.Thread != "") {
				out = append(out, it)
			}
		}
		return out
	}
	tasks := func() []mamori.CareTask {
		var all []mamori.CareTask
		r.db.View(ctx, func(tx mamori.Tx) error { all, _ = tx.CareTasks(false); return nil })
		return all
	}
	if ts := tasks(); len(ts) != 1 || ts[0].Reason != mamori.CareReasonTalk {
		t.Fatalf("tasks after the report: %+v", ts)
	}
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareAck, "1", ""); err != nil {
		t.Fatal(err)
	}
	r.advance(71 * time.Hour) // Monday 09:00: the first check-in
	c := checkins()
	if len(c) != 1 || !strings.Contains(c[0].Text, "担当者が受け止めています") || len(c[0].Choices) != 2 || len(c[0].Controls) != 1 {
		t.Fatalf("check-in while the task is acknowledged: %+v", c)
	}
	before := len(hrItems())
	r.click("UME", c[0].Choices[1].Value) // "I'd like to talk soon"
	r.click("UME", "checkin:"+n+":fine")
	if ts := tasks(); len(ts) != 1 {
		t.Fatalf("a second task: %+v", ts)
	}
	task := tasks()[0]
	if len(task.Notes) != 2 || task.Notes[0].By != "slack:UME" || task.Notes[0].Text != mamori.CareReasonCheckTalk ||
		task.Notes[1].Text != "checkin_fine" || task.Status != mamori.CareAcked || task.Assignee != "slack:UHR" {
		t.Fatalf("task after two answers: %+v", task)
	}
	items := hrItems()[before:]
	var cards, thread []mamori.OutboxItem
	for _, it := range items {
		if it.Message.Ref == "care:1" {
			cards = append(cards, it)
		} else if it.Target.Thread == "care:1" {
			thread = append(thread, it)
		}
	}
	if len(cards)+len(thread) != len(items) || len(cards) != 2 || len(thread) != 2 {
		t.Fatalf("HR got %d items: %d card updates, %d in the thread; want 2 and 2", len(items), len(cards), len(thread))
	}
	// There is one card: each update replaces it in place.
	seen := 0
	for i, it := range r.sent.items {
		if it.Message.Ref == "care:1" {
			if (seen == 0) != (r.sent.prevs[i] == nil) {
				t.Fatalf("card %d of task 1: posted anew %v", seen, r.sent.prevs[i] == nil)
			}
			seen++
		}
	}
	last := cards[1].Message
	said := fmt.Sprint(last.Fields)
	if !strings.Contains(said, "話を聞いてほしい") || !strings.Contains(said, "「大丈夫」") || !strings.Contains(said, "2026-11-23") ||
		strings.Contains(said, "連絡記録") || !strings.Contains(thread[0].Message.Text, "<@UHR>") || !thread[0].Message.Urgent {
		t.Fatalf("card and thread after the answers: %+v\n%+v", last, thread)
	}
	// HR's own contact notes are counted apart from the reporter's answers.
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareNoteAction, "1", "電話した"); err != nil {
		t.Fatal(err)
	}
	r.advance(time.Minute)
	cs := r.sent.to(mamori.TargetChannel, "C0HR")
	if f := fmt.Sprint(cs[len(cs)-1].Fields); !strings.Contains(f, "1 件") {
		t.Fatalf("contacts after one note: %s", f)
	}
	if _, err := r.svc.CareAction(ctx, user("UHR"), mamori.CareCloseTask, "1", ""); err != nil {
		t.Fatal(err)
	}
	// +7 days: the task is closed, so the check-in asks afresh; a hard
	// answer opens a new task with a card of its own.
	r.advance(7 * 24 * time.Hour)
	c = checkins()
	if len(c) != 2 || len(c[1].Choices) != 3 || !strings.Contains(c[1].Text, "いかがですか") {
		t.Fatalf("check-in after the task closed: %+v", c[len(c)-1])
	}
	r.click("UME", "checkin:"+n+":hard")
	if ts := tasks(); len(ts) != 2 || ts[1].Status != mamori.CareOpen || ts[1].Reason != mamori.CareReasonCheckHard || len(ts[1].Notes) != 0 {
		t.Fatalf("tasks after a hard answer: %+v", ts)
	}
	if cs := r.sent.to(mamori.TargetChannel, "C0HR"); cs[len(cs)-1].Ref != "care:2" {
		t.Fatalf("no card for the new task: %+v", cs[len(cs)-1])
	}
	// The audit trail says a task was added to, never what was said.
	trail, _ := r.db.AuditTrail(ctx, n)
	added := 0
	for _, e := range trail {
		if e.Action == "care.task_added" {
			added++
			if e.Detail != "task=1" {
				t.Errorf("audit detail %q", e.Detail)
			}
		}
	}
	if added != 2 {
		t.Errorf("care.task_added audited %d times, want 2", added)
	}
}

// A check-in in English, while a task is open, is in English.
func TestCheckinOpenTaskEnglish(t *testing.T) {
	r := newRig(t)
	r.filed(nil)
	r.advance(71 * time.Hour)
	var c mamori.Message
	for _, m := range r.sent.to(mamori.TargetUser, "UME") {
		if m.Step == "checkin" {
			c = m
		}
	}
	p := r.svc.Policy
	if c.Text != p.T(mamori.JA, "checkin.open.text.open") {
		t.Fatalf("check-in: %+v", c)
	}
	for _, k := range []string{"checkin.open.header", "checkin.open.text.open", "checkin.open.text.acknowledged", "checkin.open.fine",
		"checkin.open.talk", "caretask.reason.checkin_fine", "caretask.said.entry", "caretask.again.assignee"} {
		if en := p.T(mamori.EN, k); en == k || en == p.T(mamori.JA, k) {
			t.Errorf("%s has no English", k)
		}
	}
}

// TestCheckinTalkSaysWhen: "I'd like to talk" at a check-in says by when
// HR will be in touch (the care task's due time, in working hours).
func TestCheckinTalkSaysWhen(t *testing.T) {
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	n := r.filed(nil)
	r.advance(71 * time.Hour) // Monday 09:00: the first check-in
	r.click("UME", "checkin:"+n+":talk")
	dms := r.sent.to(mamori.TargetUser, "UME")
	var said strings.Builder
	for _, m := range dms[max(0, len(dms)-2):] {
		said.WriteString(m.Text)
	}
	if !strings.Contains(said.String(), "ごろまでに連絡します") {
		t.Errorf("the answer to \"I'd like to talk\" does not say when:\n%s", said.String())
	}
}

// TestCheckinAnsweredInWords (found by a user trial): a check-in's
// button words typed answer it — HR hears, as the check-in promises —
// instead of being kept as a story or offered to the supervisors as the
// answer to their question; words that do not answer it are kept as
// before; the pointer goes once answered.
func TestCheckinAnsweredInWords(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	n := r.filed(nil)
	r.ask("USUP", n, "何時ごろでしたか？")
	r.advance(71 * time.Hour) // Monday 09:00: the first check-in
	hr0 := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "少しつらいです"})
	hr := r.sent.to(mamori.TargetChannel, "C0HR")[hr0:]
	if len(hr) == 0 || !strings.Contains(fmt.Sprint(hr), "少しつらい") {
		t.Fatalf("HR did not hear the typed answer: %+v", hr)
	}
	dms := r.sent.to(mamori.TargetUser, "UME")
	for _, m := range dms[len(dms)-2:] {
		for _, c := range m.Choices {
			if strings.HasPrefix(c.Value, "replydraft:") {
				t.Errorf("the check-in answer offered to the supervisors: %+v", m)
			}
		}
	}
	r.db.View(ctx, func(tx mamori.Tx) error {
		if c, err := tx.Conversation("slack:UME"); err == nil && (c.Checkin != "" || c.Draft != "") {
			t.Errorf("left in the conversation: %+v", c)
		}
		return nil
	})
	// A check-in that comes after "Answer" was pressed on a supervisor's
	// question: its words still answer the check-in, not the question.
	r.click("UME", "reply:"+n+":1")
	r.advance(7 * 24 * time.Hour) // the next check-in, a week on
	hr0 = len(r.sent.to(mamori.TargetChannel, "C0HR"))
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "少し落ち着いてきた"})
	if qs := r.kase(n).Decision.Questions; qs[0].Answer != "" {
		t.Errorf("the check-in answer went to the supervisor's question: %q", qs[0].Answer)
	}
	if hr := r.sent.to(mamori.TargetChannel, "C0HR")[hr0:]; len(hr) == 0 {
		t.Errorf("HR did not hear the second check-in's answer")
	}
	// Answered: what they type now is the answer "Answer" was pressed for.
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "15時ごろでした"})
	if qs := r.kase(n).Decision.Questions; qs[0].Answer != "15時ごろでした" {
		t.Errorf("the answer: %q", qs[0].Answer)
	}
}

// TestCheckinSentence (found by a user trial): a short sentence in answer
// to a check-in reads as the button it means ("まだ夜あまり眠れないです":
// a little hard, HR hears); one that means none is kept as at the menu.
func TestCheckinSentence(t *testing.T) {
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	r.filed(nil)
	r.advance(71 * time.Hour) // Monday 09:00: the first check-in
	hr0 := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "まだ夜あまり眠れないです"})
	if hr := r.sent.to(mamori.TargetChannel, "C0HR")[hr0:]; len(hr) == 0 || !strings.Contains(fmt.Sprint(hr), "少しつらい") {
		for _, m := range r.sent.to(mamori.TargetUser, "UME") {
			t.Logf("UME: %s %s %q", m.Step, m.Header, m.Text)
		}
		t.Fatalf("HR did not hear it: %+v", hr)
	}
	if c := r.conv(user("UME")); c.Checkin != "" || c.Draft != "" {
		t.Errorf("left in the conversation: %+v", c)
	}
	r.advance(7 * 24 * time.Hour) // the next check-in
	// Words that read as no answer (and may start a report) are kept, as
	// at the menu (nothing typed is lost), the check-in asked too; words of
	// danger are offered the SOS, not taken as "hard" (found by a review).
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "今週は店が忙しかったです"})
	if c := r.conv(user("UME")); c.Draft != "今週は店が忙しかったです" || c.Checkin == "" {
		t.Errorf("the conversation: %+v", c)
	}
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "お客様が包丁を持っています"})
	if m := r.last("UME"); !strings.Contains(m.Text, r.svc.Policy.T(mamori.JA, "sos.offer")) {
		t.Errorf("danger with a check-in waiting: %+v", m)
	}
	for typed, want := range map[string]string{"大丈夫じゃないです": "hard", "I'm doing okay now": "fine", "I took a day off and feel better": "fine",
		"I still can't sleep": "hard", "少し落ち着いてきました": "fine", "誰かと話したい": "talk", "今週は店が忙しかったです": "",
		"よく眠れるようになりました": "fine", "もう怖くないです": "fine", "不安はなくなりました": "fine", "no longer scared, thanks": "fine",
		// Worse, not better (found by a review).
		"夜眠れなくなりました": "hard", "食欲がなくなった": "hard", "前よりつらくなった": "hard", "また怖くなった": "hard", "I can no longer sleep": "hard",
		// Found by a second review.
		"もう辛くないです": "fine", "寝れるようになりました": "fine", "少しずつ眠れるようになってきました": "fine", "まだ落ち着きません": "hard",
		"なかなか不安がなくなりません": "hard", "眠れるようになりたい": "hard", "I'm fine, no need to worry": "fine", "I'm ok, dont worry": "fine",
		"I'm not sleeping well": "hard", "it's not getting better": "hard", "good, no need to call me": "fine",
		// Found by a third review: worse read as better, "don't" lost.
		"不安が消えません": "hard", "不安は消えないです": "hard", "落ち着いた生活ができません": "hard", "落ち着いたと思ったら、また眠れなくなりました": "hard",
		"早く眠れるようになってほしい": "hard", "眠れるようになったらいいのですが": "hard", "眠れているとは言えません": "hard",
		"怖くない、と言ったら嘘になります": "hard", "nothing is getting better, still scared": "hard", "i wish i was sleeping better": "",
		"i dont feel ok": "hard", "i dont feel good": "hard", "it doesnt feel ok": "hard",
		"i don't know what to do, i want to talk to someone": "talk"} {
		if got := flows.CheckinSense(typed); got != want {
			t.Errorf("%q reads as %q, want %q", typed, got, want)
		}
	}
}

// TestCheckinsSpaced (found by a user trial): two reports close together
// do not bring two "how are you?" at the same moment: the second waits a
// day.
func TestCheckinsSpaced(t *testing.T) {
	r := newRig(t)
	a := r.filed(nil)
	r.clock.Add(time.Minute)
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UME"), Value: mamori.StartReport})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	checkins := func() (ns []string) {
		for _, m := range r.sent.to(mamori.TargetUser, "UME") {
			if m.Step == "checkin" {
				ns = append(ns, m.Header)
			}
		}
		return ns
	}
	r.advance(71 * time.Hour) // Monday 09:00
	if got := checkins(); len(got) != 1 || !strings.Contains(got[0], a) {
		t.Fatalf("on the first day: %q", got)
	}
	r.advance(24 * time.Hour)
	if got := checkins(); len(got) != 2 || strings.Contains(got[1], a) {
		t.Fatalf("the next day: %q", got)
	}
}

// TestCheckinAfterAnswerPressed (found by a review): a check-in that came
// after "Answer" was pressed on a supervisor's question takes the
// sentence typed next; the question's answer stays empty.
func TestCheckinAfterAnswerPressed(t *testing.T) {
	r := newRig(t)
	n := r.filed(nil)
	r.ask("USUP", n, "何時ごろでしたか？")
	r.click("UME", "reply:"+n+":1")
	r.advance(71 * time.Hour) // the check-in, after the press
	hr0 := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "まだ夜眠れなくてつらいです"})
	if qs := r.kase(n).Decision.Questions; qs[0].Answer != "" {
		t.Errorf("the check-in's words answered the supervisor: %q", qs[0].Answer)
	}
	if hr := r.sent.to(mamori.TargetChannel, "C0HR")[hr0:]; len(hr) == 0 {
		t.Error("HR did not hear it")
	}
}

// TestCheckinWordsReachHR (found by a user trial): a check-in answered in
// a sentence while a report waits, paused before the check-in came, is
// the check-in's answer, not the report's; HR reads the words behind
// details (the card says there are some), the supervisor does not.
func TestCheckinWordsReachHR(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	n := r.filed(nil)
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UME"), Value: mamori.StartReport})
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "safety", Value: "safe"})
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "あとで"})
	r.advance(71 * time.Hour) // Monday 09:00: the first check-in
	const words = "あまり眠れてないです。しばらく仕事を休みたいです"
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: words})
	c := r.conv(user("UME"))
	if c.Flow != mamori.FlowReport || strings.Contains(c.Draft+c.Answers.Narrative+c.Answers.ForWhom, "眠れて") {
		t.Errorf("the answer went into the paused report: %+v", c)
	}
	var tasks []mamori.CareTask
	r.db.View(ctx, func(tx mamori.Tx) error {
		var err error
		tasks, err = tx.CareTasks(true)
		return err
	})
	// (The report asked to talk: its task takes the answer as a note.)
	if len(tasks) != 1 || len(tasks[0].Notes) != 1 || tasks[0].Notes[0].Words != words {
		t.Fatalf("care tasks: %+v", tasks)
	}
	card := r.sent.to(mamori.TargetChannel, "C0HR")
	if got := fmt.Sprint(card); strings.Contains(got, "眠れて") || !strings.Contains(got, "本人の言葉あり") {
		t.Errorf("HR's channel: %s", got)
	}
	hr, err := r.svc.CaseDetails(ctx, user("UHR"), n)
	if err != nil || !strings.Contains(fmt.Sprint(hr.Fields), words) {
		t.Errorf("HR's details: %+v %v", hr.Fields, err)
	}
	if sup, _ := r.svc.CaseDetails(ctx, user("USUP"), n); strings.Contains(fmt.Sprint(sup), "眠れて") {
		t.Error("the supervisor read the check-in's words")
	}
	// A shrug is asked which is closest — only that — and goes to HR with
	// the button pressed (found by a re-trial and a review).
	r.advance(7 * 24 * time.Hour)
	before := len(r.sent.to(mamori.TargetUser, "UME"))
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "ok i guess"})
	if ms := r.sent.to(mamori.TargetUser, "UME")[before:]; len(ms) != 1 || !slices.ContainsFunc(ms[0].Choices, func(c mamori.Choice) bool { return strings.HasSuffix(c.Value, ":hard") }) {
		t.Fatalf("after a shrug: %+v", ms)
	}
	r.click("UME", "checkin:"+n+":hard")
	r.db.View(ctx, func(tx mamori.Tx) error {
		var err error
		tasks, err = tx.CareTasks(true)
		return err
	})
	if notes := tasks[0].Notes; notes[len(notes)-1].Words != "ok i guess" {
		t.Errorf("the shrug's words: %+v", notes)
	}
	if c := r.conv(user("UME")); c.Draft != "" || c.CheckinWords != "" {
		t.Errorf("left: %+v", c)
	}
}

// TestCheckinWordsAtTheMenu (found by a third review): words kept at the
// menu since the check-in came, then its button pressed, are the
// check-in's — for HR with it, not a report's.
func TestCheckinWordsAtTheMenu(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	n := r.filed(nil)
	r.advance(71 * time.Hour) // Monday 09:00: the first check-in
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "家族に心配をかけている気がします"})
	r.click("UME", "checkin:"+n+":hard")
	var tasks []mamori.CareTask
	r.db.View(ctx, func(tx mamori.Tx) error {
		var err error
		tasks, err = tx.CareTasks(true)
		return err
	})
	if notes := tasks[0].Notes; notes[len(notes)-1].Words != "家族に心配をかけている気がします" {
		t.Errorf("the words typed before the button: %+v", notes[len(notes)-1])
	}
	if c := r.conv(user("UME")); strings.Contains(c.Draft, "家族") || len(c.DraftLog) != 0 {
		t.Errorf("left for a report: %+v", c)
	}
}

// TestCheckinRounds (found by a re-trial and a review): two rounds held
// back to the same working day (a weekend, holidays) ask once; rounds a
// few hours apart by configuration each ask when due.
func TestCheckinRounds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		days    int // from Friday 2026-11-20 10:00 in Tokyo
		offsets []time.Duration
		after   time.Duration
	}{
		{"held back to Monday", 0, []time.Duration{24 * time.Hour, 48 * time.Hour, 30 * 24 * time.Hour}, 4 * 24 * time.Hour},
		{"hours apart on a Tuesday", 4, []time.Duration{4 * time.Hour, 24 * time.Hour, 30 * 24 * time.Hour}, 5 * time.Hour},
	} {
		r := newRig(t)
		r.clock.Add(time.Duration(tc.days) * 24 * time.Hour)
		r.svc.Care.Offsets = tc.offsets
		r.filed(nil)
		for range int(tc.after / time.Hour) { // an hour at a time, as the worker runs
			r.advance(time.Hour)
		}
		n := 0
		for _, m := range r.sent.to(mamori.TargetUser, "UME") {
			if m.Step == "checkin" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d check-ins, want 1", tc.name, n)
		}
	}
}

// TestConsultWordsNotOfferedToTheCase (found by reading the change
// again): words typed in a question to HR, when a supervisor's question
// about a report came meanwhile, are offered for the question to HR
// only — never as the answer to the case, which its supervisors read.
func TestConsultWordsNotOfferedToTheCase(t *testing.T) {
	r := newRig(t)
	n := r.filed(nil)
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UME"), Value: mamori.StartConsult})
	r.clock.Add(time.Minute)
	r.ask("USUP", n, "何時ごろでしたか？")
	r.do(mamori.Input{Kind: mamori.InputText, User: user("UME"), Text: "上司との関係がつらくて眠れません"})
	if c := r.conv(user("UME")); c.ReplyDraft != "" || c.Flow != mamori.FlowConsult {
		t.Errorf("the question to HR's words offered to the case: %+v", c)
	}
}
