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
		if got := (flows.Care{}).WorkingTime(at(tt.in), tokyo); !got.Equal(at(tt.want)) {
			t.Errorf("%s: %s, want %s", tt.in, got.Format("Mon 2006-01-02 15:04"), tt.want)
		}
	}
	if got := (flows.Care{StartHour: 10, EndHour: 16}).WorkingTime(at("2026-11-25 16:30"), tokyo); !got.Equal(at("2026-11-26 10:00")) {
		t.Errorf("custom hours: %s", got)
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
	if len(got) != 1 || !strings.Contains(got[0].Header, n) || len(got[0].Choices) != 3 {
		t.Fatalf("check-ins by Monday 9:00: %+v", got)
	}
	hr0 := len(r.sent.to(mamori.TargetChannel, "C0HR"))
	// Not fine: HR gets a care task; the reporter is thanked and shown care.
	r.click("UME", "checkin:"+n+":hard")
	hr := r.sent.to(mamori.TargetChannel, "C0HR")
	if len(hr) != hr0+1 || !strings.HasPrefix(hr[hr0].Ref, "care:") || !strings.Contains(fmt.Sprint(hr[hr0].Fields), "<@UME>") ||
		!strings.Contains(fmt.Sprint(hr[hr0].Fields), "少しつらい") || strings.Contains(fmt.Sprint(hr[hr0]), "秘密") {
		t.Fatalf("HR care task: %+v", hr[hr0:])
	}
	dms := r.sent.to(mamori.TargetUser, "UME")
	if len(dms[len(dms)-1].Fields) == 0 {
		t.Fatal("no care resources after a hard answer")
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
