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

func programmes() []flows.Programme {
	return []flows.Programme{
		{ID: "basics", Name: mamori.Text{JA: "カスハラ基礎研修", EN: "Harassment basics"}, Link: "https://lms.example/basics",
			Everyone: true, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Every: 180 * 24 * time.Hour,
			Due: 14 * 24 * time.Hour, NudgeEvery: 72 * time.Hour},
		{ID: "response", Name: mamori.Text{JA: "カスハラ対応研修", EN: "Responding to harassment"},
			Start: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Response: true},
	}
}

func TestTraining(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	start := func() {
		r.svc.Training = programmes()
		if err := r.svc.ScheduleTraining(ctx); err != nil {
			t.Fatal(err)
		}
	}
	advance := r.advance
	reminders := func(id string) []mamori.Message {
		var out []mamori.Message
		for _, m := range r.sent.to(mamori.TargetUser, id) {
			if strings.Contains(m.Ref, "training:basics:") {
				out = append(out, m)
			}
		}
		return out
	}
	start()
	advance(time.Hour) // a start lets an hour pass before the day's pass
	for _, id := range []string{"USUP", "UME", "UOTHER"} {
		got := reminders(id)
		if len(got) != 1 || !strings.Contains(got[0].Header, "カスハラ基礎研修") || !strings.Contains(got[0].Text, "2026-12-04") ||
			got[0].Choices[0].Value != "done:basics:1:"+id || got[0].Fields[0].Value != "https://lms.example/basics" {
			t.Fatalf("reminder to %s: %+v", id, got)
		}
	}
	progress := func() mamori.Message {
		ms := r.sent.to(mamori.TargetChannel, "C0HR")
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.HasPrefix(ms[i].Ref, "progress:training:basics:1:") {
				return ms[i]
			}
		}
		t.Fatal("no progress card")
		return mamori.Message{}
	}
	advance(time.Minute)
	if p := progress(); !strings.Contains(p.Text, "送り終えました") || !strings.Contains(fmt.Sprint(p.Fields), "{送信済み 3}") {
		t.Fatalf("progress: %+v", p)
	}
	// A restart and another pass assign no one twice.
	r.restart()
	start()
	advance(time.Hour)
	if n := len(reminders("UME")); n != 1 {
		t.Fatalf("%d reminders after a restart", n)
	}
	// Done: only the person assigned can say so; the reminder is replaced.
	if err := r.svc.Handle(ctx, mamori.Input{Kind: mamori.InputChoice, User: user("UOTHER"), Step: "training", Value: "done:basics:1:UME"}); !errors.Is(err, mamori.ErrForbidden) {
		t.Fatalf("someone else's done: %v", err)
	}
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "training", Value: "done:basics:1:UME", Delivery: "a1"})
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UME"), Step: "training", Value: "done:basics:1:UME", Delivery: "a1"})
	advance(0)
	got := reminders("UME")
	if len(got) != 2 || got[1].Ref != got[0].Ref || !strings.Contains(got[1].Text, "記録しました") || len(got[1].Choices) != 0 {
		t.Fatalf("after done: %+v", got)
	}
	// Overdue from 2026-12-04 10:00: nudges in working hours, every 3 days.
	advance(14 * 24 * time.Hour) // Friday 2026-12-04 11:00
	if got := reminders("UOTHER"); len(got) != 2 || !strings.Contains(got[1].Header, "期限が過ぎています") {
		t.Fatalf("nudge: %+v", got)
	}
	if n := len(reminders("UME")); n != 2 {
		t.Fatalf("someone done was nudged: %d", n)
	}
	advance(24 * time.Hour) // Saturday: no pass at all
	if n := len(reminders("UOTHER")); n != 2 {
		t.Fatalf("nudged on a Saturday: %d", n)
	}
	advance(48 * time.Hour) // Monday 2026-12-07 11:00, 3 days on
	if n := len(reminders("UOTHER")); n != 3 {
		t.Fatalf("no nudge after 3 days: %d", n)
	}
	advance(24 * time.Hour)
	if n := len(reminders("UOTHER")); n != 3 {
		t.Fatalf("nudged again within 3 days: %d", n)
	}
	// Someone who joins later gets it, with the full period.
	r.svc.Org.Departments[0].Members = append(r.svc.Org.Departments[0].Members, "UNEW")
	advance(24 * time.Hour)
	if got := reminders("UNEW"); len(got) != 1 || !strings.Contains(got[0].Text, "2026-12-23") {
		t.Fatalf("newcomer: %+v", got)
	}
	rows, err := r.svc.TrainingReport(ctx, nil, mamori.JA)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Assigned != 4 || rows[0].Done != 1 || rows[0].Overdue != 2 || rows[0].Department != "店舗運営部" {
		t.Fatalf("report: %+v", rows)
	}
	home, err := r.svc.Home(ctx, user("USUP"))
	if err != nil || !strings.Contains(fmt.Sprint(home.Fields), "1 / 4 人 受講済み（期限切れ 2 人）") {
		t.Fatalf("supervisor's home: %v %+v", err, home.Fields)
	}
	// The next round, 180 days on, reminds everyone again.
	advance(160 * 24 * time.Hour)
	if got := reminders("UME"); len(got) != 3 || !strings.Contains(got[2].Choices[0].Value, ":2:UME") {
		t.Fatalf("round 2: %+v", got)
	}
}

func TestRecommendTraining(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.svc.Training = programmes()
	n := r.filed(nil)
	if _, err := r.svc.Judge(ctx, user("USUP"), n, mamori.Decision{Validity: "invalid", Means: "unacceptable", Outcome: mamori.OutcomeKasuhara}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var rec *mamori.Message
	for _, m := range r.sent.to(mamori.TargetChannel, "C0HR") {
		if len(m.Choices) > 0 && m.Choices[0].Value == mamori.CardTrain+":"+n {
			rec = &m
		}
	}
	if rec == nil || !strings.Contains(rec.Text, "店舗運営部") || !strings.Contains(rec.Text, "カスハラ対応研修") {
		t.Fatalf("no recommendation in the HR channel: %+v", r.sent.to(mamori.TargetChannel, "C0HR"))
	}
	if _, err := r.svc.AssignTraining(ctx, user("USUP"), n); !errors.Is(err, mamori.ErrForbidden) {
		t.Fatalf("supervisor assigned: %v", err)
	}
	if !strings.Contains(rec.Note, "報告した本人には割り当てません") {
		t.Fatalf("the recommendation does not say the reporter is left out: %+v", rec)
	}
	// The reporter (UME) is not assigned it: that would read as blame.
	m, err := r.svc.AssignTraining(ctx, user("UHR"), n)
	if err != nil || !strings.Contains(m.Text, "2 人") {
		t.Fatalf("assign: %v %+v", err, m)
	}
	if m, err := r.svc.AssignTraining(ctx, user("UHR"), n); err != nil || !strings.Contains(m.Text, "0 人") {
		t.Fatalf("assign again: %v %+v", err, m)
	}
	if _, err := r.worker.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"USUP", "UOTHER"} {
		ms := r.sent.to(mamori.TargetUser, id)
		if last := ms[len(ms)-1]; !strings.Contains(last.Header, "カスハラ対応研修") || last.Choices[0].Value != "done:response:"+n+":1:"+id {
			t.Fatalf("assignment to %s: %+v", id, last)
		}
	}
	for _, m := range r.sent.to(mamori.TargetUser, "UME") {
		if strings.Contains(m.Header, "カスハラ対応研修") || strings.Contains(m.Ref, "training:") {
			t.Fatalf("the reporter was assigned the training: %+v", m)
		}
	}
	r.do(mamori.Input{Kind: mamori.InputChoice, User: user("UOTHER"), Step: "training", Value: "done:response:" + n + ":1:UOTHER"})
	rows, err := r.svc.TrainingReport(ctx, []string{"store"}, mamori.EN)
	if err != nil || len(rows) != 1 || rows[0].Name != "Responding to harassment ("+n+")" || rows[0].Done != 1 || rows[0].Assigned != 2 {
		t.Fatalf("report: %v %+v", err, rows)
	}
	// A second case of the department judged カスハラ: assigned to those who
	// have not done it yet only (found by a user trial: USUP got it twice).
	r.do(mamori.Input{Kind: mamori.InputStart, User: user("UME"), Value: mamori.StartReport})
	r.reportToSummary("UME")
	r.click("UME", "submit")
	n2 := "KH-2026-0002"
	if m, err := r.svc.AssignTraining(ctx, user("UHR"), n2); err != nil || !strings.Contains(m.Text, "1 人") {
		t.Fatalf("assign for a second case: %v %+v", err, m)
	}
}

// A user id with colons (Teams "29:…") can still mark its training done.
func TestTrainingDoneColonID(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.svc.Org.Departments[0].Members = append(r.svc.Org.Departments[0].Members, "29:1abc")
	r.svc.Training = programmes()
	if err := r.svc.ScheduleTraining(ctx); err != nil {
		t.Fatal(err)
	}
	r.advance(time.Hour) // the start's grace
	ms := r.sent.to(mamori.TargetUser, "29:1abc")
	if len(ms) != 1 || ms[0].Choices[0].Value != "done:basics:1:29:1abc" {
		t.Fatalf("reminder: %+v", ms)
	}
	if err := r.svc.Handle(ctx, mamori.Input{Kind: mamori.InputChoice, User: user("29:1abc"), Step: "training", Value: ms[0].Choices[0].Value}); err != nil {
		t.Fatal(err)
	}
	rows, _ := r.svc.TrainingReport(ctx, nil, mamori.JA)
	if len(rows) != 1 || rows[0].Done != 1 {
		t.Fatalf("report: %+v", rows)
	}
}

// The reporter is recognised by email too, when the directory lists
// people by email.
func TestRecommendTrainingReporterByEmail(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.svc.Training = programmes()
	r.svc.Org.Departments[0].Members = []string{"Me@Example.co.jp", "UOTHER"}
	me := user("UMEID")
	me.Email = "me@example.co.jp"
	k := mamori.Case{Number: "KH-2026-0042", Kind: mamori.KindReport, Reporter: me, Department: "store",
		Status: mamori.StatusNew, Created: r.clock.Now(), Updated: r.clock.Now()}
	if err := r.db.Update(ctx, func(tx mamori.Tx) error { return tx.InsertCase(k) }); err != nil {
		t.Fatal(err)
	}
	m, err := r.svc.AssignTraining(ctx, user("UHR"), k.Number)
	if err != nil || !strings.Contains(m.Text, "2 人") { // USUP and UOTHER
		t.Fatalf("assign: %v %+v", err, m)
	}
	r.advance(0)
	if ms := r.sent.to(mamori.TargetUser, "Me@Example.co.jp"); len(ms) != 0 {
		t.Fatalf("the reporter, listed by email, was assigned it: %+v", ms)
	}
}

// Training reminders and nudges are in the person's language: the one of
// their conversation with Mamori, else of their latest report, else the
// directory's, else the organisation's.
func TestTrainingLanguage(t *testing.T) {
	ctx := context.Background()
	r := newRig(t) // Friday 2026-11-20 10:00 in Tokyo
	en := func(id string) mamori.User { u := user(id); u.Lang = mamori.EN; return u }
	r.svc.Org.Departments[0].Members = append(r.svc.Org.Departments[0].Members, "UNEW", "bob@example.co.jp")
	r.svc.Org.Langs = map[string]mamori.Lang{"UOTHER": mamori.EN, "BOB@example.co.jp": mamori.EN}
	// USUP is in the middle of a report, in English.
	r.do(mamori.Input{Kind: mamori.InputStart, Value: mamori.StartReport, User: en("USUP")})
	r.svc.Training = programmes()
	if err := r.svc.ScheduleTraining(ctx); err != nil {
		t.Fatal(err)
	}
	r.advance(time.Hour) // the start's grace
	reminder := func(id string) mamori.Message {
		t.Helper()
		ms := r.sent.to(mamori.TargetUser, id)
		for i := len(ms) - 1; i >= 0; i-- {
			if strings.Contains(ms[i].Ref, "training:basics:") {
				return ms[i]
			}
		}
		t.Fatalf("no training reminder to %s", id)
		return mamori.Message{}
	}
	for id, want := range map[string]string{
		"USUP":              "Training: Harassment basics", // their conversation
		"UOTHER":            "Training: Harassment basics", // the directory, by id
		"bob@example.co.jp": "Training: Harassment basics", // the directory, by email
		"UME":               "研修のお知らせ：カスハラ基礎研修",            // the organisation's
		"UNEW":              "研修のお知らせ：カスハラ基礎研修",
	} {
		if got := reminder(id); got.Header != want || (want[0] == 'T') != strings.Contains(got.Text, "Please complete") {
			t.Errorf("reminder to %s: %q / %q, want %q", id, got.Header, got.Text, want)
		}
	}
	// UME reports something in English meanwhile, and UOTHER's directory
	// entry goes: the nudges follow.
	k := mamori.Case{Number: "KH-2026-0042", Kind: mamori.KindReport, Reporter: en("UME"), Department: "store",
		Status: mamori.StatusNew, Created: r.clock.Now(), Updated: r.clock.Now()}
	if err := r.db.Update(ctx, func(tx mamori.Tx) error { return tx.InsertCase(k) }); err != nil {
		t.Fatal(err)
	}
	delete(r.svc.Org.Langs, "UOTHER")
	r.advance(17 * 24 * time.Hour) // Monday 7 December: overdue, in working hours
	nudge := func(id string) mamori.Message {
		t.Helper()
		ms := r.sent.to(mamori.TargetUser, id)
		if m := ms[len(ms)-1]; strings.Contains(m.Ref, "training:basics:") {
			return m
		}
		t.Fatalf("no nudge to %s: %+v", id, ms[len(ms)-1])
		return mamori.Message{}
	}
	if m := nudge("UME"); m.Header != "Training overdue: Harassment basics" {
		t.Errorf("nudge to UME, who last reported in English: %q", m.Header)
	}
	if m := nudge("UOTHER"); m.Header != "研修の期限が過ぎています：カスハラ基礎研修" {
		t.Errorf("nudge to UOTHER, no longer listed as English: %q", m.Header)
	}
}
